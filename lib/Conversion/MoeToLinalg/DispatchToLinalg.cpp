//===- DispatchToLinalg.cpp - moe.dispatch and moe.combine ----------------===//
//
// Dispatch is a stable counting sort (buildCountingSort, CountingSort.cpp).
// The combine is a linalg reduction over k in ascending order, so its sum
// is the same on every run.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "moe/Dialect/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

struct DispatchToLinalg : OpRewritePattern<DispatchOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DispatchOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto idsType = op.getIndices().getType();
    int64_t topK = idsType.getDimSize(1);
    int64_t numExperts = op.getNumExperts();

    // Routed row s = t * K + k.
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, op.getIndices(), SmallVector<ReassociationIndices>{{0, 1}});
    Value rows =
        arith::MulIOp::create(b, loc, buildDim(b, loc, op.getIndices(), 0),
                              arith::ConstantIndexOp::create(b, loc, topK));
    CountingSortResult sorted = buildCountingSort(
        b, loc, flat, rows, numExperts, op.getPermutation().getType(),
        op.getOffsets().getType(), /*withInverse=*/false);
    rewriter.replaceOp(op, {sorted.permutation, sorted.offsets});
    return success();
  }
};

struct CombineToLinalg : OpRewritePattern<CombineOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CombineOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    int64_t topK = op.getTopK();
    Value permutation = op.getPermutation();
    Value rowCount = buildDim(b, loc, permutation, 0);
    Value tokens = arith::DivUIOp::create(
        b, loc, rowCount, arith::ConstantIndexOp::create(b, loc, topK));
    Value inverse = buildInversePermutation(b, loc, permutation, rowCount);
    // Without weights (applied to the expert input) every row counts once.
    Value weights = op.getWeights();
    if (!weights)
      weights = buildFilled(
          b, loc,
          RankedTensorType::get({ShapedType::kDynamic, topK}, b.getF32Type()),
          tokens, b.getF32FloatAttr(1.0));
    Value sum = buildCombineRows(b, loc, op.getRows(), inverse, weights,
                                 arith::ConstantIndexOp::create(b, loc, 0),
                                 tokens, topK);
    rewriter.replaceOp(op, buildResult(b, loc, sum, op.getResult().getType()));
    return success();
  }
};
} // namespace

void mlir::moe::populateDispatchToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<DispatchToLinalg, CombineToLinalg>(patterns.getContext());
}
