//===- ReadModule.cpp - a moe dialect module back to ModelDesc ------------===//
//
// The inverse of buildModule, for the exporter: everything the JSON holds is
// in the module attributes, the moe.layer attributes and the weight shapes.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoeOps.h"
#include "moe/Import/Import.h"

using namespace mlir;
using namespace mlir::moe;

/// The compute type of `element`, or nothing.
static std::optional<DType> dtypeOf(Type element) {
  std::optional<DType> dtype = dtypeOfType(element);
  if (!dtype || !::moe::support::isComputeFloat(*dtype))
    return std::nullopt;
  return dtype;
}

/// How the layer's expert projections are stored: all four plain, or all
/// dequantized from arguments alike (what buildModule writes).
static FailureOr<QuantDesc> readQuantization(LayerOp op) {
  SmallVector<Value> weights = {op.getGateUp(), op.getDown()};
  if (op.getSharedDown())
    llvm::append_range(weights,
                       ValueRange{op.getSharedGateUp(), op.getSharedDown()});
  std::optional<QuantDesc> common;
  for (Value weight : weights) {
    QuantDesc quant;
    if (auto dequantize = weight.getDefiningOp<DequantizeOp>()) {
      quant.format = dequantize.isPackedE2M1() ? QuantDesc::Format::mxfp4
                                               : QuantDesc::Format::fp8;
      quant.dynamicActivations = quant.format == QuantDesc::Format::fp8;
      ArrayRef<int64_t> block = dequantize.getBlock();
      auto shape = dequantize.getResult().getType().getShape();
      int64_t rows = shape[shape.size() - 2] / dequantize.getStacked();
      // A block covering the projection is fp8's per-tensor scale.
      bool whole = quant.format == QuantDesc::Format::fp8 && block[0] >= rows &&
                   block[1] >= shape.back();
      quant.blockRows = whole ? 0 : block[0];
      quant.blockCols = whole ? 0 : block[1];
    }
    if (common && !(*common == quant))
      return op.emitError() << "reading the model back needs the expert "
                               "projections stored alike (all plain, or all "
                               "dequantized with one format and block)";
    common = quant;
  }
  return *common;
}

/// Reads the single moe.layer of `func` into a layer description.
static FailureOr<MoeLayerDesc> readLayer(func::FuncOp func, ModelDesc &model,
                                         bool first) {
  SmallVector<LayerOp> layers;
  func.walk([&](LayerOp op) { layers.push_back(op); });
  if (layers.size() != 1) {
    func.emitError()
        << "reading the model back needs exactly one moe.layer in @"
        << func.getSymName() << ", found " << layers.size()
        << " (before moe-decompose-layer)";
    return failure();
  }
  LayerOp op = layers.front();
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  std::optional<DType> dtype = dtypeOf(inputType.getElementType());
  int64_t hidden = inputType.getDimSize(1);
  if (!dtype || ShapedType::isDynamic(hidden)) {
    op.emitError()
        << "reading the model back needs a static hidden size and an f32, f16 "
           "or bf16 input, got "
        << inputType;
    return failure();
  }
  if (first) {
    model.hiddenSize = hidden;
    model.dtype = *dtype;
  } else if (model.hiddenSize != hidden || model.dtype != *dtype) {
    op.emitError() << "all MoE layers of a model must share the hidden size "
                      "and dtype";
    return failure();
  }

  FailureOr<QuantDesc> quant = readQuantization(op);
  if (failed(quant))
    return failure();
  quant->fp8ActivationGroup = op.getFfn().getFp8ActivationGroup();
  // Known to the module only where w8a8 uses it.
  quant->pow2ActivationScales = op.getFfn().getFp8Pow2Scales();
  if (first) {
    model.quant = *quant;
  } else if (!(model.quant == *quant)) {
    op.emitError() << "all MoE layers of a model must store their weights "
                      "alike";
    return failure();
  }

  MoeLayerDesc layer;
  auto down = cast<RankedTensorType>(op.getDown().getType());
  layer.numExperts = down.getDimSize(0);
  layer.intermediateSize = down.getDimSize(2);
  RoutingAttr r = op.getRouting();
  layer.routing = RoutingDesc{r.getScoring(),
                              r.getTopK(),
                              r.getNormalization(),
                              r.getNormP().convertToDouble(),
                              r.getNormEpsilon().convertToDouble(),
                              r.getNGroup(),
                              r.getTopkGroup(),
                              r.getGroupScore(),
                              r.getScalingFactor().convertToDouble(),
                              r.getPlacement(),
                              static_cast<bool>(op.getRouterBias()),
                              static_cast<bool>(op.getCorrectionBias()),
                              r.getNormMin().convertToDouble(),
                              r.getJitterEps().convertToDouble()};
  FfnAttr ffn = op.getFfn();
  layer.ffn = FfnDesc{ffn.getActivation(), ffn.getAlpha().convertToDouble(),
                      ffn.getLimit().convertToDouble(),
                      static_cast<bool>(op.getGateUpBias())};
  if (op.getSharedDown()) {
    auto sharedDown = cast<RankedTensorType>(op.getSharedDown().getType());
    layer.shared = SharedExpertDesc{sharedDown.getDimSize(1),
                                    static_cast<bool>(op.getSharedGate())};
  }
  return layer;
}

FailureOr<ModelDesc> mlir::moe::readModule(ModuleOp module) {
  auto modelAttr =
      module->getAttrOfType<DictionaryAttr>(MoeDialect::kModelAttrName);
  auto layerMap =
      module->getAttrOfType<DictionaryAttr>(MoeDialect::kLayerMapAttrName);
  if (!modelAttr || !layerMap) {
    module.emitError() << "reading the model back needs the module attributes '"
                       << MoeDialect::kModelAttrName << "' and '"
                       << MoeDialect::kLayerMapAttrName << "'";
    return failure();
  }
  ModelDesc model;
  // The module verifier has checked the attributes' structure.
  model.name = cast<StringAttr>(modelAttr.get("name")).str();
  model.source = cast<StringAttr>(modelAttr.get("source")).str();
  model.numLayers = cast<IntegerAttr>(modelAttr.get("num_layers")).getInt();
  for (NamedAttribute entry : layerMap) {
    auto func = module.lookupSymbol<func::FuncOp>(entry.getName());
    if (!func) {
      module.emitError() << "no function @" << entry.getName().getValue();
      return failure();
    }
    FailureOr<MoeLayerDesc> layer =
        readLayer(func, model, model.moeLayers.empty());
    if (failed(layer))
      return failure();
    llvm::append_range(layer->layers,
                       cast<DenseI64ArrayAttr>(entry.getValue()).asArrayRef());
    model.moeLayers.push_back(std::move(*layer));
  }
  if (model.moeLayers.empty()) {
    module.emitError() << "'" << MoeDialect::kLayerMapAttrName
                       << "' lists no MoE layer";
    return failure();
  }
  mergeSameShapeLayers(model);
  return model;
}
