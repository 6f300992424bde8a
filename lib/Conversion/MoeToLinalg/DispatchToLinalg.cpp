//===- DispatchToLinalg.cpp - moe.dispatch and moe.combine ----------------===//
//
// Dispatch is a counting sort: a histogram of the expert ids, its prefix
// sum, and a scatter that visits the routed rows in order (so each expert's
// rows stay in ascending row order). These are sequential scf.for loops over
// tensors; nothing in linalg expresses a histogram or a scatter with
// conflicts. The combine is a linalg reduction over k in ascending order, so
// its sum is the same on every run.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "Patterns.h"

#include "moe/Dialect/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

Value indexOf(OpBuilder &b, Location loc, Value i32) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), i32);
}
Value i32Of(OpBuilder &b, Location loc, Value index) {
  return arith::IndexCastOp::create(b, loc, b.getI32Type(), index);
}

/// An empty 1-D tensor of `type` whose size, if dynamic, is `size`.
Value buildEmptyVector(OpBuilder &b, Location loc, RankedTensorType type,
                       Value size) {
  SmallVector<Value> sizes;
  if (type.isDynamicDim(0))
    sizes.push_back(size);
  return buildEmpty(b, loc, type, sizes);
}

struct DispatchToLinalg : OpRewritePattern<DispatchOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DispatchOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto idsType = op.getIndices().getType();
    int64_t topK = idsType.getDimSize(1);
    int64_t numExperts = op.getNumExperts();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value oneI32 = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1));
    Value experts = arith::ConstantIndexOp::create(b, loc, numExperts);

    // Routed row s = t * K + k.
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, op.getIndices(), SmallVector<ReassociationIndices>{{0, 1}});
    Value rows =
        arith::MulIOp::create(b, loc, buildDim(b, loc, op.getIndices(), 0),
                              arith::ConstantIndexOp::create(b, loc, topK));

    // Histogram of expert ids.
    auto countsType = RankedTensorType::get({numExperts}, b.getI32Type());
    Value counts = buildFilled(b, loc, countsType, {}, b.getI32IntegerAttr(0));
    counts = scf::ForOp::create(
                 b, loc, zero, rows, one, ValueRange{counts},
                 [&](OpBuilder &nb, Location nloc, Value s, ValueRange iter) {
                   Value expert = indexOf(
                       nb, nloc, tensor::ExtractOp::create(nb, nloc, flat, s));
                   Value count =
                       tensor::ExtractOp::create(nb, nloc, iter[0], expert);
                   Value incremented =
                       arith::AddIOp::create(nb, nloc, count, oneI32);
                   Value next = tensor::InsertOp::create(
                       nb, nloc, incremented, iter[0], ValueRange{expert});
                   scf::YieldOp::create(nb, nloc, next);
                 })
                 .getResult(0);

    // offsets[e + 1] = offsets[e] + counts[e].
    auto offsetsType = op.getOffsets().getType();
    Value offsets =
        buildFilled(b, loc, offsetsType, {}, b.getI32IntegerAttr(0));
    offsets =
        scf::ForOp::create(
            b, loc, zero, experts, one, ValueRange{offsets},
            [&](OpBuilder &nb, Location nloc, Value e, ValueRange iter) {
              Value start = tensor::ExtractOp::create(nb, nloc, iter[0], e);
              Value count = tensor::ExtractOp::create(nb, nloc, counts, e);
              Value sum = arith::AddIOp::create(nb, nloc, start, count);
              Value nextIndex = arith::AddIOp::create(nb, nloc, e, one);
              Value next = tensor::InsertOp::create(nb, nloc, sum, iter[0],
                                                    ValueRange{nextIndex});
              scf::YieldOp::create(nb, nloc, next);
            })
            .getResult(0);

    // Scatter each row to its expert's next free position.
    Value cursor = tensor::ExtractSliceOp::create(
        b, loc, countsType, offsets, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(numExperts)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    Value permutation =
        buildEmptyVector(b, loc, op.getPermutation().getType(), rows);
    auto scatter = scf::ForOp::create(
        b, loc, zero, rows, one, ValueRange{permutation, cursor},
        [&](OpBuilder &nb, Location nloc, Value s, ValueRange iter) {
          Value expert =
              indexOf(nb, nloc, tensor::ExtractOp::create(nb, nloc, flat, s));
          Value position = tensor::ExtractOp::create(nb, nloc, iter[1], expert);
          Value placed =
              tensor::InsertOp::create(nb, nloc, i32Of(nb, nloc, s), iter[0],
                                       indexOf(nb, nloc, position));
          Value nextPosition =
              arith::AddIOp::create(nb, nloc, position, oneI32);
          Value advanced = tensor::InsertOp::create(
              nb, nloc, nextPosition, iter[1], ValueRange{expert});
          scf::YieldOp::create(nb, nloc, ValueRange{placed, advanced});
        });
    rewriter.replaceOp(op, {scatter.getResult(0), offsets});
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
