//===- ExpertsToLinalg.cpp - moe.experts and moe.shared_expert ------------===//
//
// The grouped FFN loops over experts; each iteration gathers its contiguous
// range of dispatched rows (offsets[e] .. offsets[e + 1]) into a dense
// [n, H] tile, runs the FFN on it with linalg GEMMs of dynamic size n, and
// inserts the result at the same rows. An expert that receives no row runs
// GEMMs of size zero.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "moe/Dialect/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Expert `e`'s slice of a stacked weight [E, ...] with the leading
/// dimension dropped (of a quantized weight: that expert dequantized, in
/// `element` if given).
Value expertSlice(OpBuilder &b, Location loc, Value stacked, Value expert,
                  Type element = Type()) {
  auto type = cast<RankedTensorType>(stacked.getType());
  SmallVector<OpFoldResult> offsets = {expert};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1)};
  for (int64_t d = 1; d < type.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
  }
  return buildWeightSlice(b, loc, stacked, offsets, sizes, /*droppedDims=*/1,
                          /*init=*/Value(), element);
}

struct ExpertsToLinalg : OpRewritePattern<ExpertsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    int64_t topK = op.getTopK();
    auto resultType = op.getResult().getType();
    int64_t hidden = resultType.getDimSize(1);
    int64_t numExperts =
        cast<RankedTensorType>(op.getGateUp().getType()).getDimSize(0);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value permutation = op.getPermutation();
    Value offsets = op.getOffsets();
    Value rowCount = buildDim(b, loc, permutation, 0);
    SmallVector<Value> resultSizes;
    if (resultType.isDynamicDim(0))
      resultSizes.push_back(rowCount);
    Value result = buildEmpty(b, loc, resultType, resultSizes);

    auto loop = scf::ForOp::create(
        b, loc, zero, arith::ConstantIndexOp::create(b, loc, numExperts), one,
        ValueRange{result},
        [&](OpBuilder &nb, Location nloc, Value expert, ValueRange iter) {
          auto toIndex = [&](Value v) -> Value {
            return arith::IndexCastOp::create(nb, nloc, nb.getIndexType(), v);
          };
          Value start =
              toIndex(tensor::ExtractOp::create(nb, nloc, offsets, expert));
          Value next = arith::AddIOp::create(nb, nloc, expert, one);
          Value end = toIndex(
              tensor::ExtractOp::create(nb, nloc, offsets, ValueRange{next}));
          Value count = arith::SubIOp::create(nb, nloc, end, start);
          Value rows =
              buildGatherRows(nb, nloc, op.getInput(), op.getPermutation(),
                              op.getRowScale(), start, count, topK);
          Value bias = op.getGateUpBias()
                           ? expertSlice(nb, nloc, op.getGateUpBias(), expert)
                           : Value();
          Value downBias = op.getDownBias()
                               ? expertSlice(nb, nloc, op.getDownBias(), expert)
                               : Value();
          // w8a8 multiplies the weights exactly (buildFfn).
          Type exact =
              op.getFfn().getFp8ActivationGroup() ? nb.getF32Type() : Type();
          Value output =
              buildFfn(nb, nloc, op.getFfn(), rows,
                       expertSlice(nb, nloc, op.getGateUp(), expert, exact),
                       expertSlice(nb, nloc, op.getDown(), expert, exact), bias,
                       downBias);
          SmallVector<OpFoldResult> offsetsAt = {start, nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {count, nb.getIndexAttr(hidden)};
          SmallVector<OpFoldResult> strides = {nb.getIndexAttr(1),
                                               nb.getIndexAttr(1)};
          Value inserted = tensor::InsertSliceOp::create(
              nb, nloc, output, iter[0], offsetsAt, sizes, strides);
          scf::YieldOp::create(nb, nloc, inserted);
        });
    Value lowered = loop.getResult(0);
    rewriter.replaceOp(op, lowered);
    return success();
  }
};

struct SharedExpertToLinalg : OpRewritePattern<SharedExpertOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SharedExpertOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value output = buildFfn(b, loc, op.getFfn(), op.getInput(), op.getGateUp(),
                            op.getDown(), Value(), Value());
    if (Value gate = op.getGate()) {
      // output[t, h] *= sigmoid(input[t] . gate[0]).
      Value logit = buildLinear(b, loc, op.getInput(), gate); // [T, 1]
      MLIRContext *ctx = b.getContext();
      AffineExpr t, h;
      bindDims(ctx, t, h);
      auto type = cast<RankedTensorType>(output.getType());
      SmallVector<Value> sizes;
      if (type.isDynamicDim(0))
        sizes.push_back(buildDim(b, loc, output, 0));
      Value init = buildEmpty(b, loc, type, sizes);
      output =
          linalg::GenericOp::create(
              b, loc, type, ValueRange{output, logit}, ValueRange{init},
              {AffineMap::get(2, 0, {t, h}, ctx),
               AffineMap::get(2, 0, {t, b.getAffineConstantExpr(0)}, ctx),
               AffineMap::get(2, 0, {t, h}, ctx)},
              {utils::IteratorType::parallel, utils::IteratorType::parallel},
              [](OpBuilder &nb, Location nloc, ValueRange args) {
                Value scale = buildSigmoid(nb, nloc, args[1]);
                linalg::YieldOp::create(
                    nb, nloc,
                    arith::MulFOp::create(nb, nloc, args[0], scale)
                        .getResult());
              })
              .getResult(0);
    }
    rewriter.replaceOp(op,
                       buildResult(b, loc, output, op.getResult().getType()));
    return success();
  }
};
} // namespace

void mlir::moe::populateExpertsToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<ExpertsToLinalg, SharedExpertToLinalg>(patterns.getContext());
}
