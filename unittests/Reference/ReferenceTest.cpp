//===- ReferenceTest.cpp - the fp64 reference on hand-computed cases ------===//

#include "moe/Reference/Reference.h"
#include "moe/Weights/HfWeights.h"

#include "llvm/Support/Error.h"
#include "gtest/gtest.h"

#include <cmath>

using namespace moe;
using namespace moe::ref;

namespace {

HostTensor tensor(std::vector<int64_t> shape, std::vector<float> data) {
  return HostTensor{std::move(shape), std::move(data)};
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double silu(double v) { return v * sigmoid(v); }

/// Runs the reference and fails the test on an error.
ReferenceResult run(const LayerConfig &cfg, const TensorMap &hf,
                    const HostTensor &x, double tolerance = 1e-6) {
  auto result = forward(cfg, hf, x, tolerance);
  if (!result) {
    ADD_FAILURE() << llvm::toString(result.takeError());
    return {};
  }
  return std::move(*result);
}

std::string errorOf(const LayerConfig &cfg, const TensorMap &hf,
                    const HostTensor &x) {
  auto result = forward(cfg, hf, x);
  if (result)
    return "";
  return llvm::toString(result.takeError());
}

LayerConfig baseConfig(const std::string &family, int64_t h, int64_t e,
                       int64_t i, int64_t k) {
  LayerConfig cfg;
  cfg.family = family;
  cfg.hidden = h;
  cfg.numExperts = e;
  cfg.intermediate = i;
  cfg.topK = k;
  return cfg;
}

// (a) One token, H = 2, E = 2, K = 1, softmax, Mixtral names.
TEST(Reference, HandComputedSoftmaxTop1) {
  LayerConfig cfg = baseConfig("mixtral", 2, 2, 1, 1);
  const std::string p = "model.layers.0.block_sparse_moe.";
  TensorMap hf;
  hf[p + "gate.weight"] = tensor({2, 2}, {1, 0, 0, 1});
  hf[p + "experts.0.w1.weight"] = tensor({1, 2}, {0.5f, 0.5f});
  hf[p + "experts.0.w3.weight"] = tensor({1, 2}, {1, 1});
  hf[p + "experts.0.w2.weight"] = tensor({2, 1}, {1, 1});
  hf[p + "experts.1.w1.weight"] = tensor({1, 2}, {1, 1});
  hf[p + "experts.1.w3.weight"] = tensor({1, 2}, {1, 0});
  hf[p + "experts.1.w2.weight"] = tensor({2, 1}, {1, 2});
  // logits [1, 2]: expert 1 with p = e^2 / (e + e^2) = 0.7310585786300049;
  // its gate is 3 and up 1, silu(3) = 2.8577223804672998; down [1, 2].
  ReferenceResult r = run(cfg, hf, tensor({1, 2}, {1, 2}));
  ASSERT_EQ(r.output.size(), 2u);
  EXPECT_NEAR(r.output[0], 2.0891624615835784, 1e-14);
  EXPECT_NEAR(r.output[1], 4.178324923167157, 1e-14);
  EXPECT_FALSE(r.nearTie[0]);

  // With sum normalization the single weight becomes 1.
  cfg.normalization = Normalization::Sum;
  r = run(cfg, hf, tensor({1, 2}, {1, 2}));
  EXPECT_NEAR(r.output[0], 2.8577223804672998, 1e-14);
  EXPECT_NEAR(r.output[1], 2 * 2.8577223804672998, 1e-14);
}

/// Qwen3-MoE, H = 2, E = 3, top-1 with sum normalization (w = 1): router
/// rows [1, 0], [0, 1], [-1, -1]; expert e writes (e + 1) * act to output
/// 0, so the output names it.
LayerConfig threeExperts(TensorMap &hf) {
  LayerConfig cfg = baseConfig("qwen3_moe", 2, 3, 1, 1);
  cfg.normalization = Normalization::Sum;
  const std::string p = "model.layers.0.mlp.";
  hf[p + "gate.weight"] = tensor({3, 2}, {1, 0, 0, 1, -1, -1});
  for (int e = 0; e < 3; ++e) {
    std::string x = p + "experts." + std::to_string(e) + ".";
    hf[x + "gate_proj.weight"] = tensor({1, 2}, {1, 1});
    hf[x + "up_proj.weight"] = tensor({1, 2}, {1, 1});
    hf[x + "down_proj.weight"] = tensor({2, 1}, {float(e + 1), 0});
  }
  return cfg;
}

// (b) Equal router logits: the lower expert index wins, flagged nearTie.
TEST(Reference, TiePicksLowerIndex) {
  TensorMap hf;
  LayerConfig cfg = threeExperts(hf);
  // Token 0: logits [1, 1, -2] tie; token 1: [1, 0, -1]; token 2: [0, 1, -1].
  HostTensor x = tensor({3, 2}, {1, 1, 1, 0, 0, 1});
  ReferenceResult r = run(cfg, hf, x);
  double act0 = silu(2) * 2, act1 = silu(1) * 1;
  EXPECT_NEAR(r.output[0], 1 * act0, 1e-14); // expert 0, not 1
  EXPECT_NEAR(r.output[2], 1 * act1, 1e-14);
  EXPECT_NEAR(r.output[4], 2 * act1, 1e-14);
  EXPECT_EQ(r.nearTie, (std::vector<bool>{true, false, false}));

  // A margin of 1 is a near tie under a tolerance of 2; an exact tie is not
  // below a tolerance of 0.
  EXPECT_EQ(run(cfg, hf, x, 2.0).nearTie,
            (std::vector<bool>{true, true, true}));
  EXPECT_EQ(run(cfg, hf, x, 0.0).nearTie,
            (std::vector<bool>{false, false, false}));
}

// Routing only (a profile's active experts): the same choices and near
// ties, per-expert token counts, and no FFN output.
TEST(Reference, RoutingOnly) {
  TensorMap hf;
  LayerConfig cfg = threeExperts(hf);
  HostTensor x = tensor({3, 2}, {1, 1, 1, 0, 0, 1});
  ReferenceResult full = run(cfg, hf, x);
  auto routed = forward(cfg, hf, x, 1e-6, /*routingOnly=*/true);
  ASSERT_TRUE(bool(routed)) << llvm::toString(routed.takeError());
  EXPECT_EQ(routed->expertTokens, (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(routed->expertTokens, full.expertTokens);
  EXPECT_EQ(routed->nearTie, full.nearTie);
  EXPECT_EQ(routed->output, std::vector<double>(6, 0.0));
  EXPECT_NE(full.output, std::vector<double>(6, 0.0));
}

// (c) DeepSeek-V3: dropped groups score 0.0, which beats a kept expert whose
// biased score is negative.
TEST(Reference, DeepSeekV3MaskedFillZero) {
  LayerConfig cfg = baseConfig("deepseek_v3", 1, 4, 1, 2);
  cfg.scoring = Scoring::Sigmoid;
  cfg.correctionBias = true;
  cfg.nGroup = 2;
  cfg.topkGroup = 1;
  cfg.groupScore = GroupScore::Top2Sum;
  cfg.normalization = Normalization::Sum;
  cfg.normEpsilon = 1e-20;
  cfg.scalingFactor = 2.5;
  const std::string p = "model.layers.0.mlp.";
  TensorMap hf;
  // Router logits chosen so that s = sigmoid(logit) = [0.9, 0.5, 0.2, 0.2].
  std::vector<float> logits;
  for (double s : {0.9, 0.5, 0.2, 0.2})
    logits.push_back(static_cast<float>(std::log(s / (1 - s))));
  hf[p + "gate.weight"] = tensor({4, 1}, logits);
  // Biased c = [0.9, -0.3, 0.1, 0.1]: group 0 scores 0.6, group 1 0.2, so
  // group 1 is dropped and its experts get 0.0 > -0.3.
  hf[p + "gate.e_score_correction_bias"] =
      tensor({4}, {0.0f, -0.8f, -0.1f, -0.1f});
  for (int e = 0; e < 4; ++e) {
    std::string x = p + "experts." + std::to_string(e) + ".";
    hf[x + "gate_proj.weight"] = tensor({1, 1}, {1});
    hf[x + "up_proj.weight"] = tensor({1, 1}, {1});
    hf[x + "down_proj.weight"] = tensor({1, 1}, {float(std::pow(10, e))});
  }
  ReferenceResult r = run(cfg, hf, tensor({1, 1}, {1}));
  ASSERT_EQ(r.output.size(), 1u);
  double s[4];
  for (int e = 0; e < 4; ++e)
    s[e] = sigmoid(logits[e]);
  // Experts {0, 2} (2 before 3 on the 0.0 tie), weighted by the unbiased
  // scores.
  double chosen =
      2.5 * silu(1) * (s[0] * 1 + s[2] * 100) / (s[0] + s[2] + 1e-20);
  // What -inf masking (DeepSeek's own inference code) would pick: {0, 1}.
  double withInf =
      2.5 * silu(1) * (s[0] * 1 + s[1] * 10) / (s[0] + s[1] + 1e-20);
  EXPECT_NEAR(r.output[0], chosen, 1e-12 * chosen);
  EXPECT_GT(std::fabs(r.output[0] - withInf), 1.0);
  // Experts 2 and 3 both score 0.0 and only one is kept: a tie.
  EXPECT_TRUE(r.nearTie[0]);

  // Group scores within the tolerance are a near tie too. Biased c = [0.9,
  // 0.1, 0.5, 0.5]: both groups score 1.0 up to float rounding, and either
  // way the kept group's two experts beat the 0.0 of the other by 0.1.
  hf[p + "gate.e_score_correction_bias"] =
      tensor({4}, {0.0f, -0.4f, 0.3f, 0.3f});
  EXPECT_TRUE(run(cfg, hf, tensor({1, 1}, {1}), 1e-6).nearTie[0]);
  EXPECT_FALSE(run(cfg, hf, tensor({1, 1}, {1}), 1e-12).nearTie[0]);
}

// (d) Llama 4 scales the expert input; for a nonlinear FFN that differs
// from scaling the output.
TEST(Reference, Llama4InputScaling) {
  LayerConfig cfg = baseConfig("llama4_text", 1, 2, 1, 1);
  cfg.scoring = Scoring::SigmoidAfterTopK;
  cfg.weightOnInput = true;
  const std::string p = "model.layers.0.feed_forward.";
  TensorMap hf;
  hf[p + "router.weight"] = tensor({2, 1}, {1, -1});
  // [E, H, 2I]: gate column then up column, both 1; down [E, I, H] = 1.
  hf[p + "experts.gate_up_proj"] = tensor({2, 1, 2}, {1, 1, 1, 1});
  hf[p + "experts.down_proj"] = tensor({2, 1, 1}, {1, 1});
  HostTensor x = tensor({1, 1}, {2});
  double w = sigmoid(2); // expert 0, logit 2
  double onInput = silu(w * 2) * (w * 2);
  double onOutput = w * silu(2) * 2;
  ReferenceResult r = run(cfg, hf, x);
  EXPECT_NEAR(r.output[0], onInput, 1e-14);
  cfg.weightOnInput = false;
  r = run(cfg, hf, x);
  EXPECT_NEAR(r.output[0], onOutput, 1e-14);
  EXPECT_GT(std::fabs(onInput - onOutput), 0.1);
}

// (e) p-norm with p = 2 (DBRX's moe_normalize_expert_weights).
TEST(Reference, PNorm2) {
  LayerConfig cfg = baseConfig("dbrx", 1, 3, 1, 2);
  cfg.normalization = Normalization::PNorm;
  cfg.normP = 2.0;
  const std::string p = "transformer.blocks.0.ffn.";
  TensorMap hf;
  hf[p + "router.layer.weight"] = tensor({3, 1}, {1, 2, 3});
  hf[p + "experts.mlp.w1"] = tensor({3, 1}, {1, 1, 1});
  hf[p + "experts.mlp.v1"] = tensor({3, 1}, {1, 1, 1});
  hf[p + "experts.mlp.w2"] = tensor({3, 1}, {1, 10, 100});
  ReferenceResult r = run(cfg, hf, tensor({1, 1}, {1}));
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  double p2 = std::exp(3.0) / z, p1 = std::exp(2.0) / z;
  double norm = std::sqrt(p2 * p2 + p1 * p1);
  EXPECT_NEAR(r.output[0], silu(1) * (p2 / norm * 100 + p1 / norm * 10), 1e-12);
}

// (f) relu experts (moe-opt layout, gate_up holds the up rows only), with
// biases.
TEST(Reference, ReluExperts) {
  LayerConfig cfg = baseConfig("moe-opt", 2, 2, 2, 1);
  cfg.activation = Activation::Relu;
  cfg.expertBias = true;
  cfg.normalization = Normalization::Sum;
  const std::string p = "model.layers.0.moe.";
  TensorMap hf;
  hf[p + "router_weight"] = tensor({2, 2}, {0, 0, 1, 1}); // expert 1
  hf[p + "gate_up"] = tensor({2, 2, 2}, {9, 9, 9, 9, /*e1:*/ 1, 2, -3, 1});
  hf[p + "gate_up_bias"] = tensor({2, 2}, {0, 0, 0.5f, 0.25f});
  hf[p + "down"] = tensor({2, 2, 2}, {9, 9, 9, 9, /*e1:*/ 1, 10, 2, 20});
  hf[p + "down_bias"] = tensor({2, 2}, {0, 0, 0.125f, -1});
  // x = [1, 1]: up = [1 + 2 + 0.5, -3 + 1 + 0.25] = [3.5, -1.75] -> relu
  // [3.5, 0]; down: [3.5 * 1 + 0.125, 3.5 * 2 - 1].
  ReferenceResult r = run(cfg, hf, tensor({1, 2}, {1, 1}));
  EXPECT_NEAR(r.output[0], 3.625, 1e-14);
  EXPECT_NEAR(r.output[1], 6.0, 1e-14);
}

// gpt-oss reads its interleaved gate/up columns and clamps as transformers
// does (the reference's own indexing, not the packer's).
TEST(Reference, GptOssInterleavedSwiglu) {
  LayerConfig cfg = baseConfig("gpt_oss", 1, 1, 2, 1);
  cfg.scoring = Scoring::SoftmaxAfterTopK;
  cfg.routerBias = true;
  cfg.expertBias = true;
  cfg.activation = Activation::SwigluOai;
  const std::string p = "model.layers.0.mlp.";
  TensorMap hf;
  hf[p + "router.weight"] = tensor({1, 1}, {0.5f});
  hf[p + "router.bias"] = tensor({1}, {0.25f});
  // Columns [gate0, up0, gate1, up1].
  hf[p + "experts.gate_up_proj"] = tensor({1, 1, 4}, {2, 3, 10, -9});
  hf[p + "experts.gate_up_proj_bias"] = tensor({1, 4}, {0.5f, 0, 0, 0});
  hf[p + "experts.down_proj"] = tensor({1, 2, 1}, {1, 2});
  hf[p + "experts.down_proj_bias"] = tensor({1, 1}, {0.25f});
  ReferenceResult r = run(cfg, hf, tensor({1, 1}, {1}));
  // Unit 0: gate 2.5, up 3. Unit 1: gate 10 -> 7, up -9 -> -7.
  double a0 = (3 + 1) * 2.5 * sigmoid(1.702 * 2.5);
  double a1 = (-7 + 1) * 7 * sigmoid(1.702 * 7);
  EXPECT_NEAR(r.output[0], a0 * 1 + a1 * 2 + 0.25, 1e-12);
}

TEST(Reference, SharedExpertWithSigmoidGate) {
  LayerConfig cfg = baseConfig("qwen2_moe", 1, 2, 1, 1);
  cfg.sharedIntermediate = 1;
  cfg.sharedSigmoidGate = true;
  const std::string p = "model.layers.0.mlp.";
  TensorMap hf;
  hf[p + "gate.weight"] = tensor({2, 1}, {1, 0});
  for (int e = 0; e < 2; ++e) {
    std::string x = p + "experts." + std::to_string(e) + ".";
    hf[x + "gate_proj.weight"] = tensor({1, 1}, {1});
    hf[x + "up_proj.weight"] = tensor({1, 1}, {1});
    hf[x + "down_proj.weight"] = tensor({1, 1}, {1});
  }
  hf[p + "shared_expert.gate_proj.weight"] = tensor({1, 1}, {2});
  hf[p + "shared_expert.up_proj.weight"] = tensor({1, 1}, {3});
  hf[p + "shared_expert.down_proj.weight"] = tensor({1, 1}, {4});
  hf[p + "shared_expert_gate.weight"] = tensor({1, 1}, {-0.5f});
  ReferenceResult r = run(cfg, hf, tensor({1, 1}, {1}));
  double w = std::exp(1.0) / (std::exp(1.0) + 1.0);
  double routed = w * silu(1);
  double shared = 4 * silu(2) * 3 * sigmoid(-0.5);
  EXPECT_NEAR(r.output[0], routed + shared, 1e-13);
}

TEST(Reference, Errors) {
  LayerConfig cfg = baseConfig("mixtral", 2, 2, 1, 1);
  TensorMap hf = weights::randomHfWeights(cfg, 1);
  HostTensor x = weights::randomInput(cfg, 3, 1);
  EXPECT_EQ(errorOf(cfg, hf, x), "");

  LayerConfig unknown = cfg;
  unknown.family = "switch_transformers";
  EXPECT_NE(errorOf(unknown, hf, x).find("unknown model family"),
            std::string::npos);

  TensorMap missing = hf;
  missing.erase("model.layers.0.block_sparse_moe.experts.1.w3.weight");
  std::string message = errorOf(cfg, missing, x);
  EXPECT_NE(message.find("'model.layers.0.block_sparse_moe.experts.1.w3."
                         "weight': missing"),
            std::string::npos)
      << message;

  TensorMap wrong = hf;
  wrong["model.layers.0.block_sparse_moe.experts.0.w2.weight"].shape = {1, 2};
  message = errorOf(cfg, wrong, x);
  EXPECT_NE(message.find("expected shape [2, 1], got [1, 2]"),
            std::string::npos)
      << message;

  EXPECT_NE(errorOf(cfg, hf, tensor({3, 3}, std::vector<float>(9)))
                .find("hidden states must be [T, 2]"),
            std::string::npos);

  LayerConfig bias = cfg;
  bias.routerBias = true;
  EXPECT_NE(errorOf(bias, hf, x).find("no router bias"), std::string::npos);

  // No tokens is not an error.
  ReferenceResult empty = run(cfg, hf, tensor({0, 2}, {}));
  EXPECT_TRUE(empty.output.empty());
}

//===----------------------------------------------------------------------===//
// (g) The packer against the reference's independent indexing: the moe-opt
// family on packForKernels' output must give the family's own result.
//===----------------------------------------------------------------------===//

LayerConfig familyConfig(const std::string &family) {
  LayerConfig cfg = baseConfig(family, 8, 8, 5, 2);
  cfg.layer = 3;
  cfg.normalization = Normalization::Sum;
  if (family == "gpt_oss") {
    cfg.scoring = Scoring::SoftmaxAfterTopK;
    cfg.normalization = Normalization::None;
    cfg.routerBias = cfg.expertBias = true;
    cfg.activation = Activation::SwigluOai;
    cfg.limit = 0.3; // small enough that the random weights hit the clamp
  } else if (family == "llama4" || family == "llama4_text") {
    cfg.scoring = Scoring::SigmoidAfterTopK;
    cfg.normalization = Normalization::None;
    cfg.topK = 1;
    cfg.weightOnInput = true;
    cfg.sharedIntermediate = 5;
  } else if (family == "dbrx") {
    cfg.normalization = Normalization::PNorm;
    cfg.normP = 1.0;
    cfg.activation = Activation::GeluGlu;
  } else if (family == "qwen2_moe") {
    cfg.normalization = Normalization::None;
    cfg.sharedIntermediate = 6;
    cfg.sharedSigmoidGate = true;
  } else if (family == "deepseek_v2") {
    cfg.nGroup = 4;
    cfg.topkGroup = 2;
    cfg.normalization = Normalization::None;
    cfg.scalingFactor = 16.0;
    cfg.sharedIntermediate = 10;
  } else if (family == "deepseek_v3" || family == "kimi_k2") {
    cfg.scoring = Scoring::Sigmoid;
    cfg.correctionBias = true;
    cfg.nGroup = 4;
    cfg.topkGroup = 2;
    cfg.groupScore = GroupScore::Top2Sum;
    cfg.normEpsilon = 1e-20;
    cfg.scalingFactor = 2.5;
    cfg.sharedIntermediate = 10;
  } else if (family == "glm4_moe" || family == "dots1" ||
             family == "deepseek_v32" || family == "minimax_m2") {
    cfg.scoring = Scoring::Sigmoid;
    cfg.correctionBias = true;
    if (family != "minimax_m2")
      cfg.sharedIntermediate = 10;
  } else if (family == "qwen3_next") {
    cfg.sharedIntermediate = 6;
    cfg.sharedSigmoidGate = true;
  } else if (family == "jamba") {
    cfg.normalization = Normalization::None;
  } else if (family == "hunyuan_v1_moe") {
    cfg.sharedIntermediate = 5;
  } else if (family == "ernie4_5_moe") {
    cfg.correctionBias = true;
    cfg.normMin = 0.5; // above the sum of some chosen probabilities
    cfg.sharedIntermediate = 10;
  } else if (family == "granitemoe" || family == "granitemoeshared") {
    cfg.scoring = Scoring::SoftmaxAfterTopK;
    cfg.normalization = Normalization::None;
    if (family == "granitemoeshared")
      cfg.sharedIntermediate = 6;
  } else if (family == "phimoe") {
    cfg.scoring = Scoring::Sparsemixer;
    cfg.normalization = Normalization::None;
    cfg.jitterEps = 0.2;
  }
  return cfg;
}

class PackingConsistency : public ::testing::TestWithParam<const char *> {};

TEST_P(PackingConsistency, MoeOptOnPackedEqualsFamily) {
  LayerConfig cfg = familyConfig(GetParam());
  TensorMap hf = weights::randomHfWeights(cfg, 2024);
  ASSERT_FALSE(hf.empty());
  HostTensor x = weights::randomInput(cfg, 6, 7);
  ReferenceResult direct = run(cfg, hf, x);

  auto packed = weights::packForKernels(cfg, hf);
  ASSERT_TRUE(static_cast<bool>(packed)) << llvm::toString(packed.takeError());
  LayerConfig kernel = cfg;
  kernel.family = "moe-opt";
  auto specs = weights::kernelTensorSpecs(cfg);
  ASSERT_EQ(specs.size(), packed->size());
  TensorMap asKernel;
  for (size_t n = 0; n < specs.size(); ++n)
    asKernel["model.layers.3.moe." + specs[n].name] = (*packed)[n];
  ReferenceResult viaPacked = run(kernel, asKernel, x);

  ASSERT_EQ(direct.output.size(), 6u * 8);
  ASSERT_EQ(viaPacked.output.size(), direct.output.size());
  double largest = 0;
  for (size_t n = 0; n < direct.output.size(); ++n) {
    EXPECT_NEAR(viaPacked.output[n], direct.output[n],
                1e-12 * (1 + std::fabs(direct.output[n])))
        << "element " << n;
    largest = std::max(largest, std::fabs(direct.output[n]));
  }
  EXPECT_GT(largest, 1e-3); // not trivially zero
  EXPECT_EQ(viaPacked.nearTie, direct.nearTie);
}

INSTANTIATE_TEST_SUITE_P(
    AllFamilies, PackingConsistency,
    ::testing::Values("mixtral", "qwen2_moe", "qwen3_moe", "olmoe",
                      "deepseek_v2", "deepseek_v3", "kimi_k2", "gpt_oss",
                      "llama4", "llama4_text", "dbrx", "glm4_moe", "dots1",
                      "deepseek_v32", "qwen3_next", "minimax", "minimax_m2",
                      "jamba", "hunyuan_v1_moe", "ernie4_5_moe", "granitemoe",
                      "granitemoeshared", "phimoe"));

/// A deliberately mis-packed tensor must be caught by the same comparison:
/// the check is not vacuous.
TEST(PackingConsistencyCheck, DetectsSwappedGateAndUp) {
  LayerConfig cfg = familyConfig("gpt_oss");
  TensorMap hf = weights::randomHfWeights(cfg, 5);
  HostTensor x = weights::randomInput(cfg, 4, 5);
  ReferenceResult direct = run(cfg, hf, x);
  auto packed = weights::packForKernels(cfg, hf);
  ASSERT_TRUE(static_cast<bool>(packed)) << llvm::toString(packed.takeError());
  // Swap the gate and up rows of every expert in gate_up [E, 2I, H].
  HostTensor &gateUp = (*packed)[2];
  const int64_t i = cfg.intermediate, h = cfg.hidden;
  for (int64_t e = 0; e < cfg.numExperts; ++e)
    for (int64_t j = 0; j < i * h; ++j)
      std::swap(gateUp.data[e * 2 * i * h + j],
                gateUp.data[e * 2 * i * h + i * h + j]);
  LayerConfig kernel = cfg;
  kernel.family = "moe-opt";
  auto specs = weights::kernelTensorSpecs(cfg);
  TensorMap asKernel;
  for (size_t n = 0; n < specs.size(); ++n)
    asKernel["model.layers.3.moe." + specs[n].name] = (*packed)[n];
  ReferenceResult viaPacked = run(kernel, asKernel, x);
  double diff = 0;
  for (size_t n = 0; n < direct.output.size(); ++n)
    diff = std::max(diff, std::fabs(viaPacked.output[n] - direct.output[n]));
  EXPECT_GT(diff, 1e-6);
}

} // namespace
