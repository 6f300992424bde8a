//===- DecomposeLayer.cpp - expand moe.layer into its parts ---------------===//

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEDECOMPOSELAYER
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct DecomposeLayerPattern : OpRewritePattern<LayerOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LayerOp layer,
                                PatternRewriter &rewriter) const override {
    Location loc = layer.getLoc();
    Value input = layer.getInput();
    auto inputType = cast<RankedTensorType>(input.getType());
    int64_t tokens = inputType.getDimSize(0);
    int64_t hidden = inputType.getDimSize(1);
    auto weightType = cast<RankedTensorType>(layer.getRouterWeight().getType());
    int64_t numExperts = weightType.getDimSize(0);
    RoutingAttr routing = layer.getRouting();
    int64_t topK = routing.getTopK();
    Type f32 = rewriter.getF32Type();
    Type i32 = rewriter.getI32Type();

    auto logits = RouterOp::create(
        rewriter, loc, RankedTensorType::get({tokens, numExperts}, f32), input,
        layer.getRouterWeight(), layer.getRouterBias());
    auto gate = GateOp::create(rewriter, loc,
                               RankedTensorType::get({tokens, topK}, f32),
                               RankedTensorType::get({tokens, topK}, i32),
                               logits, layer.getCorrectionBias(), routing);

    int64_t rows =
        ShapedType::isDynamic(tokens) ? ShapedType::kDynamic : tokens * topK;
    auto dispatch = DispatchOp::create(
        rewriter, loc, RankedTensorType::get({rows}, i32),
        RankedTensorType::get({numExperts + 1}, i32), gate.getIndices(),
        rewriter.getI64IntegerAttr(numExperts));

    // Llama 4 scales the expert's input by the routing weight, so the
    // combine then sums the rows unscaled.
    bool weightOnInput = routing.getPlacement() == WeightPlacement::input;
    Value rowScale = weightOnInput ? gate.getWeights() : Value();
    Value combineWeights = weightOnInput ? Value() : gate.getWeights();
    auto experts = ExpertsOp::create(
        rewriter, loc, RankedTensorType::get({rows, hidden}, f32), input,
        dispatch.getPermutation(), dispatch.getOffsets(), layer.getGateUp(),
        layer.getDown(), layer.getGateUpBias(), layer.getDownBias(), rowScale,
        layer.getFfn(), rewriter.getI64IntegerAttr(topK));
    // With a shared expert, both halves stay in f32 and the sum is rounded
    // to the storage type once, not each half separately.
    bool hasShared = static_cast<bool>(layer.getSharedGateUp());
    auto partType = hasShared ? inputType.clone(f32) : inputType;
    Value result = CombineOp::create(rewriter, loc, partType, experts,
                                     dispatch.getPermutation(), combineWeights,
                                     rewriter.getI64IntegerAttr(topK));
    if (hasShared) {
      Value shared = SharedExpertOp::create(
          rewriter, loc, partType, input, layer.getSharedGateUp(),
          layer.getSharedDown(), layer.getSharedGate(), layer.getFfn());
      result = arith::AddFOp::create(rewriter, loc, result, shared);
      if (partType != inputType)
        result = arith::TruncFOp::create(rewriter, loc, inputType, result);
    }
    rewriter.replaceOp(layer, result);
    return success();
  }
};

struct MoeDecomposeLayerPass
    : moe::impl::MoeDecomposeLayerBase<MoeDecomposeLayerPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMoeDecomposeLayerPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::moe::populateMoeDecomposeLayerPatterns(RewritePatternSet &patterns) {
  patterns.add<DecomposeLayerPattern>(patterns.getContext());
}
