//===- ModelImportTest.cpp - JSON -> ModelDesc -> IR -> ModelDesc ---------===//

#include "TestHelpers.h"
#include "moe/Import/Import.h"

#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::moe;
using moe_test::JsonFixture;

namespace {

FailureOr<ModelDesc> read(JsonFixture &f) {
  return readModelJson(f.sourceMgr, &f.context);
}

TEST(HuggingFace, DeepseekV2RenormalizesOrScalesNeverBoth) {
  const char *base = R"({"model_type": "deepseek_v2", "hidden_size": 64,
    "num_hidden_layers": 4, "n_routed_experts": 8, "moe_intermediate_size": 16,
    "routed_scaling_factor": 16.0, %s})";
  auto import = [&](const char *extra) {
    char text[512];
    snprintf(text, sizeof(text), base, extra);
    JsonFixture f(text);
    FailureOr<ModelDesc> model = read(f);
    EXPECT_TRUE(succeeded(model));
    return model->moeLayers.at(0).routing;
  };
  RoutingDesc normalized =
      import(R"("num_experts_per_tok": 2, "norm_topk_prob": true)");
  EXPECT_EQ(normalized.normalization, Normalization::sum);
  EXPECT_EQ(normalized.scalingFactor, 1.0);
  EXPECT_EQ(normalized.normEpsilon, 1e-20);

  RoutingDesc scaled =
      import(R"("num_experts_per_tok": 2, "norm_topk_prob": false)");
  EXPECT_EQ(scaled.normalization, Normalization::none);
  EXPECT_EQ(scaled.scalingFactor, 16.0);

  // With a single expert there is nothing to renormalize: scale instead.
  RoutingDesc single =
      import(R"("num_experts_per_tok": 1, "norm_topk_prob": true)");
  EXPECT_EQ(single.normalization, Normalization::none);
  EXPECT_EQ(single.scalingFactor, 16.0);
}

TEST(HuggingFace, DeepseekV3Defaults) {
  JsonFixture f(R"({"model_type": "deepseek_v3", "hidden_size": 64,
    "num_hidden_layers": 5, "n_routed_experts": 16, "num_experts_per_tok": 4,
    "moe_intermediate_size": 8, "n_group": 4, "topk_group": 2,
    "first_k_dense_replace": 2, "n_shared_experts": 2})");
  FailureOr<ModelDesc> model = read(f);
  ASSERT_TRUE(succeeded(model));
  const MoeLayerDesc &layer = model->moeLayers.at(0);
  EXPECT_EQ(layer.layers, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(layer.routing.scoring, Scoring::sigmoid);
  EXPECT_EQ(layer.routing.groupScore, GroupScore::top2_sum);
  EXPECT_TRUE(layer.routing.correctionBias);
  // norm_topk_prob defaults to true and routed_scaling_factor to 2.5.
  EXPECT_EQ(layer.routing.normalization, Normalization::sum);
  EXPECT_EQ(layer.routing.scalingFactor, 2.5);
  ASSERT_TRUE(layer.shared.has_value());
  EXPECT_EQ(layer.shared->intermediateSize, 16);
  EXPECT_FALSE(layer.shared->sigmoidGate);
}

TEST(HuggingFace, AbsentFieldsTakeTheConfigClassDefaults) {
  // DeepseekV3Config: first_k_dense_replace 3, n_shared_experts 1, n_group
  // 8, topk_group 4.
  JsonFixture v3(R"({"model_type": "deepseek_v3", "hidden_size": 64,
    "num_hidden_layers": 5, "n_routed_experts": 16, "num_experts_per_tok": 4,
    "moe_intermediate_size": 8})");
  FailureOr<ModelDesc> model = read(v3);
  ASSERT_TRUE(succeeded(model));
  const MoeLayerDesc &layer = model->moeLayers.at(0);
  EXPECT_EQ(layer.layers, (std::vector<int64_t>{3, 4}));
  ASSERT_TRUE(layer.shared.has_value());
  EXPECT_EQ(layer.shared->intermediateSize, 8);
  EXPECT_EQ(layer.routing.nGroup, 8);
  EXPECT_EQ(layer.routing.topkGroup, 4);

  // DeepseekV2Config: two shared experts, no dense layer first.
  JsonFixture v2(R"({"model_type": "deepseek_v2", "hidden_size": 64,
    "num_hidden_layers": 2, "n_routed_experts": 8, "num_experts_per_tok": 2,
    "moe_intermediate_size": 8})");
  FailureOr<ModelDesc> v2Model = read(v2);
  ASSERT_TRUE(succeeded(v2Model));
  EXPECT_EQ(v2Model->moeLayers.at(0).layers, (std::vector<int64_t>{0, 1}));
  ASSERT_TRUE(v2Model->moeLayers.at(0).shared.has_value());
  EXPECT_EQ(v2Model->moeLayers.at(0).shared->intermediateSize, 16);

  // Qwen2MoeConfig: shared_expert_intermediate_size 5632.
  JsonFixture qwen(R"({"model_type": "qwen2_moe", "hidden_size": 64,
    "num_hidden_layers": 1, "num_experts": 4, "num_experts_per_tok": 2,
    "moe_intermediate_size": 8})");
  FailureOr<ModelDesc> qwenModel = read(qwen);
  ASSERT_TRUE(succeeded(qwenModel));
  ASSERT_TRUE(qwenModel->moeLayers.at(0).shared.has_value());
  EXPECT_EQ(qwenModel->moeLayers.at(0).shared->intermediateSize, 5632);
}

TEST(HuggingFace, GroupLimitedGreedyNeedsItsGroups) {
  JsonFixture f(R"({"model_type": "deepseek_v2", "hidden_size": 64,
    "num_hidden_layers": 1, "n_routed_experts": 8, "num_experts_per_tok": 2,
    "moe_intermediate_size": 8, "topk_method": "group_limited_greedy"})");
  EXPECT_TRUE(failed(read(f)));
  ASSERT_EQ(f.messages.size(), 1u);
  EXPECT_EQ(f.messages[0], "1:1: missing required field 'n_group'");
}

TEST(HuggingFace, QwenSharedExpertOfSizeZeroIsAbsent) {
  JsonFixture f(R"({"model_type": "qwen2_moe", "hidden_size": 64,
    "num_hidden_layers": 2, "num_experts": 4, "num_experts_per_tok": 2,
    "moe_intermediate_size": 8, "shared_expert_intermediate_size": 0})");
  FailureOr<ModelDesc> model = read(f);
  ASSERT_TRUE(succeeded(model));
  EXPECT_FALSE(model->moeLayers.at(0).shared.has_value());
}

TEST(HuggingFace, Llama4ReadsTheNestedTextConfigAndTopLevelDtype) {
  JsonFixture f(R"({"model_type": "llama4", "torch_dtype": "float16",
    "text_config": {"hidden_size": 32, "num_hidden_layers": 4,
      "num_local_experts": 4, "num_experts_per_tok": 1,
      "intermediate_size": 16, "interleave_moe_layer_step": 2}})");
  FailureOr<ModelDesc> model = read(f);
  ASSERT_TRUE(succeeded(model));
  EXPECT_EQ(model->dtype, DType::F16);
  EXPECT_EQ(model->hiddenSize, 32);
  const MoeLayerDesc &layer = model->moeLayers.at(0);
  EXPECT_EQ(layer.layers, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(layer.routing.placement, WeightPlacement::input);
  EXPECT_EQ(layer.routing.scoring, Scoring::sigmoid_after_topk);
  ASSERT_TRUE(layer.shared.has_value());
  EXPECT_EQ(layer.shared->intermediateSize, 16);
}

TEST(HuggingFace, ErrorsNameTheConfigField) {
  JsonFixture f(R"({"model_type": "dbrx", "d_model": 64, "n_layers": 2,
    "ffn_config": {"moe_num_experts": 4, "moe_top_k": 5,
                   "ffn_hidden_size": 8}})");
  EXPECT_TRUE(failed(read(f)));
  ASSERT_EQ(f.messages.size(), 1u);
  EXPECT_EQ(f.messages[0], "2:55: ffn_config.moe_top_k: top_k (5) exceeds "
                           "the number of experts (4)");
}

TEST(OwnSchema, SameShapeGroupsMergeIntoOneFunction) {
  JsonFixture f(R"({"format": "moe-opt/v1", "name": "m", "hidden_size": 8,
    "num_layers": 4, "dtype": "f32", "moe_layers": [
      {"layers": [2], "num_experts": 2, "intermediate_size": 4,
       "routing": {"scoring": "softmax", "top_k": 1},
       "experts": {"activation": "relu"}},
      {"layers": [3, 0], "num_experts": 2, "intermediate_size": 4,
       "routing": {"scoring": "softmax", "top_k": 1},
       "experts": {"activation": "relu"}},
      {"layers": [1], "num_experts": 2, "intermediate_size": 8,
       "routing": {"scoring": "softmax", "top_k": 1},
       "experts": {"activation": "relu"}}]})");
  FailureOr<ModelDesc> model = read(f);
  ASSERT_TRUE(succeeded(model));
  ASSERT_EQ(model->moeLayers.size(), 2u);
  EXPECT_EQ(model->moeLayers[0].layers, (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(model->moeLayers[1].layers, (std::vector<int64_t>{1}));
}

TEST(BuildAndReadModule, RoundTripsEveryField) {
  JsonFixture f(R"({"format": "moe-opt/v1", "name": "all", "source": "x",
    "hidden_size": 16, "num_layers": 3, "dtype": "bf16", "moe_layers": [
      {"layers": [0, 2], "num_experts": 6, "intermediate_size": 4,
       "routing": {"scoring": "sigmoid", "top_k": 2, "normalization": "pnorm",
         "norm_p": 3.5, "norm_epsilon": 1e-6, "n_group": 3, "topk_group": 2,
         "group_score": "top2_sum", "scaling_factor": 1.25,
         "placement": "input", "router_bias": true, "correction_bias": true},
       "experts": {"activation": "swiglu_oai", "alpha": 1.5, "limit": 3.0,
         "bias": true},
       "shared_expert": {"intermediate_size": 12, "sigmoid_gate": true}}]})");
  FailureOr<ModelDesc> model = read(f);
  ASSERT_TRUE(succeeded(model));
  OwningOpRef<ModuleOp> module = buildModule(*model, &f.context);
  ASSERT_TRUE(succeeded(verify(*module))) << f.messages.front();
  FailureOr<ModelDesc> back = readModule(*module);
  ASSERT_TRUE(succeeded(back));
  EXPECT_EQ(back->name, "all");
  EXPECT_EQ(back->source, "x");
  EXPECT_EQ(back->hiddenSize, 16);
  EXPECT_EQ(back->numLayers, 3);
  EXPECT_EQ(back->dtype, DType::BF16);
  ASSERT_EQ(back->moeLayers.size(), 1u);
  const MoeLayerDesc &a = model->moeLayers[0], &b = back->moeLayers[0];
  EXPECT_TRUE(a.sameShape(b));
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_TRUE(b.routing.routerBias);
  EXPECT_TRUE(b.routing.correctionBias);
  EXPECT_TRUE(b.ffn.bias);
  EXPECT_EQ(b.routing.normP, 3.5);
}

TEST(ImportModel, SupportedModelTypesAreListed) {
  auto types = supportedModelTypes();
  for (llvm::StringRef expected :
       {"mixtral",        "qwen2_moe",    "qwen3_moe",  "olmoe",
        "deepseek_v2",    "deepseek_v3",  "gpt_oss",    "llama4",
        "dbrx",           "glm4_moe",     "dots1",      "deepseek_v32",
        "qwen3_next",     "minimax",      "minimax_m2", "jamba",
        "hunyuan_v1_moe", "ernie4_5_moe", "granitemoe", "granitemoeshared",
        "phimoe"})
    EXPECT_TRUE(llvm::is_contained(types, expected)) << expected.str();
}

} // namespace
