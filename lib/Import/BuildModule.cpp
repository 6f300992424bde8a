//===- BuildModule.cpp - ModelDesc to a moe dialect module ----------------===//

#include "moe/Dialect/MoeOps.h"
#include "moe/Import/Import.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// A projection weight as a quantized checkpoint stores it: values, scales
/// and the moe.dequantize attributes. Null types for unquantized models.
struct StoredWeight {
  RankedTensorType values, scale;
  SmallVector<int64_t> block;
  int64_t stacked = 1;

  /// `weight` ([..., rows, cols] of the model dtype) stored as `quant`
  /// says, its rows `stacked` parts scaled separately.
  static StoredWeight get(RankedTensorType weight, const QuantDesc &quant,
                          int64_t stacked) {
    StoredWeight stored;
    if (!quant.isQuantized())
      return stored;
    MLIRContext *context = weight.getContext();
    SmallVector<int64_t> shape(weight.getShape());
    int64_t rank = shape.size();
    int64_t rows = shape[rank - 2] / stacked, cols = shape[rank - 1];
    stored.stacked = stacked;
    stored.block = {quant.blockRows ? quant.blockRows : rows,
                    quant.blockCols ? quant.blockCols : cols};
    SmallVector<int64_t> scaleShape =
        DequantizeOp::getScaleShape(shape, stored.block, stacked);
    if (quant.format == QuantDesc::Format::fp8) {
      stored.values =
          RankedTensorType::get(shape, Float8E4M3FNType::get(context));
      stored.scale =
          RankedTensorType::get(scaleShape, Float32Type::get(context));
    } else {
      shape.back() /= 2;
      stored.values =
          RankedTensorType::get(shape, IntegerType::get(context, 8));
      stored.scale =
          RankedTensorType::get(scaleShape, Float8E8M0FNUType::get(context));
    }
    return stored;
  }
};

/// The types of one MoE layer function's arguments, in `moe.layer` operand
/// order; absent optional operands are null.
struct LayerSignature {
  RankedTensorType input, routerWeight, routerBias, correctionBias, gateUp,
      down, gateUpBias, downBias, sharedGateUp, sharedDown, sharedGate;
  /// Quantized models: the stored projections and their scales, which
  /// moe.dequantize turns into gateUp, down, sharedGateUp and sharedDown.
  StoredWeight storedGateUp, storedDown, storedSharedGateUp, storedSharedDown;

  LayerSignature(const ModelDesc &model, const MoeLayerDesc &layer,
                 MLIRContext *context) {
    Type dt = getDTypeType(context, model.dtype);
    Type f32 = Float32Type::get(context);
    int64_t h = model.hiddenSize, e = layer.numExperts;
    int64_t i = layer.intermediateSize;
    int64_t rows = layer.ffn.activation == Activation::relu ? i : 2 * i;
    auto tensor = [](ArrayRef<int64_t> shape, Type element) {
      return RankedTensorType::get(shape, element);
    };
    input = tensor({ShapedType::kDynamic, h}, dt);
    routerWeight = tensor({e, h}, dt);
    if (layer.routing.routerBias)
      routerBias = tensor({e}, dt);
    // DeepSeek-V3 keeps e_score_correction_bias in f32.
    if (layer.routing.correctionBias)
      correctionBias = tensor({e}, f32);
    gateUp = tensor({e, rows, h}, dt);
    down = tensor({e, h, i}, dt);
    if (layer.ffn.bias) {
      gateUpBias = tensor({e, rows}, dt);
      downBias = tensor({e, h}, dt);
    }
    if (layer.shared) {
      int64_t si = layer.shared->intermediateSize;
      sharedGateUp = tensor(
          {layer.ffn.activation == Activation::relu ? si : 2 * si, h}, dt);
      sharedDown = tensor({h, si}, dt);
      if (layer.shared->sigmoidGate)
        sharedGate = tensor({1, h}, dt);
    }
    int64_t parts = layer.ffn.activation == Activation::relu ? 1 : 2;
    storedGateUp = StoredWeight::get(gateUp, model.quant, parts);
    storedDown = StoredWeight::get(down, model.quant, 1);
    if (layer.shared) {
      storedSharedGateUp = StoredWeight::get(sharedGateUp, model.quant, parts);
      storedSharedDown = StoredWeight::get(sharedDown, model.quant, 1);
    }
  }

  /// The function's arguments: each weight as stored, a quantized one
  /// followed by its scale.
  SmallVector<Type> argumentTypes() const {
    SmallVector<Type> types;
    auto add = [&](RankedTensorType type, const StoredWeight *stored) {
      if (!type)
        return;
      if (stored && stored->values) {
        types.push_back(stored->values);
        types.push_back(stored->scale);
      } else {
        types.push_back(type);
      }
    };
    add(input, nullptr);
    add(routerWeight, nullptr);
    add(routerBias, nullptr);
    add(correctionBias, nullptr);
    add(gateUp, &storedGateUp);
    add(down, &storedDown);
    add(gateUpBias, nullptr);
    add(downBias, nullptr);
    add(sharedGateUp, &storedSharedGateUp);
    add(sharedDown, &storedSharedDown);
    add(sharedGate, nullptr);
    return types;
  }
};
} // namespace

OwningOpRef<ModuleOp>
mlir::moe::buildModule(const ModelDesc &model, MLIRContext *context,
                       llvm::function_ref<Location(llvm::StringRef)> locate) {
  context->loadDialect<MoeDialect, func::FuncDialect>();
  auto locOf = [&](llvm::StringRef path) -> Location {
    return locate ? locate(path) : UnknownLoc::get(context);
  };
  OwningOpRef<ModuleOp> module = ModuleOp::create(locOf(""));
  OpBuilder builder(context);
  (*module)->setAttr(
      MoeDialect::kModelAttrName,
      builder.getDictionaryAttr(
          {builder.getNamedAttr("name", builder.getStringAttr(model.name)),
           builder.getNamedAttr("source", builder.getStringAttr(model.source)),
           builder.getNamedAttr("num_layers",
                                builder.getI64IntegerAttr(model.numLayers))}));

  SmallVector<NamedAttribute> layerMap;
  builder.setInsertionPointToEnd(module->getBody());
  for (auto [index, layer] : llvm::enumerate(model.moeLayers)) {
    std::string name = "moe_layer_" + std::to_string(index);
    Location loc = NameLoc::get(builder.getStringAttr(name),
                                locOf(layer.paths.lookup("num_experts")));
    LayerSignature sig(model, layer, context);
    auto func = func::FuncOp::create(
        builder, loc, name,
        builder.getFunctionType(sig.argumentTypes(), {sig.input}));
    Block *body = func.addEntryBlock();
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(body);

    // Hand out the block arguments in signature order.
    auto args = body->getArguments();
    size_t next = 0;
    auto take = [&](RankedTensorType type) -> Value {
      return type ? args[next++] : Value();
    };
    // A quantized weight is its moe.dequantize of the next two arguments.
    auto takeStored = [&](RankedTensorType type,
                          const StoredWeight &stored) -> Value {
      if (!type || !stored.values)
        return take(type);
      Value values = args[next++];
      Value scale = args[next++];
      return DequantizeOp::create(builder, loc, type, values, scale,
                                  builder.getDenseI64ArrayAttr(stored.block),
                                  builder.getI64IntegerAttr(stored.stacked));
    };
    Value input = take(sig.input), routerWeight = take(sig.routerWeight),
          routerBias = take(sig.routerBias),
          correctionBias = take(sig.correctionBias),
          gateUp = takeStored(sig.gateUp, sig.storedGateUp),
          down = takeStored(sig.down, sig.storedDown),
          gateUpBias = take(sig.gateUpBias), downBias = take(sig.downBias),
          sharedGateUp = takeStored(sig.sharedGateUp, sig.storedSharedGateUp),
          sharedDown = takeStored(sig.sharedDown, sig.storedSharedDown),
          sharedGate = take(sig.sharedGate);

    const RoutingDesc &r = layer.routing;
    auto routing =
        RoutingAttr::get(context, r.scoring, r.topK, r.normalization,
                         APFloat(r.normP), APFloat(r.normEpsilon), r.nGroup,
                         r.topkGroup, r.groupScore, APFloat(r.scalingFactor),
                         r.placement, APFloat(r.normMin), APFloat(r.jitterEps));
    auto ffn = FfnAttr::get(
        context, layer.ffn.activation, APFloat(layer.ffn.alpha),
        APFloat(layer.ffn.limit), model.quant.fp8ActivationGroup,
        model.quant.fp8ActivationGroup && model.quant.pow2ActivationScales);
    Value result = LayerOp::create(builder, loc, sig.input, input, routerWeight,
                                   routerBias, correctionBias, gateUp, down,
                                   gateUpBias, downBias, sharedGateUp,
                                   sharedDown, sharedGate, routing, ffn);
    func::ReturnOp::create(builder, loc, result);
    layerMap.push_back(
        builder.getNamedAttr(name, builder.getDenseI64ArrayAttr(layer.layers)));
  }
  (*module)->setAttr(MoeDialect::kLayerMapAttrName,
                     builder.getDictionaryAttr(layerMap));
  return module;
}
