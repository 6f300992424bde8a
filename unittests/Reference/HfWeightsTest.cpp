//===- HfWeightsTest.cpp - tensor names, random weights and packing -------===//

#include "moe/Weights/HfWeights.h"

#include "llvm/Support/Error.h"
#include "gtest/gtest.h"

#include <cmath>
#include <optional>

using namespace moe;
using namespace moe::weights;
using moe::ref::Activation;
using moe::ref::GroupScore;
using moe::ref::LayerConfig;
using moe::ref::Normalization;
using moe::ref::Scoring;

namespace {

using Shape = std::vector<int64_t>;

/// A tiny layer of `family` with the features its published models use.
/// H, E, I and Is differ so a swapped dimension changes a shape.
LayerConfig tinyConfig(const std::string &family) {
  LayerConfig cfg;
  cfg.family = family;
  cfg.layer = 1;
  cfg.hidden = 4;
  cfg.numExperts = 4;
  cfg.intermediate = 3;
  cfg.topK = 2;
  cfg.normalization = Normalization::Sum;
  if (family == "qwen2_moe") {
    cfg.normalization = Normalization::None;
    cfg.sharedIntermediate = 5;
    cfg.sharedSigmoidGate = true;
  } else if (family == "deepseek_v2") {
    cfg.normalization = Normalization::None;
    cfg.nGroup = 2;
    cfg.topkGroup = 1;
    cfg.scalingFactor = 16.0;
    cfg.sharedIntermediate = 6;
  } else if (family == "deepseek_v3" || family == "kimi_k2") {
    cfg.scoring = Scoring::Sigmoid;
    cfg.correctionBias = true;
    cfg.nGroup = 2;
    cfg.topkGroup = 1;
    cfg.groupScore = GroupScore::Top2Sum;
    cfg.normEpsilon = 1e-20;
    cfg.scalingFactor = 2.5;
    cfg.sharedIntermediate = 6;
  } else if (family == "gpt_oss") {
    cfg.scoring = Scoring::SoftmaxAfterTopK;
    cfg.normalization = Normalization::None;
    cfg.routerBias = true;
    cfg.expertBias = true;
    cfg.activation = Activation::SwigluOai;
  } else if (family == "llama4" || family == "llama4_text") {
    cfg.scoring = Scoring::SigmoidAfterTopK;
    cfg.normalization = Normalization::None;
    cfg.topK = 1;
    cfg.weightOnInput = true;
    cfg.sharedIntermediate = 3;
  } else if (family == "dbrx") {
    cfg.normalization = Normalization::PNorm;
    cfg.normP = 1.0;
  } else if (family == "glm4_moe" || family == "dots1" ||
             family == "deepseek_v32" || family == "minimax_m2" ||
             family == "ernie4_5_moe") {
    cfg.scoring = Scoring::Sigmoid;
    cfg.correctionBias = true;
    if (family != "minimax_m2")
      cfg.sharedIntermediate = 6;
  } else if (family == "qwen3_next") {
    cfg.sharedIntermediate = 5;
    cfg.sharedSigmoidGate = true;
  } else if (family == "hunyuan_v1_moe" || family == "granitemoeshared") {
    cfg.sharedIntermediate = 5;
  } else if (family == "phimoe") {
    cfg.scoring = Scoring::Sparsemixer;
    cfg.normalization = Normalization::None;
    cfg.jitterEps = 0.01;
  } else if (family == "moe-opt") {
    cfg.routerBias = true;
    cfg.correctionBias = true;
    cfg.expertBias = true;
    cfg.sharedIntermediate = 5;
    cfg.sharedSigmoidGate = true;
  }
  return cfg;
}

const char *const kFamilies[] = {"mixtral",
                                 "qwen2_moe",
                                 "qwen3_moe",
                                 "olmoe",
                                 "deepseek_v2",
                                 "deepseek_v3",
                                 "kimi_k2",
                                 "gpt_oss",
                                 "llama4",
                                 "llama4_text",
                                 "dbrx",
                                 "moe-opt",
                                 "glm4_moe",
                                 "dots1",
                                 "deepseek_v32",
                                 "qwen3_next",
                                 "minimax",
                                 "minimax_m2",
                                 "jamba",
                                 "hunyuan_v1_moe",
                                 "ernie4_5_moe",
                                 "granitemoe",
                                 "granitemoeshared",
                                 "phimoe"};

std::optional<Shape> shapeOf(const std::vector<TensorSpec> &specs,
                             const std::string &name) {
  for (const TensorSpec &spec : specs)
    if (spec.name == name)
      return spec.shape;
  return std::nullopt;
}

std::string errorText(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

/// Replaces every tensor's values with distinct integers (exact in float):
/// the n-th tensor's k-th element is n * 10000 + k.
void fillDistinct(TensorMap &hf) {
  int n = 1;
  for (auto &[name, tensor] : hf) {
    for (size_t k = 0; k < tensor.data.size(); ++k)
      tensor.data[k] = static_cast<float>(n * 10000 + k);
    ++n;
  }
}

//===----------------------------------------------------------------------===//
// Names and shapes
//===----------------------------------------------------------------------===//

TEST(HfTensorSpecs, Mixtral) {
  auto specs = hfTensorSpecs(tinyConfig("mixtral"));
  EXPECT_EQ(specs.size(), 1u + 3 * 4);
  EXPECT_EQ(shapeOf(specs, "model.layers.1.block_sparse_moe.gate.weight"),
            Shape({4, 4}));
  EXPECT_EQ(
      shapeOf(specs, "model.layers.1.block_sparse_moe.experts.0.w1.weight"),
      Shape({3, 4}));
  EXPECT_EQ(
      shapeOf(specs, "model.layers.1.block_sparse_moe.experts.3.w3.weight"),
      Shape({3, 4}));
  EXPECT_EQ(
      shapeOf(specs, "model.layers.1.block_sparse_moe.experts.3.w2.weight"),
      Shape({4, 3}));
}

TEST(HfTensorSpecs, QwenAndOlmoe) {
  for (const char *family : {"qwen3_moe", "olmoe"}) {
    SCOPED_TRACE(family);
    auto specs = hfTensorSpecs(tinyConfig(family));
    EXPECT_EQ(specs.size(), 1u + 3 * 4);
    EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.gate.weight"), Shape({4, 4}));
    EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.experts.2.gate_proj.weight"),
              Shape({3, 4}));
    EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.experts.2.up_proj.weight"),
              Shape({3, 4}));
    EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.experts.2.down_proj.weight"),
              Shape({4, 3}));
  }
  auto specs = hfTensorSpecs(tinyConfig("qwen2_moe"));
  EXPECT_EQ(specs.size(), 1u + 3 * 4 + 3 + 1);
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.shared_expert.gate_proj.weight"),
            Shape({5, 4}));
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.shared_expert.down_proj.weight"),
            Shape({4, 5}));
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.shared_expert_gate.weight"),
            Shape({1, 4}));
}

TEST(HfTensorSpecs, DeepSeek) {
  auto v2 = hfTensorSpecs(tinyConfig("deepseek_v2"));
  EXPECT_EQ(v2.size(), 1u + 3 * 4 + 3);
  EXPECT_EQ(shapeOf(v2, "model.layers.1.mlp.shared_experts.up_proj.weight"),
            Shape({6, 4}));
  EXPECT_FALSE(shapeOf(v2, "model.layers.1.mlp.gate.e_score_correction_bias"));
  for (const char *family : {"deepseek_v3", "kimi_k2"}) {
    SCOPED_TRACE(family);
    auto specs = hfTensorSpecs(tinyConfig(family));
    EXPECT_EQ(specs.size(), 2u + 3 * 4 + 3);
    EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.gate.e_score_correction_bias"),
              Shape({4}));
    EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.experts.3.down_proj.weight"),
              Shape({4, 3}));
    EXPECT_EQ(
        shapeOf(specs, "model.layers.1.mlp.shared_experts.down_proj.weight"),
        Shape({4, 6}));
  }
}

TEST(HfTensorSpecs, GptOss) {
  auto specs = hfTensorSpecs(tinyConfig("gpt_oss"));
  EXPECT_EQ(specs.size(), 6u);
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.router.weight"), Shape({4, 4}));
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.router.bias"), Shape({4}));
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.experts.gate_up_proj"),
            Shape({4, 4, 6}));
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.experts.gate_up_proj_bias"),
            Shape({4, 6}));
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.experts.down_proj"),
            Shape({4, 3, 4}));
  EXPECT_EQ(shapeOf(specs, "model.layers.1.mlp.experts.down_proj_bias"),
            Shape({4, 4}));
}

TEST(HfTensorSpecs, Llama4) {
  // The multimodal checkpoint keeps the text model under language_model.
  auto specs = hfTensorSpecs(tinyConfig("llama4"));
  EXPECT_EQ(specs.size(), 6u);
  const std::string p = "language_model.model.layers.1.feed_forward.";
  EXPECT_EQ(shapeOf(specs, p + "router.weight"), Shape({4, 4}));
  EXPECT_EQ(shapeOf(specs, p + "experts.gate_up_proj"), Shape({4, 4, 6}));
  EXPECT_EQ(shapeOf(specs, p + "experts.down_proj"), Shape({4, 3, 4}));
  EXPECT_EQ(shapeOf(specs, p + "shared_expert.gate_proj.weight"),
            Shape({3, 4}));
  EXPECT_EQ(shapeOf(specs, p + "shared_expert.down_proj.weight"),
            Shape({4, 3}));

  auto text = hfTensorSpecs(tinyConfig("llama4_text"));
  EXPECT_EQ(shapeOf(text, "model.layers.1.feed_forward.experts.gate_up_proj"),
            Shape({4, 4, 6}));
  EXPECT_EQ(
      shapeOf(text, "model.layers.1.feed_forward.shared_expert.up_proj.weight"),
      Shape({3, 4}));
}

TEST(HfTensorSpecs, Dbrx) {
  auto specs = hfTensorSpecs(tinyConfig("dbrx"));
  EXPECT_EQ(specs.size(), 4u);
  EXPECT_EQ(shapeOf(specs, "transformer.blocks.1.ffn.router.layer.weight"),
            Shape({4, 4}));
  for (const char *w : {"w1", "v1", "w2"})
    EXPECT_EQ(shapeOf(specs, std::string("transformer.blocks.1.ffn.experts."
                                         "mlp.") +
                                 w),
              Shape({12, 4}))
        << w;
}

TEST(HfTensorSpecs, MoeOptIsTheKernelLayout) {
  LayerConfig cfg = tinyConfig("moe-opt");
  auto kernel = kernelTensorSpecs(cfg);
  std::vector<std::string> names;
  for (const TensorSpec &spec : kernel)
    names.push_back(spec.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "router_weight", "router_bias", "correction_bias",
                       "gate_up", "down", "gate_up_bias", "down_bias",
                       "shared_gate_up", "shared_down", "shared_gate"}));
  EXPECT_EQ(kernel[3].shape, Shape({4, 6, 4}));
  EXPECT_EQ(kernel[4].shape, Shape({4, 4, 3}));
  EXPECT_EQ(kernel[5].shape, Shape({4, 6}));
  EXPECT_EQ(kernel[7].shape, Shape({10, 4}));
  EXPECT_EQ(kernel[8].shape, Shape({4, 5}));
  EXPECT_EQ(kernel[9].shape, Shape({1, 4}));

  auto specs = hfTensorSpecs(cfg);
  ASSERT_EQ(specs.size(), kernel.size());
  for (size_t n = 0; n < specs.size(); ++n) {
    EXPECT_EQ(specs[n].name, "model.layers.1.moe." + kernel[n].name);
    EXPECT_EQ(specs[n].shape, kernel[n].shape);
  }

  // Relu is not gated: gate_up holds the up rows only.
  cfg.activation = Activation::Relu;
  auto relu = kernelTensorSpecs(cfg);
  EXPECT_EQ(relu[3].shape, Shape({4, 3, 4}));
  EXPECT_EQ(relu[5].shape, Shape({4, 3}));
  EXPECT_EQ(relu[7].shape, Shape({5, 4}));
}

TEST(HfTensorSpecs, UnknownFamilyAndUnsupportedFeatures) {
  LayerConfig cfg = tinyConfig("mixtral");
  cfg.family = "switch_transformers";
  EXPECT_TRUE(hfTensorSpecs(cfg).empty());
  EXPECT_TRUE(randomHfWeights(cfg, 1).empty());
  std::string message = errorText(checkLayerConfig(cfg));
  EXPECT_NE(message.find("unknown model family 'switch_transformers'"),
            std::string::npos)
      << message;
  EXPECT_NE(errorText(checkHfWeights(cfg, {})).find("unknown model family"),
            std::string::npos);
  auto packed = packForKernels(cfg, {});
  ASSERT_FALSE(packed);
  EXPECT_NE(llvm::toString(packed.takeError()).find("unknown model family"),
            std::string::npos);

  LayerConfig bias = tinyConfig("mixtral");
  bias.routerBias = true;
  EXPECT_NE(errorText(checkLayerConfig(bias)).find("no router bias"),
            std::string::npos);
  EXPECT_TRUE(hfTensorSpecs(bias).empty());

  LayerConfig shared = tinyConfig("qwen3_moe");
  shared.sharedIntermediate = 8;
  EXPECT_NE(errorText(checkLayerConfig(shared)).find("no shared expert"),
            std::string::npos);

  LayerConfig relu = tinyConfig("olmoe");
  relu.activation = Activation::Relu;
  EXPECT_NE(errorText(checkLayerConfig(relu)).find("relu"), std::string::npos);

  LayerConfig topK = tinyConfig("olmoe");
  topK.topK = 5;
  EXPECT_NE(errorText(checkLayerConfig(topK)).find("top-k (5)"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// Random weights
//===----------------------------------------------------------------------===//

TEST(RandomHfWeights, DeterministicPerSeedAndValid) {
  for (const char *family : kFamilies) {
    SCOPED_TRACE(family);
    LayerConfig cfg = tinyConfig(family);
    TensorMap a = randomHfWeights(cfg, 42);
    TensorMap b = randomHfWeights(cfg, 42);
    TensorMap c = randomHfWeights(cfg, 43);
    ASSERT_EQ(a.size(), hfTensorSpecs(cfg).size());
    EXPECT_EQ(errorText(checkHfWeights(cfg, a)), "");
    for (const auto &[name, tensor] : a) {
      EXPECT_EQ(tensor.data, b.at(name).data) << name;
      EXPECT_NE(tensor.data, c.at(name).data) << name;
    }
  }
}

TEST(RandomHfWeights, Ranges) {
  LayerConfig cfg = tinyConfig("moe-opt");
  cfg.hidden = 16;
  cfg.intermediate = 4;
  TensorMap hf = randomHfWeights(cfg, 7);
  auto maxAbs = [&](const std::string &arg) {
    float m = 0;
    for (float v : hf.at("model.layers.1.moe." + arg).data)
      m = std::max(m, std::fabs(v));
    return m;
  };
  // Bounds 1/sqrt(fan_in): 0.25 for H = 16 inputs, 0.5 for I = 4.
  EXPECT_LE(maxAbs("router_weight"), 0.25f);
  EXPECT_LE(maxAbs("gate_up"), 0.25f);
  EXPECT_LE(maxAbs("down"), 0.5f);
  EXPECT_GT(maxAbs("down"), 0.25f); // read as fan_in I, not H
  EXPECT_LE(maxAbs("router_bias"), 0.1f);
  EXPECT_LE(maxAbs("down_bias"), 0.1f);
  EXPECT_GT(maxAbs("down_bias"), 0.05f);
  EXPECT_LE(maxAbs("correction_bias"), 0.05f);

  // DBRX's w2 is the down projection although it is stored [E*I, H].
  LayerConfig dbrx = tinyConfig("dbrx");
  dbrx.hidden = 16;
  dbrx.intermediate = 4;
  TensorMap d = randomHfWeights(dbrx, 7);
  float w2 = 0;
  for (float v : d.at("transformer.blocks.1.ffn.experts.mlp.w2").data)
    w2 = std::max(w2, std::fabs(v));
  EXPECT_LE(w2, 0.5f);
  EXPECT_GT(w2, 0.25f);
}

TEST(RandomInput, ShapeRangeAndDeterminism) {
  LayerConfig cfg = tinyConfig("mixtral");
  HostTensor x = randomInput(cfg, 5, 3);
  EXPECT_EQ(x.shape, Shape({5, 4}));
  ASSERT_EQ(x.data.size(), 20u);
  for (float v : x.data) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LE(v, 1.0f);
  }
  EXPECT_EQ(x.data, randomInput(cfg, 5, 3).data);
  EXPECT_NE(x.data, randomInput(cfg, 5, 4).data);
  // Pinned values (computed independently from the splitmix64 and FNV-1a
  // definitions): the generator must give the same numbers everywhere.
  EXPECT_EQ(x.data[0], -0.1999669373035431f);
  EXPECT_EQ(x.data[1], -0.21753065288066864f);
  EXPECT_EQ(x.data[2], 0.12724259495735168f);
  // More tokens extend the same stream.
  HostTensor longer = randomInput(cfg, 7, 3);
  EXPECT_TRUE(std::equal(x.data.begin(), x.data.end(), longer.data.begin()));
}

//===----------------------------------------------------------------------===//
// checkHfWeights
//===----------------------------------------------------------------------===//

TEST(CheckHfWeights, NamesTheTensor) {
  LayerConfig cfg = tinyConfig("gpt_oss");
  TensorMap hf = randomHfWeights(cfg, 1);
  hf["unrelated.tensor"] = HostTensor{{1}, {0.0f}}; // ignored
  EXPECT_EQ(errorText(checkHfWeights(cfg, hf)), "");

  TensorMap missing = hf;
  missing.erase("model.layers.1.mlp.router.bias");
  std::string message = errorText(checkHfWeights(cfg, missing));
  EXPECT_NE(message.find("'model.layers.1.mlp.router.bias': missing"),
            std::string::npos)
      << message;

  TensorMap wrong = hf;
  HostTensor &gu = wrong["model.layers.1.mlp.experts.gate_up_proj"];
  gu.shape = {4, 6, 4}; // the kernels' layout instead of [E, H, 2I]
  message = errorText(checkHfWeights(cfg, wrong));
  EXPECT_NE(message.find("'model.layers.1.mlp.experts.gate_up_proj': "
                         "expected shape [4, 4, 6], got [4, 6, 4]"),
            std::string::npos)
      << message;

  TensorMap shortData = hf;
  shortData["model.layers.1.mlp.router.weight"].data.pop_back();
  message = errorText(checkHfWeights(cfg, shortData));
  EXPECT_NE(message.find("'model.layers.1.mlp.router.weight'"),
            std::string::npos)
      << message;

  auto packed = packForKernels(cfg, missing);
  ASSERT_FALSE(packed);
  EXPECT_NE(llvm::toString(packed.takeError()).find("router.bias"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

/// Element of a row-major tensor.
float at(const HostTensor &t, std::initializer_list<int64_t> index) {
  int64_t offset = 0;
  size_t d = 0;
  for (int64_t i : index)
    offset = offset * t.shape[d++] + i;
  return t.data[offset];
}

TEST(PackForKernels, GptOssDeinterleaves) {
  LayerConfig cfg = tinyConfig("gpt_oss");
  TensorMap hf = randomHfWeights(cfg, 1);
  fillDistinct(hf);
  auto packed = packForKernels(cfg, hf);
  ASSERT_TRUE(static_cast<bool>(packed)) << llvm::toString(packed.takeError());
  ASSERT_EQ(packed->size(), 6u);
  const std::string p = "model.layers.1.mlp.";
  const HostTensor &src = hf.at(p + "experts.gate_up_proj");
  const HostTensor &srcDown = hf.at(p + "experts.down_proj");
  const HostTensor &srcBias = hf.at(p + "experts.gate_up_proj_bias");
  const auto &out = *packed;
  EXPECT_EQ(out[0].data, hf.at(p + "router.weight").data);
  EXPECT_EQ(out[1].data, hf.at(p + "router.bias").data);
  const HostTensor &gateUp = out[2], &down = out[3], &bias = out[4];
  EXPECT_EQ(gateUp.shape, Shape({4, 6, 4}));
  EXPECT_EQ(down.shape, Shape({4, 4, 3}));
  EXPECT_EQ(bias.shape, Shape({4, 6}));
  const int64_t I = 3;
  for (int64_t e = 0; e < 4; ++e)
    for (int64_t j = 0; j < I; ++j) {
      for (int64_t h = 0; h < 4; ++h) {
        EXPECT_EQ(at(gateUp, {e, j, h}), at(src, {e, h, 2 * j}));
        EXPECT_EQ(at(gateUp, {e, I + j, h}), at(src, {e, h, 2 * j + 1}));
        EXPECT_EQ(at(down, {e, h, j}), at(srcDown, {e, j, h}));
      }
      EXPECT_EQ(at(bias, {e, j}), at(srcBias, {e, 2 * j}));
      EXPECT_EQ(at(bias, {e, I + j}), at(srcBias, {e, 2 * j + 1}));
    }
  EXPECT_EQ(out[5].data, hf.at(p + "experts.down_proj_bias").data);
}

TEST(PackForKernels, Llama4Transposes) {
  for (const char *family : {"llama4", "llama4_text"}) {
    SCOPED_TRACE(family);
    LayerConfig cfg = tinyConfig(family);
    TensorMap hf = randomHfWeights(cfg, 1);
    fillDistinct(hf);
    auto packed = packForKernels(cfg, hf);
    ASSERT_TRUE(static_cast<bool>(packed))
        << llvm::toString(packed.takeError());
    ASSERT_EQ(packed->size(), 5u);
    std::string p = std::string(family) == "llama4"
                        ? "language_model.model.layers.1.feed_forward."
                        : "model.layers.1.feed_forward.";
    const HostTensor &src = hf.at(p + "experts.gate_up_proj");
    const HostTensor &srcDown = hf.at(p + "experts.down_proj");
    const HostTensor &gateUp = (*packed)[1], &down = (*packed)[2];
    EXPECT_EQ(gateUp.shape, Shape({4, 6, 4}));
    EXPECT_EQ(down.shape, Shape({4, 4, 3}));
    for (int64_t e = 0; e < 4; ++e)
      for (int64_t h = 0; h < 4; ++h) {
        // Gate is the first I columns, up the last I: a plain transpose.
        for (int64_t r = 0; r < 6; ++r)
          EXPECT_EQ(at(gateUp, {e, r, h}), at(src, {e, h, r}));
        for (int64_t j = 0; j < 3; ++j)
          EXPECT_EQ(at(down, {e, h, j}), at(srcDown, {e, j, h}));
      }
    const HostTensor &sharedGateUp = (*packed)[3];
    EXPECT_EQ(sharedGateUp.shape, Shape({6, 4}));
    const auto &gate = hf.at(p + "shared_expert.gate_proj.weight").data;
    const auto &up = hf.at(p + "shared_expert.up_proj.weight").data;
    EXPECT_TRUE(
        std::equal(gate.begin(), gate.end(), sharedGateUp.data.begin()));
    EXPECT_TRUE(
        std::equal(up.begin(), up.end(), sharedGateUp.data.begin() + 12));
    EXPECT_EQ((*packed)[4].data,
              hf.at(p + "shared_expert.down_proj.weight").data);
  }
}

TEST(PackForKernels, DbrxSplitsFusedTensors) {
  LayerConfig cfg = tinyConfig("dbrx");
  TensorMap hf = randomHfWeights(cfg, 1);
  fillDistinct(hf);
  auto packed = packForKernels(cfg, hf);
  ASSERT_TRUE(static_cast<bool>(packed)) << llvm::toString(packed.takeError());
  ASSERT_EQ(packed->size(), 3u);
  const std::string p = "transformer.blocks.1.ffn.";
  EXPECT_EQ((*packed)[0].data, hf.at(p + "router.layer.weight").data);
  const HostTensor &w1 = hf.at(p + "experts.mlp.w1");
  const HostTensor &v1 = hf.at(p + "experts.mlp.v1");
  const HostTensor &w2 = hf.at(p + "experts.mlp.w2");
  const HostTensor &gateUp = (*packed)[1], &down = (*packed)[2];
  const int64_t I = 3;
  for (int64_t e = 0; e < 4; ++e)
    for (int64_t j = 0; j < I; ++j)
      for (int64_t h = 0; h < 4; ++h) {
        EXPECT_EQ(at(gateUp, {e, j, h}), at(w1, {e * I + j, h}));
        EXPECT_EQ(at(gateUp, {e, I + j, h}), at(v1, {e * I + j, h}));
        EXPECT_EQ(at(down, {e, h, j}), at(w2, {e * I + j, h}));
      }
}

TEST(PackForKernels, PerExpertFamiliesStack) {
  LayerConfig cfg = tinyConfig("mixtral");
  TensorMap hf = randomHfWeights(cfg, 1);
  fillDistinct(hf);
  auto packed = packForKernels(cfg, hf);
  ASSERT_TRUE(static_cast<bool>(packed)) << llvm::toString(packed.takeError());
  ASSERT_EQ(packed->size(), 3u);
  const HostTensor &gateUp = (*packed)[1], &down = (*packed)[2];
  for (int64_t e = 0; e < 4; ++e) {
    std::string p =
        "model.layers.1.block_sparse_moe.experts." + std::to_string(e) + ".";
    const HostTensor &w1 = hf.at(p + "w1.weight"), &w3 = hf.at(p + "w3.weight");
    const HostTensor &w2 = hf.at(p + "w2.weight");
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t h = 0; h < 4; ++h) {
        EXPECT_EQ(at(gateUp, {e, j, h}), at(w1, {j, h}));
        EXPECT_EQ(at(gateUp, {e, 3 + j, h}), at(w3, {j, h}));
        EXPECT_EQ(at(down, {e, h, j}), at(w2, {h, j}));
      }
  }

  // Qwen2-MoE: the shared expert and its gate come last.
  LayerConfig qwen = tinyConfig("qwen2_moe");
  TensorMap q = randomHfWeights(qwen, 1);
  fillDistinct(q);
  auto qp = packForKernels(qwen, q);
  ASSERT_TRUE(static_cast<bool>(qp)) << llvm::toString(qp.takeError());
  ASSERT_EQ(qp->size(), 6u);
  const std::string s = "model.layers.1.mlp.shared_expert.";
  std::vector<float> expected = q.at(s + "gate_proj.weight").data;
  const auto &up = q.at(s + "up_proj.weight").data;
  expected.insert(expected.end(), up.begin(), up.end());
  EXPECT_EQ((*qp)[3].data, expected);
  EXPECT_EQ((*qp)[4].data, q.at(s + "down_proj.weight").data);
  EXPECT_EQ((*qp)[5].data,
            q.at("model.layers.1.mlp.shared_expert_gate.weight").data);

  // DeepSeek-V3: the correction bias follows the router weight.
  LayerConfig v3 = tinyConfig("deepseek_v3");
  TensorMap d = randomHfWeights(v3, 1);
  auto dp = packForKernels(v3, d);
  ASSERT_TRUE(static_cast<bool>(dp)) << llvm::toString(dp.takeError());
  ASSERT_EQ(dp->size(), 6u);
  EXPECT_EQ((*dp)[1].data,
            d.at("model.layers.1.mlp.gate.e_score_correction_bias").data);
}

TEST(PackForKernels, MoeOptIsIdentity) {
  LayerConfig cfg = tinyConfig("moe-opt");
  TensorMap hf = randomHfWeights(cfg, 9);
  auto packed = packForKernels(cfg, hf);
  ASSERT_TRUE(static_cast<bool>(packed)) << llvm::toString(packed.takeError());
  auto specs = kernelTensorSpecs(cfg);
  ASSERT_EQ(packed->size(), specs.size());
  for (size_t n = 0; n < specs.size(); ++n) {
    EXPECT_EQ((*packed)[n].shape, specs[n].shape);
    EXPECT_EQ((*packed)[n].data,
              hf.at("model.layers.1.moe." + specs[n].name).data);
  }
}

} // namespace
