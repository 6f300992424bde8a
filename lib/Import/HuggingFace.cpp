//===- HuggingFace.cpp - read Hugging Face config.json files --------------===//
//
// One reader per `model_type`. Each maps the family's field names and
// routing rules (shared/models ROUTING.md, checked against transformers'
// modeling code) onto ModelDesc, recording which config field each value
// came from so shared checks report `ffn_config.moe_top_k`, not an internal
// name. Optional fields take the defaults of the family's transformers
// configuration class.
//
//===----------------------------------------------------------------------===//

#include "moe/Import/Import.h"
#include "moe/Json/JsonObjectReader.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// Sizes are 32-bit (the kernels index with 32-bit integers), and no model
/// has anywhere near this many decoder layers.
constexpr int64_t kMaxSize = INT32_MAX;
constexpr int64_t kMaxLayers = 1 << 20;

/// Reads the fields every family shares: sizes, dtype, activation.
struct CommonFields {
  const JsonObjectReader &obj;
  ModelDesc &model;

  LogicalResult read(llvm::StringRef hiddenKey, llvm::StringRef layersKey) {
    model.paths["hidden_size"] = obj.pathOf(hiddenKey);
    model.paths["num_layers"] = obj.pathOf(layersKey);
    // Bounded at read time: layer selection enumerates the layers, and the
    // sizes are multiplied together below.
    auto hidden = obj.getInt(hiddenKey, 1, kMaxSize);
    auto numLayers = obj.getInt(layersKey, 1, kMaxLayers);
    if (failed(hidden) || failed(numLayers))
      return failure();
    model.hiddenSize = *hidden;
    model.numLayers = *numLayers;
    return success();
  }
};

/// `torch_dtype` (or `dtype`, its newer name), bf16 when absent as in
/// gpt-oss, whose checkpoint stores its non-quantized tensors in bf16.
LogicalResult readDType(const JsonObjectReader &obj, ModelDesc &model) {
  llvm::StringRef key = obj.has("torch_dtype") ? "torch_dtype" : "dtype";
  if (!obj.has(key)) {
    model.dtype = DType::BF16;
    return success();
  }
  auto name = obj.getChoice(key, {"bfloat16", "float16", "float32"});
  if (failed(name))
    return failure();
  model.dtype = *parseDType(*name);
  return success();
}

/// `quantization_config`: fp8 e4m3 with block scales (DeepSeek-V3, Kimi K2,
/// Qwen3 FP8; per-tensor without `weight_block_size`) or MXFP4 (gpt-oss).
/// Any other method is refused: importing its weights as the model dtype
/// would compute something else than the checkpoint.
LogicalResult readQuantization(const JsonObjectReader &root, ModelDesc &model) {
  if (!root.has("quantization_config"))
    return success();
  auto config = root.getObject("quantization_config");
  if (failed(config))
    return failure();
  auto method = config->getString("quant_method");
  if (failed(method))
    return failure();
  QuantDesc &quant = model.quant;
  // The checkpoint layouts whose quantized tensors we can name.
  bool fusedExperts = model.source == "gpt_oss" || model.source == "dbrx" ||
                      llvm::StringRef(model.source).starts_with("llama4") ||
                      llvm::StringRef(model.source).starts_with("granitemoe");
  if ((*method == "mxfp4" && model.source != "gpt_oss") ||
      (*method == "fp8" && fusedExperts)) {
    config->emitError("quant_method")
        << "quant_method '" << *method << "' is not supported for "
        << model.source << " checkpoints (fp8: per-expert projections as "
        << "DeepSeek, Qwen, Mixtral and OLMoE store them; mxfp4: gpt_oss)";
    return failure();
  }
  if (*method == "mxfp4") {
    quant.format = QuantDesc::Format::mxfp4;
    quant.blockRows = 1;
    quant.blockCols = 32;
    return success();
  }
  if (*method != "fp8") {
    config->emitError("quant_method")
        << "quant_method '" << *method
        << "' is not supported; supported: fp8 (e4m3, block-scaled or "
           "per-tensor), mxfp4";
    return failure();
  }
  quant.format = QuantDesc::Format::fp8;
  // MiniMax-M2 spells e4m3 as torch names it.
  auto fmt = config->getChoice("fmt", {"e4m3", "float8_e4m3fn"}, "e4m3");
  auto scheme = config->getChoice("activation_scheme", {"dynamic"}, "dynamic");
  if (failed(fmt) || failed(scheme))
    return failure();
  quant.dynamicActivations = true;
  if (config->has("scale_fmt")) {
    auto scaleFmt = config->getChoice("scale_fmt", {"ue8m0"});
    if (failed(scaleFmt))
      return failure();
    quant.pow2ActivationScales = true;
  }
  if (!config->has("weight_block_size"))
    return success(); // per-tensor: one scale per projection
  auto block = config->getIntList("weight_block_size", 1, 1 << 20);
  if (failed(block))
    return failure();
  if (block->size() != 2) {
    config->emitError("weight_block_size")
        << "weight_block_size must be [rows, columns], got " << block->size()
        << " sizes";
    return failure();
  }
  quant.blockRows = (*block)[0];
  quant.blockCols = (*block)[1];
  return success();
}

/// `hidden_act` for the gated expert FFN.
LogicalResult readGatedActivation(const JsonObjectReader &obj,
                                  llvm::StringRef key, MoeLayerDesc &layer) {
  auto act = obj.getChoice(key, {"silu", "swish", "gelu"}, "silu");
  if (failed(act))
    return failure();
  layer.ffn.activation =
      *act == "gelu" ? Activation::gelu_glu : Activation::silu_glu;
  return success();
}

/// Reads the routed-expert sizes under the family's field names.
LogicalResult readExpertCounts(const JsonObjectReader &obj, MoeLayerDesc &layer,
                               llvm::StringRef expertsKey,
                               llvm::StringRef topKKey,
                               llvm::StringRef intermediateKey) {
  layer.paths["num_experts"] = obj.pathOf(expertsKey);
  layer.paths["top_k"] = obj.pathOf(topKKey);
  layer.paths["intermediate_size"] = obj.pathOf(intermediateKey);
  auto experts = obj.getInt(expertsKey, 1, kMaxSize);
  auto topK = obj.getInt(topKKey, 1, kMaxSize);
  auto intermediate = obj.getInt(intermediateKey, 1, kMaxSize);
  if (failed(experts) || failed(topK) || failed(intermediate))
    return failure();
  layer.numExperts = *experts;
  layer.routing.topK = *topK;
  layer.intermediateSize = *intermediate;
  return success();
}

/// Every decoder layer is an MoE layer.
void allLayers(ModelDesc &model, MoeLayerDesc &layer,
               llvm::StringRef selectionPath) {
  layer.paths["layers"] = selectionPath.str();
  for (int64_t i = 0; i < model.numLayers; ++i)
    layer.layers.push_back(i);
}

/// Renormalize the selected softmax probabilities when `norm_topk_prob`.
LogicalResult readNormTopkProb(const JsonObjectReader &obj, MoeLayerDesc &layer,
                               bool defaultValue) {
  auto norm = obj.getBool("norm_topk_prob", defaultValue);
  if (failed(norm))
    return failure();
  layer.routing.normalization =
      *norm ? Normalization::sum : Normalization::none;
  return success();
}

//===----------------------------------------------------------------------===//
// Families
//===----------------------------------------------------------------------===//

LogicalResult readMixtral(const JsonObjectReader &obj, ModelDesc &model,
                          MoeLayerDesc &layer) {
  if (failed(readExpertCounts(obj, layer, "num_local_experts",
                              "num_experts_per_tok", "intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  layer.routing.scoring = Scoring::softmax;
  layer.routing.normalization = Normalization::sum;
  allLayers(model, layer, obj.pathOf("num_hidden_layers"));
  return success();
}

LogicalResult readOlmoe(const JsonObjectReader &obj, ModelDesc &model,
                        MoeLayerDesc &layer) {
  if (failed(readExpertCounts(obj, layer, "num_experts", "num_experts_per_tok",
                              "intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)) ||
      failed(readNormTopkProb(obj, layer, false)))
    return failure();
  layer.routing.scoring = Scoring::softmax;
  allLayers(model, layer, obj.pathOf("num_hidden_layers"));
  return success();
}

/// A shared expert whose width is the field `key` (0: none), as Qwen and
/// Granite configure it.
LogicalResult readSharedExpertSize(const JsonObjectReader &obj,
                                   MoeLayerDesc &layer, llvm::StringRef key,
                                   int64_t defaultValue, int64_t max,
                                   bool sigmoidGate) {
  layer.paths["shared_expert.intermediate_size"] = obj.pathOf(key);
  auto shared = obj.getInt(key, defaultValue, 0, max);
  if (failed(shared))
    return failure();
  if (*shared > 0)
    layer.shared = SharedExpertDesc{*shared, sigmoidGate};
  return success();
}

/// Qwen2-MoE, Qwen3-MoE and Qwen3-Next: layer i is sparse when it is not in
/// `mlp_only_layers` and (i + 1) % decoder_sparse_step == 0. `sharedDefault`
/// is the configuration class's shared_expert_intermediate_size (none: the
/// family has no shared expert).
LogicalResult readQwenMoe(const JsonObjectReader &obj, ModelDesc &model,
                          MoeLayerDesc &layer,
                          std::optional<int64_t> sharedDefault,
                          bool normDefault) {
  if (failed(readExpertCounts(obj, layer, "num_experts", "num_experts_per_tok",
                              "moe_intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)) ||
      failed(readNormTopkProb(obj, layer, normDefault)))
    return failure();
  layer.routing.scoring = Scoring::softmax;
  auto step = obj.getInt("decoder_sparse_step", 1, 1, INT32_MAX);
  auto mlpOnly = obj.getIntList("mlp_only_layers", 0, model.numLayers - 1);
  if (failed(step) || failed(mlpOnly))
    return failure();
  layer.paths["layers"] = obj.pathOf("decoder_sparse_step");
  llvm::DenseSet<int64_t> dense(mlpOnly->begin(), mlpOnly->end());
  for (int64_t i = 0; i < model.numLayers; ++i)
    if (!dense.contains(i) && (i + 1) % *step == 0)
      layer.layers.push_back(i);

  if (sharedDefault)
    return readSharedExpertSize(obj, layer, "shared_expert_intermediate_size",
                                *sharedDefault, INT64_MAX,
                                /*sigmoidGate=*/true);
  return success();
}

/// `count` always-on experts of the routed experts' size, run as one
/// ungated MLP `count` times as wide (DeepSeek's n_shared_experts, ERNIE's
/// moe_num_shared_experts, read from `countKey`).
LogicalResult addSharedExperts(const JsonObjectReader &obj, MoeLayerDesc &layer,
                               llvm::StringRef countKey, int64_t count) {
  layer.paths["shared_expert.intermediate_size"] = obj.pathOf(countKey);
  if (count == 0)
    return success();
  // Both factors are at most kMaxSize, so the product fits in 64 bits.
  int64_t size = count * layer.intermediateSize;
  if (size > kMaxSize) {
    obj.emitError(countKey)
        << countKey << " * the experts' intermediate size = " << size
        << " is out of range [1, " << kMaxSize << "]";
    return failure();
  }
  layer.shared = SharedExpertDesc{size, false};
  return success();
}

/// DeepSeek-V2/V3 (and Kimi K2, GLM-4.5, dots.llm1): dense layers before
/// first_k_dense_replace, then every moe_layer_freq-th (GLM-4.5 and
/// dots.llm1's transformers code has no moe_layer_freq: `layerFreq` false
/// ignores it); n_shared_experts always-on experts. The defaults of the two
/// fields differ between the configuration classes.
LogicalResult readDeepseekCommon(const JsonObjectReader &obj, ModelDesc &model,
                                 MoeLayerDesc &layer, int64_t defaultFirstDense,
                                 int64_t defaultShared, bool layerFreq = true) {
  if (failed(readExpertCounts(obj, layer, "n_routed_experts",
                              "num_experts_per_tok",
                              "moe_intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  auto firstDense =
      obj.getInt("first_k_dense_replace", defaultFirstDense, 0, INT32_MAX);
  auto freq = layerFreq ? obj.getInt("moe_layer_freq", 1, 1, INT32_MAX)
                        : FailureOr<int64_t>(1);
  auto nShared = obj.getInt("n_shared_experts", defaultShared, 0, INT32_MAX);
  if (failed(firstDense) || failed(freq) || failed(nShared))
    return failure();
  layer.paths["layers"] = obj.pathOf("first_k_dense_replace");
  for (int64_t i = *firstDense; i < model.numLayers; ++i)
    if (i % *freq == 0)
      layer.layers.push_back(i);
  if (failed(addSharedExperts(obj, layer, "n_shared_experts", *nShared)))
    return failure();
  layer.paths["n_group"] = obj.pathOf("n_group");
  layer.paths["topk_group"] = obj.pathOf("topk_group");
  layer.paths["scaling_factor"] = obj.pathOf("routed_scaling_factor");
  return success();
}

/// Reads n_group and topk_group for grouped selection; without defaults
/// they are required.
LogicalResult readGroups(const JsonObjectReader &obj, MoeLayerDesc &layer,
                         std::optional<std::pair<int64_t, int64_t>> defaults) {
  auto nGroup = defaults ? obj.getInt("n_group", defaults->first, 1, INT32_MAX)
                         : obj.getInt("n_group", 1, INT32_MAX);
  if (failed(nGroup))
    return failure();
  auto topkGroup =
      defaults ? obj.getInt("topk_group", defaults->second, 1, INT32_MAX)
               : obj.getInt("topk_group", 1, INT32_MAX);
  if (failed(topkGroup))
    return failure();
  layer.routing.nGroup = *nGroup;
  layer.routing.topkGroup = *topkGroup;
  return success();
}

LogicalResult readDeepseekV2(const JsonObjectReader &obj, ModelDesc &model,
                             MoeLayerDesc &layer) {
  if (failed(readDeepseekCommon(obj, model, layer, /*defaultFirstDense=*/0,
                                /*defaultShared=*/2)))
    return failure();
  layer.paths["scoring"] = obj.pathOf("scoring_func");
  auto scoring = obj.getChoice("scoring_func", {"softmax"}, "softmax");
  auto method = obj.getChoice("topk_method", {"greedy", "group_limited_greedy"},
                              "greedy");
  auto norm = obj.getBool("norm_topk_prob", false);
  auto scaling = obj.getNumber("routed_scaling_factor", 1.0);
  if (failed(scoring) || failed(method) || failed(norm) || failed(scaling))
    return failure();
  RoutingDesc &r = layer.routing;
  r.scoring = Scoring::softmax;
  if (*method == "group_limited_greedy") {
    // DeepseekV2Config has no usable default for the groups.
    if (failed(readGroups(obj, layer, std::nullopt)))
      return failure();
    r.groupScore = GroupScore::max;
  }
  // DeepSeek-V2 either renormalizes (top_k > 1 and norm_topk_prob) or
  // scales by routed_scaling_factor, never both.
  if (r.topK > 1 && *norm) {
    r.normalization = Normalization::sum;
    r.normEpsilon = 1e-20;
  } else {
    r.scalingFactor = *scaling;
  }
  return success();
}

/// The configuration-class defaults of the families that route as
/// DeepSeek-V3 does (transformers reuses DeepseekV3TopkRouter for them).
struct DeepseekV3Defaults {
  int64_t firstDense, shared, nGroup, topkGroup;
  bool norm;
  double scaling;
  bool layerFreq;
};

LogicalResult readDeepseekV3Like(const JsonObjectReader &obj, ModelDesc &model,
                                 MoeLayerDesc &layer,
                                 const DeepseekV3Defaults &defaults) {
  if (failed(readDeepseekCommon(obj, model, layer, defaults.firstDense,
                                defaults.shared, defaults.layerFreq)) ||
      failed(readGroups(obj, layer,
                        std::make_pair(defaults.nGroup, defaults.topkGroup))))
    return failure();
  layer.paths["scoring"] = obj.pathOf("scoring_func");
  auto scoring = obj.getChoice("scoring_func", {"sigmoid"}, "sigmoid");
  auto method = obj.getChoice("topk_method", {"noaux_tc"}, "noaux_tc");
  auto norm = obj.getBool("norm_topk_prob", defaults.norm);
  auto scaling = obj.getNumber("routed_scaling_factor", defaults.scaling);
  if (failed(scoring) || failed(method) || failed(norm) || failed(scaling))
    return failure();
  RoutingDesc &r = layer.routing;
  r.scoring = Scoring::sigmoid;
  r.groupScore = GroupScore::top2_sum;
  r.correctionBias = true;
  if (*norm) {
    r.normalization = Normalization::sum;
    r.normEpsilon = 1e-20;
  }
  r.scalingFactor = *scaling;
  return success();
}

/// DeepseekV3Config (also Kimi K2 and DeepSeek-V3.2, whose MoE is V3's).
LogicalResult readDeepseekV3(const JsonObjectReader &obj, ModelDesc &model,
                             MoeLayerDesc &layer) {
  return readDeepseekV3Like(obj, model, layer, {3, 1, 8, 4, true, 2.5, true});
}

/// Glm4MoeConfig: GLM-4.5/4.6/4.7.
LogicalResult readGlm4Moe(const JsonObjectReader &obj, ModelDesc &model,
                          MoeLayerDesc &layer) {
  return readDeepseekV3Like(obj, model, layer, {1, 1, 1, 1, true, 1.0, false});
}

/// Dots1Config: dots.llm1 (n_shared_experts defaults to None: none).
LogicalResult readDots1(const JsonObjectReader &obj, ModelDesc &model,
                        MoeLayerDesc &layer) {
  return readDeepseekV3Like(obj, model, layer, {0, 0, 1, 1, false, 1.0, false});
}

LogicalResult readGptOss(const JsonObjectReader &obj, ModelDesc &model,
                         MoeLayerDesc &layer) {
  if (failed(readExpertCounts(obj, layer, "num_local_experts",
                              obj.has("num_experts_per_tok")
                                  ? "num_experts_per_tok"
                                  : "experts_per_token",
                              "intermediate_size")))
    return failure();
  layer.paths["swiglu_limit"] = obj.pathOf("swiglu_limit");
  auto limit = obj.getNumber("swiglu_limit", 7.0);
  if (failed(limit))
    return failure();
  layer.routing.scoring = Scoring::softmax_after_topk;
  layer.routing.routerBias = true;
  layer.ffn = FfnDesc{Activation::swiglu_oai, 1.702, *limit, /*bias=*/true};
  allLayers(model, layer, obj.pathOf("num_hidden_layers"));
  return success();
}

/// Llama 4's text model: sigmoid of the top-1 logit scales the expert's
/// input; a shared expert is always added; MoE layers are listed in
/// `moe_layers` or every `interleave_moe_layer_step`-th layer.
LogicalResult readLlama4Text(const JsonObjectReader &obj, ModelDesc &model,
                             MoeLayerDesc &layer) {
  if (failed(readExpertCounts(obj, layer, "num_local_experts",
                              "num_experts_per_tok", "intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  layer.routing.scoring = Scoring::sigmoid_after_topk;
  layer.routing.placement = WeightPlacement::input;
  layer.shared = SharedExpertDesc{layer.intermediateSize, false};
  if (obj.has("moe_layers")) {
    layer.paths["layers"] = obj.pathOf("moe_layers");
    auto layers = obj.getIntList("moe_layers", 0, model.numLayers - 1);
    if (failed(layers))
      return failure();
    layer.layers = *layers;
    return success();
  }
  layer.paths["layers"] = obj.pathOf("interleave_moe_layer_step");
  auto step = obj.getInt("interleave_moe_layer_step", 1, 1, INT32_MAX);
  if (failed(step))
    return failure();
  for (int64_t i = *step - 1; i < model.numLayers; i += *step)
    layer.layers.push_back(i);
  return success();
}

/// DBRX keeps its MoE fields under `ffn_config`; weights are renormalized by
/// their p-norm, p = moe_normalize_expert_weights (absent or null: none).
LogicalResult readDbrx(const JsonObjectReader &obj, ModelDesc &model,
                       MoeLayerDesc &layer) {
  auto ffn = obj.getObject("ffn_config");
  if (failed(ffn) || failed(readExpertCounts(*ffn, layer, "moe_num_experts",
                                             "moe_top_k", "ffn_hidden_size")))
    return failure();
  layer.routing.scoring = Scoring::softmax;
  // Absent means the configuration class default p = 1; an explicit null
  // turns renormalization off.
  llvm::StringRef normKey = "moe_normalize_expert_weights";
  layer.paths["norm_p"] = ffn->pathOf(normKey);
  bool explicitNull = ffn->json().contains(normKey.str()) && !ffn->has(normKey);
  if (!explicitNull) {
    auto p = ffn->getNumber(normKey, 1.0);
    if (failed(p))
      return failure();
    layer.routing.normalization = Normalization::pnorm;
    layer.routing.normP = *p;
  }
  if (ffn->has("ffn_act_fn")) {
    auto act = ffn->getObject("ffn_act_fn");
    if (failed(act) || failed(readGatedActivation(*act, "name", layer)))
      return failure();
  }
  allLayers(model, layer, obj.pathOf("n_layers"));
  return success();
}

struct Family {
  llvm::StringLiteral modelType;
  /// Field names of the hidden size and layer count.
  llvm::StringLiteral hiddenKey, layersKey;
  LogicalResult (*read)(const JsonObjectReader &, ModelDesc &, MoeLayerDesc &);
};

LogicalResult readQwen2Moe(const JsonObjectReader &obj, ModelDesc &model,
                           MoeLayerDesc &layer) {
  // Qwen2MoeConfig's default is 5632 (Qwen1.5-MoE-A2.7B's size).
  return readQwenMoe(obj, model, layer, 5632, /*normDefault=*/false);
}
LogicalResult readQwen3Moe(const JsonObjectReader &obj, ModelDesc &model,
                           MoeLayerDesc &layer) {
  return readQwenMoe(obj, model, layer, std::nullopt, /*normDefault=*/false);
}
/// Qwen3-Next's MoE block is Qwen2-MoE's (Qwen3NextSparseMoeBlock reuses
/// it); its configuration class renormalizes by default.
LogicalResult readQwen3Next(const JsonObjectReader &obj, ModelDesc &model,
                            MoeLayerDesc &layer) {
  return readQwenMoe(obj, model, layer, 512, /*normDefault=*/true);
}

/// MiniMax-M2: sigmoid scores, e_score_correction_bias for selection only,
/// the chosen scores divided by their sum (no epsilon), every layer.
LogicalResult readMinimaxM2(const JsonObjectReader &obj, ModelDesc &model,
                            MoeLayerDesc &layer) {
  if (failed(readExpertCounts(obj, layer, "num_local_experts",
                              "num_experts_per_tok", "intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  layer.paths["scoring"] = obj.pathOf("scoring_func");
  auto scoring = obj.getChoice("scoring_func", {"sigmoid"}, "sigmoid");
  // transformers' MiniMaxM2 router always has the bias; a config without
  // it would be another model.
  auto bias = obj.getBool("use_routing_bias", true);
  auto shared = obj.getInt("shared_intermediate_size", 0, 0, 0);
  if (failed(scoring) || failed(bias) || failed(shared))
    return failure();
  if (!*bias) {
    obj.emitError("use_routing_bias")
        << "use_routing_bias false is not supported: MiniMax-M2's router "
           "(transformers' MiniMaxM2TopKRouter) always adds "
           "e_score_correction_bias";
    return failure();
  }
  RoutingDesc &r = layer.routing;
  r.scoring = Scoring::sigmoid;
  r.correctionBias = true;
  r.normalization = Normalization::sum;
  allLayers(model, layer, obj.pathOf("num_hidden_layers"));
  return success();
}

/// Jamba: softmax, top-k, no renormalization; layer i is MoE when
/// i % expert_layer_period == expert_layer_offset.
LogicalResult readJamba(const JsonObjectReader &obj, ModelDesc &model,
                        MoeLayerDesc &layer) {
  if (failed(readExpertCounts(obj, layer, "num_experts", "num_experts_per_tok",
                              "intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  layer.routing.scoring = Scoring::softmax;
  auto period = obj.getInt("expert_layer_period", 2, 1, INT32_MAX);
  if (failed(period))
    return failure();
  auto offset = obj.getInt("expert_layer_offset", 1, 0, *period - 1);
  if (failed(offset))
    return failure();
  layer.paths["layers"] =
      obj.pathOf(layer.numExperts > 1 ? "expert_layer_offset" : "num_experts");
  // JambaDecoderLayer builds a dense JambaMLP where a layer has a single
  // expert: num_experts 1 leaves no MoE layer.
  for (int64_t i = 0; i < model.numLayers && layer.numExperts > 1; ++i)
    if (i % *period == *offset)
      layer.layers.push_back(i);
  return success();
}

/// An int, or a per-layer list whose entries are all equal (Hunyuan writes
/// `moe_topk: [8, 8, ...]`). Differing entries are refused: transformers'
/// experts module reads one size for every layer.
FailureOr<int64_t> readIntOrSameList(const JsonObjectReader &obj,
                                     llvm::StringRef key, int64_t defaultValue,
                                     int64_t max) {
  if (!obj.has(key) || !obj.json().at(key.str()).is_array())
    return obj.getInt(key, defaultValue, 1, max);
  auto list = obj.getIntList(key, 1, max);
  if (failed(list))
    return failure();
  if (list->empty() ||
      llvm::any_of(*list, [&](int64_t v) { return v != list->front(); })) {
    obj.emitError(key) << key
                       << " must be one value or a list of equal values "
                          "(per-layer sizes that differ are not supported)";
    return failure();
  }
  return list->front();
}

/// Hunyuan-A13B (HunYuanMoEV1): softmax, top-k, always renormalized (no
/// epsilon; norm_topk_prob is not read); the experts and the shared MLP are
/// intermediate_size wide, as transformers builds them; every layer.
LogicalResult readHunyuanMoe(const JsonObjectReader &obj, ModelDesc &model,
                             MoeLayerDesc &layer) {
  layer.paths["num_experts"] = obj.pathOf("num_experts");
  layer.paths["top_k"] = obj.pathOf("moe_topk");
  layer.paths["intermediate_size"] = obj.pathOf("intermediate_size");
  auto experts = readIntOrSameList(obj, "num_experts", 1, kMaxSize);
  if (failed(experts))
    return failure();
  auto topK = readIntOrSameList(obj, "moe_topk", 1, kMaxSize);
  auto intermediate = obj.getInt("intermediate_size", 11008, 1, kMaxSize);
  if (failed(topK) || failed(intermediate) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  layer.numExperts = *experts;
  layer.routing.topK = *topK;
  layer.intermediateSize = *intermediate;
  layer.routing.scoring = Scoring::softmax;
  layer.routing.normalization = Normalization::sum;
  layer.paths["shared_expert.intermediate_size"] =
      obj.pathOf("intermediate_size");
  layer.shared = SharedExpertDesc{*intermediate, false};
  allLayers(model, layer, obj.pathOf("num_hidden_layers"));
  return success();
}

/// ERNIE 4.5 MoE: softmax; moe_statics' correction bias added to the
/// probabilities for selection only; the chosen probabilities divided by
/// clamp(sum, min = moe_norm_min); moe_num_shared_experts ungated experts.
/// Layer i is MoE when (i + 1) % moe_layer_interval == 0 and
/// moe_layer_start_index <= i <= moe_layer_end_index (-1: the last layer).
LogicalResult readErnie45Moe(const JsonObjectReader &obj, ModelDesc &model,
                             MoeLayerDesc &layer) {
  if (failed(readExpertCounts(obj, layer, "moe_num_experts", "moe_k",
                              "moe_intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  auto normMin = obj.getNumber("moe_norm_min", 1e-12);
  auto nShared = obj.getInt("moe_num_shared_experts", 2, 0, INT32_MAX);
  auto start = obj.getInt("moe_layer_start_index", 1, 0, INT32_MAX);
  auto end = obj.getInt("moe_layer_end_index", -1, -1, INT32_MAX);
  auto interval = obj.getInt("moe_layer_interval", 1, 1, INT32_MAX);
  auto bias = obj.getBool("use_bias", false);
  if (failed(normMin) || failed(nShared) || failed(start) || failed(end) ||
      failed(interval) || failed(bias))
    return failure();
  if (*bias) {
    // Ernie4_5_MoeMLP's projections then carry biases, which ERNIE's
    // checkpoints name but our expert layouts do not hold.
    obj.emitError("use_bias") << "use_bias true (biased expert projections) "
                                 "is not supported";
    return failure();
  }
  RoutingDesc &r = layer.routing;
  r.scoring = Scoring::softmax;
  r.correctionBias = true;
  r.normalization = Normalization::sum;
  r.normMin = *normMin;
  layer.paths["norm_min"] = obj.pathOf("moe_norm_min");
  int64_t last = *end < 0 ? model.numLayers - 1 : *end;
  layer.paths["layers"] = obj.pathOf("moe_layer_start_index");
  for (int64_t i = *start; i <= last && i < model.numLayers; ++i)
    if ((i + 1) % *interval == 0)
      layer.layers.push_back(i);
  if (failed(addSharedExperts(obj, layer, "moe_num_shared_experts", *nShared)))
    return failure();
  return success();
}

/// PhiMoE (Phi-3.5-MoE): sparsemixer routing with router_jitter_noise as
/// its relative gap (used at inference too), two experts, no
/// renormalization; every layer.
LogicalResult readPhimoe(const JsonObjectReader &obj, ModelDesc &model,
                         MoeLayerDesc &layer) {
  if (failed(readExpertCounts(obj, layer, "num_local_experts",
                              "num_experts_per_tok", "intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  if (layer.routing.topK != 2) {
    obj.emitError("num_experts_per_tok")
        << "PhiMoE's sparsemixer routes to exactly 2 experts "
           "(transformers' sparsemixer), got "
        << layer.routing.topK;
    return failure();
  }
  auto jitter = obj.getNumber("router_jitter_noise", 0.01);
  if (failed(jitter))
    return failure();
  layer.paths["jitter_eps"] = obj.pathOf("router_jitter_noise");
  layer.routing.scoring = Scoring::sparsemixer;
  layer.routing.jitterEps = *jitter;
  allLayers(model, layer, obj.pathOf("num_hidden_layers"));
  return success();
}

/// Granite MoE (JetMoe's gating): top-k on the logits, softmax over the k
/// chosen; granitemoeshared adds an ungated shared MLP of
/// shared_intermediate_size (0: none); every layer.
LogicalResult readGraniteMoeCommon(const JsonObjectReader &obj,
                                   ModelDesc &model, MoeLayerDesc &layer,
                                   bool hasShared) {
  if (failed(readExpertCounts(obj, layer, "num_local_experts",
                              "num_experts_per_tok", "intermediate_size")) ||
      failed(readGatedActivation(obj, "hidden_act", layer)))
    return failure();
  layer.routing.scoring = Scoring::softmax_after_topk;
  if (hasShared &&
      failed(readSharedExpertSize(obj, layer, "shared_intermediate_size", 0,
                                  kMaxSize, /*sigmoidGate=*/false)))
    return failure();
  allLayers(model, layer, obj.pathOf("num_hidden_layers"));
  return success();
}
LogicalResult readGraniteMoe(const JsonObjectReader &obj, ModelDesc &model,
                             MoeLayerDesc &layer) {
  return readGraniteMoeCommon(obj, model, layer, false);
}
LogicalResult readGraniteMoeShared(const JsonObjectReader &obj,
                                   ModelDesc &model, MoeLayerDesc &layer) {
  return readGraniteMoeCommon(obj, model, layer, true);
}

const Family kFamilies[] = {
    {"mixtral", "hidden_size", "num_hidden_layers", readMixtral},
    // MiniMax-Text-01's MoE block is Mixtral's (MiniMaxSparseMoeBlock).
    {"minimax", "hidden_size", "num_hidden_layers", readMixtral},
    {"minimax_m2", "hidden_size", "num_hidden_layers", readMinimaxM2},
    {"qwen2_moe", "hidden_size", "num_hidden_layers", readQwen2Moe},
    {"qwen3_moe", "hidden_size", "num_hidden_layers", readQwen3Moe},
    {"qwen3_next", "hidden_size", "num_hidden_layers", readQwen3Next},
    {"olmoe", "hidden_size", "num_hidden_layers", readOlmoe},
    {"deepseek_v2", "hidden_size", "num_hidden_layers", readDeepseekV2},
    {"deepseek_v3", "hidden_size", "num_hidden_layers", readDeepseekV3},
    {"kimi_k2", "hidden_size", "num_hidden_layers", readDeepseekV3},
    {"deepseek_v32", "hidden_size", "num_hidden_layers", readDeepseekV3},
    {"glm4_moe", "hidden_size", "num_hidden_layers", readGlm4Moe},
    {"dots1", "hidden_size", "num_hidden_layers", readDots1},
    {"gpt_oss", "hidden_size", "num_hidden_layers", readGptOss},
    {"llama4", "hidden_size", "num_hidden_layers", readLlama4Text},
    {"llama4_text", "hidden_size", "num_hidden_layers", readLlama4Text},
    {"dbrx", "d_model", "n_layers", readDbrx},
    {"jamba", "hidden_size", "num_hidden_layers", readJamba},
    {"ernie4_5_moe", "hidden_size", "num_hidden_layers", readErnie45Moe},
    {"phimoe", "hidden_size", "num_hidden_layers", readPhimoe},
    {"hunyuan_v1_moe", "hidden_size", "num_hidden_layers", readHunyuanMoe},
    {"granitemoe", "hidden_size", "num_hidden_layers", readGraniteMoe},
    {"granitemoeshared", "hidden_size", "num_hidden_layers",
     readGraniteMoeShared},
};
} // namespace

llvm::ArrayRef<llvm::StringRef> mlir::moe::supportedModelTypes() {
  static const llvm::SmallVector<llvm::StringRef> names = [] {
    llvm::SmallVector<llvm::StringRef> result;
    for (const Family &family : kFamilies)
      result.push_back(family.modelType);
    return result;
  }();
  return names;
}

FailureOr<ModelDesc> mlir::moe::readHuggingFaceConfig(const JsonDocument &doc) {
  auto root = JsonObjectReader::open(doc, doc.root(), "");
  if (failed(root))
    return failure();
  auto modelType = root->getChoice("model_type", supportedModelTypes());
  if (failed(modelType))
    return failure();
  const Family *family = llvm::find_if(
      kFamilies, [&](const Family &f) { return f.modelType == *modelType; });

  // Llama 4's multimodal config nests the text model under text_config.
  std::optional<JsonObjectReader> text;
  if (*modelType == "llama4") {
    auto nested = root->getObject("text_config");
    if (failed(nested))
      return failure();
    text.emplace(*nested);
  }
  const JsonObjectReader &obj = text ? *text : *root;

  ModelDesc model;
  model.source = *modelType;
  // Published config.json files rarely carry `_name_or_path`; the file name
  // (`mixtral-8x7b.config.json` -> `mixtral-8x7b`) says more than model_type.
  llvm::StringRef stem = llvm::sys::path::stem(doc.getFileName());
  stem.consume_back(".config");
  if (stem.empty() || stem == "-" || stem.starts_with("<"))
    stem = *modelType;
  auto name = root->getString("_name_or_path", stem);
  if (failed(name))
    return failure();
  model.name = *name;
  if (failed(CommonFields{obj, model}.read(family->hiddenKey,
                                           family->layersKey)) ||
      failed(readDType(
          root->has("torch_dtype") || root->has("dtype") ? *root : obj, model)))
    return failure();
  if (failed(readQuantization(*root, model)))
    return failure();

  MoeLayerDesc layer;
  if (failed(family->read(obj, model, layer)))
    return failure();
  if (layer.layers.empty()) {
    doc.emitError(layer.paths.lookup("layers"))
        << "this configuration has no MoE layer";
    return failure();
  }
  model.moeLayers.push_back(std::move(layer));
  return model;
}
