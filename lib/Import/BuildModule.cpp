//===- BuildModule.cpp - ModelDesc to a moe dialect module ----------------===//

#include "moe/Dialect/MoeOps.h"
#include "moe/Import/Import.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
/// The types of one MoE layer function's arguments, in `moe.layer` operand
/// order; absent optional operands are null.
struct LayerSignature {
  RankedTensorType input, routerWeight, routerBias, correctionBias, gateUp,
      down, gateUpBias, downBias, sharedGateUp, sharedDown, sharedGate;

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
  }

  SmallVector<Type> argumentTypes() const {
    SmallVector<Type> types;
    for (RankedTensorType t :
         {input, routerWeight, routerBias, correctionBias, gateUp, down,
          gateUpBias, downBias, sharedGateUp, sharedDown, sharedGate})
      if (t)
        types.push_back(t);
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
    Value input = take(sig.input), routerWeight = take(sig.routerWeight),
          routerBias = take(sig.routerBias),
          correctionBias = take(sig.correctionBias), gateUp = take(sig.gateUp),
          down = take(sig.down), gateUpBias = take(sig.gateUpBias),
          downBias = take(sig.downBias), sharedGateUp = take(sig.sharedGateUp),
          sharedDown = take(sig.sharedDown), sharedGate = take(sig.sharedGate);

    const RoutingDesc &r = layer.routing;
    auto routing = RoutingAttr::get(context, r.scoring, r.topK, r.normalization,
                                    APFloat(r.normP), APFloat(r.normEpsilon),
                                    r.nGroup, r.topkGroup, r.groupScore,
                                    APFloat(r.scalingFactor), r.placement);
    auto ffn = FfnAttr::get(context, layer.ffn.activation,
                            APFloat(layer.ffn.alpha), APFloat(layer.ffn.limit));
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
