//===- OwnSchema.cpp - read and write moe-opt's own model schema ----------===//
//
// The schema is documented in docs/model-schema.md and
// docs/moe-model.schema.json. Unknown fields are errors so a misspelt
// optional field is never silently ignored.
//
//===----------------------------------------------------------------------===//

#include "moe/Import/Import.h"
#include "moe/Json/JsonObjectReader.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
using OrderedJson = nlohmann::ordered_json;

template <typename Enum>
FailureOr<Enum> readEnum(const JsonObjectReader &obj, llvm::StringRef key,
                         std::optional<Enum> defaultValue,
                         llvm::ArrayRef<Enum> values,
                         llvm::StringRef (*stringify)(Enum)) {
  llvm::SmallVector<llvm::StringRef> names;
  for (Enum value : values)
    names.push_back(stringify(value));
  std::optional<llvm::StringRef> defaultName;
  if (defaultValue)
    defaultName = stringify(*defaultValue);
  FailureOr<std::string> name = obj.getChoice(key, names, defaultName);
  if (failed(name))
    return failure();
  for (Enum value : values)
    if (stringify(value) == *name)
      return value;
  return failure();
}

LogicalResult readRouting(const JsonObjectReader &obj, MoeLayerDesc &layer) {
  if (failed(obj.rejectUnknownFields(
          {"scoring", "top_k", "normalization", "norm_p", "norm_epsilon",
           "n_group", "topk_group", "group_score", "scaling_factor",
           "placement", "router_bias", "correction_bias", "norm_min",
           "jitter_eps"})))
    return failure();
  RoutingDesc &r = layer.routing;
  for (llvm::StringRef key :
       {"scoring", "top_k", "normalization", "norm_p", "norm_epsilon",
        "n_group", "topk_group", "scaling_factor", "placement", "norm_min",
        "jitter_eps"})
    layer.paths[key] = obj.pathOf(key);
  auto scoring = readEnum<Scoring>(
      obj, "scoring", std::nullopt,
      {Scoring::softmax, Scoring::sigmoid, Scoring::softmax_after_topk,
       Scoring::sigmoid_after_topk, Scoring::sparsemixer},
      stringifyScoring);
  auto topK = obj.getInt("top_k", 1, INT32_MAX);
  auto normalization = readEnum<Normalization>(
      obj, "normalization", Normalization::none,
      {Normalization::none, Normalization::sum, Normalization::pnorm},
      stringifyNormalization);
  auto normP = obj.getNumber("norm_p", 1.0);
  auto normEpsilon = obj.getNumber("norm_epsilon", 0.0);
  auto nGroup = obj.getInt("n_group", 1, 1, INT32_MAX);
  auto topkGroup = obj.getInt("topk_group", 1, 1, INT32_MAX);
  auto groupScore = readEnum<GroupScore>(
      obj, "group_score", GroupScore::max,
      {GroupScore::max, GroupScore::top2_sum}, stringifyGroupScore);
  auto scaling = obj.getNumber("scaling_factor", 1.0);
  auto placement = readEnum<WeightPlacement>(
      obj, "placement", WeightPlacement::output,
      {WeightPlacement::output, WeightPlacement::input},
      stringifyWeightPlacement);
  auto routerBias = obj.getBool("router_bias", false);
  auto correctionBias = obj.getBool("correction_bias", false);
  auto normMin = obj.getNumber("norm_min", 0.0);
  auto jitterEps = obj.getNumber("jitter_eps", 0.0);
  if (failed(scoring) || failed(topK) || failed(normalization) ||
      failed(normP) || failed(normEpsilon) || failed(nGroup) ||
      failed(topkGroup) || failed(groupScore) || failed(scaling) ||
      failed(placement) || failed(routerBias) || failed(correctionBias) ||
      failed(normMin) || failed(jitterEps))
    return failure();
  r = RoutingDesc{*scoring,     *topK,      *normalization, *normP,
                  *normEpsilon, *nGroup,    *topkGroup,     *groupScore,
                  *scaling,     *placement, *routerBias,    *correctionBias,
                  *normMin,     *jitterEps};
  return success();
}

LogicalResult readExperts(const JsonObjectReader &obj, MoeLayerDesc &layer) {
  if (failed(obj.rejectUnknownFields({"activation", "alpha", "limit", "bias"})))
    return failure();
  layer.paths["swiglu_limit"] = obj.pathOf("limit");
  auto activation =
      readEnum<Activation>(obj, "activation", std::nullopt,
                           {Activation::silu_glu, Activation::gelu_glu,
                            Activation::swiglu_oai, Activation::relu},
                           stringifyActivation);
  auto alpha = obj.getNumber("alpha", 1.702);
  auto limit = obj.getNumber("limit", 7.0);
  auto bias = obj.getBool("bias", false);
  if (failed(activation) || failed(alpha) || failed(limit) || failed(bias))
    return failure();
  layer.ffn = FfnDesc{*activation, *alpha, *limit, *bias};
  return success();
}

FailureOr<MoeLayerDesc> readLayer(const JsonObjectReader &obj) {
  MoeLayerDesc layer;
  if (failed(
          obj.rejectUnknownFields({"layers", "num_experts", "intermediate_size",
                                   "routing", "experts", "shared_expert"})))
    return failure();
  for (llvm::StringRef key : {"layers", "num_experts", "intermediate_size"})
    layer.paths[key] = obj.pathOf(key);
  if (!obj.has("layers")) {
    obj.emitObjectError() << "missing required field 'layers'";
    return failure();
  }
  auto layers = obj.getIntList("layers", 0, INT32_MAX);
  auto numExperts = obj.getInt("num_experts", 1, INT32_MAX);
  auto intermediate = obj.getInt("intermediate_size", 1, INT32_MAX);
  auto routing = obj.getObject("routing");
  auto experts = obj.getObject("experts");
  if (failed(layers) || failed(numExperts) || failed(intermediate) ||
      failed(routing) || failed(experts) ||
      failed(readRouting(*routing, layer)) ||
      failed(readExperts(*experts, layer)))
    return failure();
  layer.layers = *layers;
  layer.numExperts = *numExperts;
  layer.intermediateSize = *intermediate;
  if (obj.has("shared_expert")) {
    auto shared = obj.getObject("shared_expert");
    if (failed(shared) || failed(shared->rejectUnknownFields(
                              {"intermediate_size", "sigmoid_gate"})))
      return failure();
    layer.paths["shared_expert.intermediate_size"] =
        shared->pathOf("intermediate_size");
    auto size = shared->getInt("intermediate_size", 1, INT32_MAX);
    auto gate = shared->getBool("sigmoid_gate", false);
    if (failed(size) || failed(gate))
      return failure();
    layer.shared = SharedExpertDesc{*size, *gate};
  }
  return layer;
}
} // namespace

/// "quantization": {"format": "fp8" | "mxfp4", "block": [rows, columns]}:
/// the experts' projections stored as quantized checkpoints store them
/// (docs/model-schema.md). fp8 without a block has one scale per
/// projection; mxfp4's block is [1, 32].
static LogicalResult readQuantization(const JsonObjectReader &root,
                                      QuantDesc &quant) {
  auto obj = root.getObject("quantization");
  if (failed(obj) || failed(obj->rejectUnknownFields({"format", "block"})))
    return failure();
  auto format = obj->getChoice("format", {"fp8", "mxfp4"});
  auto block = obj->getIntList("block", 1, 1 << 20);
  if (failed(format) || failed(block))
    return failure();
  if (*format == "mxfp4") {
    if (!block->empty() && *block != std::vector<int64_t>{1, 32}) {
      obj->emitError("block") << "mxfp4's block is [1, 32]";
      return failure();
    }
    quant = QuantDesc{QuantDesc::Format::mxfp4, 1, 32, false};
    return success();
  }
  if (!block->empty() && block->size() != 2) {
    obj->emitError("block") << "block must be [rows, columns]";
    return failure();
  }
  quant = QuantDesc{QuantDesc::Format::fp8, block->empty() ? 0 : (*block)[0],
                    block->empty() ? 0 : (*block)[1], true};
  return success();
}

FailureOr<ModelDesc> mlir::moe::readOwnSchema(const JsonDocument &doc) {
  auto root = JsonObjectReader::open(doc, doc.root(), "");
  if (failed(root) ||
      failed(root->rejectUnknownFields({"format", "name", "source",
                                        "hidden_size", "num_layers", "dtype",
                                        "quantization", "moe_layers"})))
    return failure();
  auto format = root->getString("format");
  if (failed(format))
    return failure();
  if (*format != kOwnSchemaFormat) {
    root->emitError("format")
        << "unsupported format '" << *format << "'; this version reads '"
        << kOwnSchemaFormat << "'";
    return failure();
  }
  ModelDesc model;
  model.paths["hidden_size"] = "hidden_size";
  model.paths["num_layers"] = "num_layers";
  auto name = root->getString("name");
  auto source = root->getString("source", "moe-opt");
  auto hidden = root->getInt("hidden_size", 1, INT32_MAX);
  auto numLayers = root->getInt("num_layers", 1, 1 << 20);
  auto dtype = root->getChoice("dtype", {"f32", "f16", "bf16"});
  if (failed(name) || failed(source) || failed(hidden) || failed(numLayers) ||
      failed(dtype))
    return failure();
  model.name = *name;
  model.source = *source;
  model.hiddenSize = *hidden;
  model.numLayers = *numLayers;
  model.dtype = *parseDType(*dtype);
  if (root->has("quantization") && failed(readQuantization(*root, model.quant)))
    return failure();

  if (!root->has("moe_layers") || !root->json()["moe_layers"].is_array()) {
    root->emitError("moe_layers") << "expected a non-empty array of MoE "
                                     "layer descriptions";
    return failure();
  }
  const Json &layers = root->json()["moe_layers"];
  for (size_t i = 0; i < layers.size(); ++i) {
    auto obj =
        JsonObjectReader::open(doc, layers[i], jsonPathJoin("moe_layers", i));
    if (failed(obj))
      return failure();
    FailureOr<MoeLayerDesc> layer = readLayer(*obj);
    if (failed(layer))
      return failure();
    model.moeLayers.push_back(std::move(*layer));
  }
  return model;
}

/// Writes JSON indented by two spaces, like nlohmann's dump(2), but keeps
/// arrays of scalars (the layer lists) on one line.
static void writePretty(const OrderedJson &value, llvm::raw_ostream &os,
                        unsigned indent) {
  auto dumpScalar = [](const OrderedJson &v) {
    return v.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  };
  bool scalarArray = value.is_array() && llvm::all_of(value, [](auto &e) {
                       return e.is_primitive();
                     });
  if (value.is_primitive()) {
    os << dumpScalar(value);
    return;
  }
  bool isObject = value.is_object();
  os << (isObject ? "{" : "[") << (scalarArray ? "" : "\n");
  size_t i = 0;
  for (auto it = value.begin(); it != value.end(); ++it, ++i) {
    if (scalarArray) {
      os << (i ? ", " : "") << dumpScalar(*it);
      continue;
    }
    os.indent(indent + 2);
    if (isObject)
      os << OrderedJson(it.key()).dump() << ": ";
    writePretty(*it, os, indent + 2);
    os << (i + 1 < value.size() ? ",\n" : "\n");
  }
  if (!scalarArray)
    os.indent(indent);
  os << (isObject ? "}" : "]");
}

void mlir::moe::writeOwnSchema(const ModelDesc &model, llvm::raw_ostream &os) {
  OrderedJson root;
  root["format"] = kOwnSchemaFormat.str();
  root["name"] = model.name;
  root["source"] = model.source;
  root["hidden_size"] = model.hiddenSize;
  root["num_layers"] = model.numLayers;
  root["dtype"] = stringifyDType(model.dtype).str();
  if (model.quant.isQuantized()) {
    OrderedJson &quant = root["quantization"];
    quant["format"] =
        model.quant.format == QuantDesc::Format::fp8 ? "fp8" : "mxfp4";
    if (model.quant.blockRows)
      quant["block"] = {model.quant.blockRows, model.quant.blockCols};
  }
  OrderedJson layers = OrderedJson::array();
  for (const MoeLayerDesc &layer : model.moeLayers) {
    const RoutingDesc &r = layer.routing;
    OrderedJson l;
    l["layers"] = layer.layers;
    l["num_experts"] = layer.numExperts;
    l["intermediate_size"] = layer.intermediateSize;
    OrderedJson &routing = l["routing"];
    routing["scoring"] = stringifyScoring(r.scoring).str();
    routing["top_k"] = r.topK;
    routing["normalization"] = stringifyNormalization(r.normalization).str();
    routing["norm_p"] = r.normP;
    routing["norm_epsilon"] = r.normEpsilon;
    routing["n_group"] = r.nGroup;
    routing["topk_group"] = r.topkGroup;
    routing["group_score"] = stringifyGroupScore(r.groupScore).str();
    routing["scaling_factor"] = r.scalingFactor;
    routing["placement"] = stringifyWeightPlacement(r.placement).str();
    routing["router_bias"] = r.routerBias;
    routing["correction_bias"] = r.correctionBias;
    // Written when used, so descriptions of the other families stay as
    // they were.
    if (r.normMin != 0.0)
      routing["norm_min"] = r.normMin;
    if (r.jitterEps != 0.0)
      routing["jitter_eps"] = r.jitterEps;
    OrderedJson &experts = l["experts"];
    experts["activation"] = stringifyActivation(layer.ffn.activation).str();
    experts["alpha"] = layer.ffn.alpha;
    experts["limit"] = layer.ffn.limit;
    experts["bias"] = layer.ffn.bias;
    if (layer.shared) {
      l["shared_expert"]["intermediate_size"] = layer.shared->intermediateSize;
      l["shared_expert"]["sigmoid_gate"] = layer.shared->sigmoidGate;
    }
    layers.push_back(std::move(l));
  }
  root["moe_layers"] = std::move(layers);
  writePretty(root, os, 0);
  os << "\n";
}
