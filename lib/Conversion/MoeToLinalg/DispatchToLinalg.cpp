//===- DispatchToLinalg.cpp - moe.dispatch and moe.combine ----------------===//
//
// Dispatch is a counting sort: a histogram of the expert ids (a linalg
// reduction over the rows per expert), its prefix sum (an scf.for over the
// experts), and a scatter in which each expert walks the routed rows in
// order and appends its own to its segment (an scf.forall over the experts,
// so each expert's rows stay in ascending row order). Nothing in linalg
// expresses a scatter with conflicts; per expert there are none. The combine is
// a linalg reduction over k in ascending order, so its sum is the same on every
// run.
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

/// Histogram of expert ids: counts[e] = #{s : flat[s] == e}, a reduction
/// over the rows per expert, so the experts' counts can be taken in
/// parallel (moe-distribute-threads: a thread per expert).
Value buildExpertCounts(OpBuilder &b, Location loc, Value flat,
                        int64_t numExperts) {
  auto countsType = RankedTensorType::get({numExperts}, b.getI32Type());
  Value zeros = buildFilled(b, loc, countsType, {}, b.getI32IntegerAttr(0));
  MLIRContext *ctx = b.getContext();
  AffineExpr e, s;
  bindDims(ctx, e, s);
  return linalg::GenericOp::create(
             b, loc, countsType, ValueRange{flat}, ValueRange{zeros},
             {AffineMap::get(2, 0, {s}, ctx), AffineMap::get(2, 0, {e}, ctx)},
             {utils::IteratorType::parallel, utils::IteratorType::reduction},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value expert =
                   i32Of(nb, nloc, linalg::IndexOp::create(nb, nloc, 0));
               Value mine = arith::CmpIOp::create(
                   nb, nloc, arith::CmpIPredicate::eq, args[0], expert);
               Value one =
                   arith::ExtUIOp::create(nb, nloc, nb.getI32Type(), mine);
               linalg::YieldOp::create(
                   nb, nloc,
                   arith::AddIOp::create(nb, nloc, args[1], one).getResult());
             })
      .getResult(0);
}

/// offsets[e + 1] = offsets[e] + counts[e]: E steps, in order.
Value buildOffsets(OpBuilder &b, Location loc, RankedTensorType offsetsType,
                   Value counts, Value zero, Value one, Value experts) {
  Value offsets = buildFilled(b, loc, offsetsType, {}, b.getI32IntegerAttr(0));
  return scf::ForOp::create(
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
}

/// The permutation: each expert (in parallel: their segments are disjoint)
/// walks the `rows` routed rows of `flat` in order and appends its own to
/// its segment offsets[e] .. offsets[e + 1], so each expert's rows stay in
/// ascending order. The segment is a slice of the permutation, filled in
/// place.
Value buildPermutation(OpBuilder &b, Location loc, RankedTensorType type,
                       Value flat, Value rows, Value counts, Value offsets,
                       int64_t numExperts, Value zero, Value one) {
  Value permutation = buildEmptyVector(b, loc, type, rows);
  auto scatter = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(numExperts)},
      ValueRange{permutation}, /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(scatter.getTerminator());
  Value expert = scatter.getInductionVar(0);
  Value whole = scatter.getRegionIterArgs()[0];
  Value start =
      indexOf(b, loc, tensor::ExtractOp::create(b, loc, offsets, expert));
  Value count =
      indexOf(b, loc, tensor::ExtractOp::create(b, loc, counts, expert));
  SmallVector<OpFoldResult> offset = {start}, size = {count},
                            stride = {b.getIndexAttr(1)};
  Value segment =
      tensor::ExtractSliceOp::create(b, loc, whole, offset, size, stride);
  Value expertI32 = i32Of(b, loc, expert);
  auto walk = scf::ForOp::create(
      b, loc, zero, rows, one, ValueRange{segment, zero},
      [&](OpBuilder &lb, Location lloc, Value row, ValueRange iter) {
        Value id = tensor::ExtractOp::create(lb, lloc, flat, row);
        Value mine = arith::CmpIOp::create(lb, lloc, arith::CmpIPredicate::eq,
                                           id, expertI32);
        auto append = scf::IfOp::create(
            lb, lloc, mine,
            [&](OpBuilder &ib, Location iloc) {
              Value placed = tensor::InsertOp::create(
                  ib, iloc, i32Of(ib, iloc, row), iter[0], ValueRange{iter[1]});
              Value next = arith::AddIOp::create(ib, iloc, iter[1], one);
              scf::YieldOp::create(ib, iloc, ValueRange{placed, next});
            },
            [&](OpBuilder &ib, Location iloc) {
              scf::YieldOp::create(ib, iloc, iter);
            });
        scf::YieldOp::create(lb, lloc, append.getResults());
      });
  b.setInsertionPointToEnd(scatter.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, walk.getResult(0), whole,
                                        offset, size, stride);
  return scatter.getResult(0);
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
    Value experts = arith::ConstantIndexOp::create(b, loc, numExperts);

    // Routed row s = t * K + k.
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, op.getIndices(), SmallVector<ReassociationIndices>{{0, 1}});
    Value rows =
        arith::MulIOp::create(b, loc, buildDim(b, loc, op.getIndices(), 0),
                              arith::ConstantIndexOp::create(b, loc, topK));
    Value counts = buildExpertCounts(b, loc, flat, numExperts);
    Value offsets = buildOffsets(b, loc, op.getOffsets().getType(), counts,
                                 zero, one, experts);
    Value permutation =
        buildPermutation(b, loc, op.getPermutation().getType(), flat, rows,
                         counts, offsets, numExperts, zero, one);
    rewriter.replaceOp(op, {permutation, offsets});
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
