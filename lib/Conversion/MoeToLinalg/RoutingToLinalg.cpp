//===- RoutingToLinalg.cpp - moe.router and moe.gate to linalg ------------===//
//
// The gate is written with whole-batch linalg ops over [T, E]: row
// reductions for softmax and group scores, and top-k as k argmax passes,
// each removing its winner. k is small (<= 8 in every published model), and
// argmax passes keep the tie rule (lower index wins) explicit and
// independent of iteration order.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "moe/Dialect/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Builders over [T, N] f32 tensors with a dynamic token count.
struct RowOps {
  OpBuilder &b;
  Location loc;
  Value tokens; // T, as an index

  RankedTensorType vectorType(Type element) const {
    return RankedTensorType::get({ShapedType::kDynamic}, element);
  }
  RankedTensorType matrixType(int64_t columns, Type element) const {
    return RankedTensorType::get({ShapedType::kDynamic, columns}, element);
  }
  Value f32(double value) const {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  }
  Value index(int64_t value) const {
    return arith::ConstantIndexOp::create(b, loc, value);
  }

  /// result[t] = fold over n of `combine(acc, x[t, n])`, from `init`.
  Value reduceRows(
      Value matrix, double init,
      function_ref<Value(OpBuilder &, Location, Value, Value)> combine) const {
    MLIRContext *ctx = b.getContext();
    AffineExpr t, n;
    bindDims(ctx, t, n);
    Value out = buildFilled(b, loc, vectorType(b.getF32Type()), tokens,
                            b.getF32FloatAttr(init));
    auto generic = linalg::GenericOp::create(
        b, loc, out.getType(), ValueRange{matrix}, ValueRange{out},
        {AffineMap::get(2, 0, {t, n}, ctx), AffineMap::get(2, 0, {t}, ctx)},
        {utils::IteratorType::parallel, utils::IteratorType::reduction},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          linalg::YieldOp::create(nb, nloc,
                                  combine(nb, nloc, args[1], args[0]));
        });
    return generic.getResult(0);
  }

  /// result[t, n] = body(x[t, n], row[t], n) over a [T, N] matrix and a [T]
  /// vector.
  Value
  mapWithRow(Value matrix, Value row, Type element,
             function_ref<Value(OpBuilder &, Location, Value, Value, Value)>
                 body) const {
    MLIRContext *ctx = b.getContext();
    AffineExpr t, n;
    bindDims(ctx, t, n);
    int64_t columns = cast<RankedTensorType>(matrix.getType()).getDimSize(1);
    Value init = buildEmpty(b, loc, matrixType(columns, element), tokens);
    auto generic = linalg::GenericOp::create(
        b, loc, init.getType(), ValueRange{matrix, row}, ValueRange{init},
        {AffineMap::get(2, 0, {t, n}, ctx), AffineMap::get(2, 0, {t}, ctx),
         AffineMap::get(2, 0, {t, n}, ctx)},
        {utils::IteratorType::parallel, utils::IteratorType::parallel},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value column = linalg::IndexOp::create(nb, nloc, 1);
          linalg::YieldOp::create(nb, nloc,
                                  body(nb, nloc, args[0], args[1], column));
        });
    return generic.getResult(0);
  }

  /// Softmax over each row.
  Value softmax(Value matrix) const {
    Value rowMax = reduceRows(
        matrix, -std::numeric_limits<double>::infinity(),
        [](OpBuilder &nb, Location nloc, Value acc, Value x) -> Value {
          return arith::MaximumFOp::create(nb, nloc, acc, x);
        });
    Value exps = mapWithRow(
        matrix, rowMax, b.getF32Type(),
        [](OpBuilder &nb, Location nloc, Value x, Value max, Value) -> Value {
          return math::ExpOp::create(nb, nloc,
                                     arith::SubFOp::create(nb, nloc, x, max));
        });
    Value rowSum = reduceRows(
        exps, 0.0, [](OpBuilder &nb, Location nloc, Value acc, Value x) {
          return arith::AddFOp::create(nb, nloc, acc, x).getResult();
        });
    return mapWithRow(
        exps, rowSum, b.getF32Type(),
        [](OpBuilder &nb, Location nloc, Value x, Value sum, Value) -> Value {
          return arith::DivFOp::create(nb, nloc, x, sum);
        });
  }

  /// The largest entry of each row and its column (ties: lowest column).
  std::pair<Value, Value> argmax(Value matrix) const {
    MLIRContext *ctx = b.getContext();
    AffineExpr t, n;
    bindDims(ctx, t, n);
    Value best = buildFilled(
        b, loc, vectorType(b.getF32Type()), tokens,
        b.getF32FloatAttr(-std::numeric_limits<double>::infinity()));
    Value bestIndex =
        buildFilled(b, loc, vectorType(b.getI32Type()), tokens,
                    b.getI32IntegerAttr(std::numeric_limits<int32_t>::max()));
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange{best.getType(), bestIndex.getType()},
        ValueRange{matrix}, ValueRange{best, bestIndex},
        {AffineMap::get(2, 0, {t, n}, ctx), AffineMap::get(2, 0, {t}, ctx),
         AffineMap::get(2, 0, {t}, ctx)},
        {utils::IteratorType::parallel, utils::IteratorType::reduction},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          Value x = args[0], acc = args[1], accIndex = args[2];
          Value column = arith::IndexCastOp::create(
              nb, nloc, nb.getI32Type(), linalg::IndexOp::create(nb, nloc, 1));
          Value greater = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::OGT, x, acc);
          Value equal = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::OEQ, x, acc);
          Value lower = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::slt, column, accIndex);
          Value take = arith::OrIOp::create(
              nb, nloc, greater, arith::AndIOp::create(nb, nloc, equal, lower));
          linalg::YieldOp::create(
              nb, nloc,
              ValueRange{
                  arith::SelectOp::create(nb, nloc, take, x, acc),
                  arith::SelectOp::create(nb, nloc, take, column, accIndex)});
        });
    return {generic.getResult(0), generic.getResult(1)};
  }

  /// The `k` largest entries of each row, largest first: their values and
  /// columns as k vectors [T] each.
  void topK(Value matrix, int64_t k, SmallVectorImpl<Value> &values,
            SmallVectorImpl<Value> &columns) const {
    Value remaining = matrix;
    for (int64_t i = 0; i < k; ++i) {
      auto [value, column] = argmax(remaining);
      values.push_back(value);
      columns.push_back(column);
      if (i + 1 == k)
        break;
      // Remove the winner so the next pass finds the runner-up.
      remaining = removeColumns(remaining, column);
    }
  }

  /// matrix with matrix[t, columns[t]] set to -inf (columns: [T] i32).
  Value removeColumns(Value matrix, Value columns) const {
    return mapWithRow(
        matrix, columns, b.getF32Type(),
        [](OpBuilder &nb, Location nloc, Value x, Value winner,
           Value n) -> Value {
          Value isWinner = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::eq,
              arith::IndexCastOp::create(nb, nloc, nb.getI32Type(), n), winner);
          Value removed = arith::ConstantOp::create(
              nb, nloc,
              nb.getF32FloatAttr(-std::numeric_limits<double>::infinity()));
          return arith::SelectOp::create(nb, nloc, isWinner, removed, x);
        });
  }

  /// Stacks k vectors [T] into a matrix [T, k].
  Value stack(ArrayRef<Value> vectors) const {
    MLIRContext *ctx = b.getContext();
    AffineExpr t, j;
    bindDims(ctx, t, j);
    Type element = getElementTypeOrSelf(vectors.front().getType());
    Value init = buildEmpty(
        b, loc, matrixType(static_cast<int64_t>(vectors.size()), element),
        tokens);
    SmallVector<AffineMap> maps(vectors.size(), AffineMap::get(2, 0, {t}, ctx));
    maps.push_back(AffineMap::get(2, 0, {t, j}, ctx));
    auto generic = linalg::GenericOp::create(
        b, loc, init.getType(), vectors, ValueRange{init}, maps,
        {utils::IteratorType::parallel, utils::IteratorType::parallel},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value column = linalg::IndexOp::create(nb, nloc, 1);
          Value result = args[0];
          for (size_t i = 1; i < vectors.size(); ++i) {
            Value isColumn = arith::CmpIOp::create(
                nb, nloc, arith::CmpIPredicate::eq, column,
                arith::ConstantIndexOp::create(nb, nloc, i));
            result =
                arith::SelectOp::create(nb, nloc, isColumn, args[i], result);
          }
          linalg::YieldOp::create(nb, nloc, result);
        });
    return generic.getResult(0);
  }

  /// result[t, j] = matrix[t, columns[t, j]]: a gather along each row.
  Value gatherColumns(Value matrix, Value columns) const {
    int64_t k = cast<RankedTensorType>(columns.getType()).getDimSize(1);
    Value init = buildEmpty(b, loc, matrixType(k, b.getF32Type()), tokens);
    MLIRContext *ctx = b.getContext();
    AffineExpr t, j;
    bindDims(ctx, t, j);
    auto generic = linalg::GenericOp::create(
        b, loc, init.getType(), ValueRange{columns}, ValueRange{init},
        {AffineMap::get(2, 0, {t, j}, ctx), AffineMap::get(2, 0, {t, j}, ctx)},
        {utils::IteratorType::parallel, utils::IteratorType::parallel},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value row = linalg::IndexOp::create(nb, nloc, 0);
          Value column =
              arith::IndexCastOp::create(nb, nloc, nb.getIndexType(), args[0]);
          Value value = tensor::ExtractOp::create(nb, nloc, matrix,
                                                  ValueRange{row, column});
          linalg::YieldOp::create(nb, nloc, value);
        });
    return generic.getResult(0);
  }
};

struct RouterToLinalg : OpRewritePattern<RouterOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouterOp op,
                                PatternRewriter &rewriter) const override {
    // A quantized weight is read in buildLinear's body, not split.
    int64_t lanes = routerLanes(
        cast<RankedTensorType>(op.getInput().getType()).getDimSize(1));
    Value logits =
        op.getWeight().getDefiningOp<DequantizeOp>()
            ? buildLinear(rewriter, op.getLoc(), op.getInput(), op.getWeight())
            : buildLaneSplitLinear(rewriter, op.getLoc(), op.getInput(),
                                   op.getWeight(), lanes);
    if (op.getBias())
      logits = buildAddRowBias(rewriter, op.getLoc(), logits, op.getBias());
    rewriter.replaceOp(op, logits);
    return success();
  }
};

struct GateToLinalg : OpRewritePattern<GateOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GateOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RowOps ops{rewriter, loc, buildDim(rewriter, loc, op.getLogits(), 0)};
    RoutingAttr routing = op.getRouting();
    Value logits = op.getLogits();
    int64_t numExperts = op.getLogits().getType().getDimSize(1);
    int64_t topK = routing.getTopK();
    if (routing.getScoring() == Scoring::sparsemixer) {
      auto [weights, ids] = sparsemixer(ops, logits, routing);
      rewriter.replaceOp(op, {normalizeAndScale(ops, weights, routing), ids});
      return success();
    }
    bool afterTopK = routing.getScoring() == Scoring::softmax_after_topk ||
                     routing.getScoring() == Scoring::sigmoid_after_topk;

    // Scores, and the selection scores the top-k runs on.
    Value scores = logits;
    if (routing.getScoring() == Scoring::softmax)
      scores = ops.softmax(logits);
    else if (routing.getScoring() == Scoring::sigmoid)
      scores = buildMap(rewriter, loc, logits, rewriter.getF32Type(),
                        [](OpBuilder &nb, Location nloc, ValueRange args) {
                          return buildSigmoid(nb, nloc, args[0]);
                        });
    Value selection = scores;
    if (Value bias = op.getCorrectionBias())
      selection = addColumnBias(ops, selection, bias);
    if (routing.getNGroup() > 1)
      selection = maskToBestGroups(ops, selection, routing, numExperts);

    SmallVector<Value> values, columns;
    ops.topK(selection, topK, values, columns);
    Value ids = ops.stack(columns);
    Value weights =
        afterTopK ? ops.stack(values) : ops.gatherColumns(scores, ids);
    if (routing.getScoring() == Scoring::softmax_after_topk)
      weights = ops.softmax(weights);
    else if (routing.getScoring() == Scoring::sigmoid_after_topk)
      weights = buildMap(rewriter, loc, weights, rewriter.getF32Type(),
                         [](OpBuilder &nb, Location nloc, ValueRange args) {
                           return buildSigmoid(nb, nloc, args[0]);
                         });
    weights = normalizeAndScale(ops, weights, routing);
    rewriter.replaceOp(op, {weights, ids});
    return success();
  }

  /// PhiMoE's sparsemixer (see Scoring::sparsemixer): k rounds, each the
  /// argmax of the logits without the earlier winners and, as its weight,
  /// 1 / sum of exp(l - max) over the remaining experts whose relative gap
  /// (max - l) / max(|l|, max) is not above 2 * jitter_eps (a NaN gap
  /// stays, as torch's `>` keeps it). Returns the [T, k] weights and ids.
  static std::pair<Value, Value> sparsemixer(const RowOps &ops, Value logits,
                                             RoutingAttr routing) {
    OpBuilder &b = ops.b;
    Location loc = ops.loc;
    MLIRContext *ctx = b.getContext();
    AffineExpr t, n;
    bindDims(ctx, t, n);
    double threshold = 2.0 * routing.getJitterEps().convertToDouble();
    double negInf = -std::numeric_limits<double>::infinity();
    Value remaining = logits;
    SmallVector<Value> weights, columns;
    for (int64_t j = 0; j < routing.getTopK(); ++j) {
      auto [top, column] = ops.argmax(remaining);
      Value init = buildFilled(b, loc, ops.vectorType(b.getF32Type()),
                               ops.tokens, b.getF32FloatAttr(0.0));
      auto mass = linalg::GenericOp::create(
          b, loc, init.getType(), ValueRange{logits, remaining, top},
          ValueRange{init},
          {AffineMap::get(2, 0, {t, n}, ctx), AffineMap::get(2, 0, {t, n}, ctx),
           AffineMap::get(2, 0, {t}, ctx), AffineMap::get(2, 0, {t}, ctx)},
          {utils::IteratorType::parallel, utils::IteratorType::reduction},
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value l = args[0], rest = args[1], max = args[2], acc = args[3];
            auto f32 = [&](double v) -> Value {
              return arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(v));
            };
            Value removed = arith::CmpFOp::create(
                nb, nloc, arith::CmpFPredicate::OEQ, rest, f32(negInf));
            Value factor = arith::MaximumFOp::create(
                nb, nloc, math::AbsFOp::create(nb, nloc, l), max);
            Value gap = arith::DivFOp::create(
                nb, nloc, arith::SubFOp::create(nb, nloc, max, l), factor);
            Value masked = arith::CmpFOp::create(
                nb, nloc, arith::CmpFPredicate::OGT, gap, f32(threshold));
            Value drop = arith::OrIOp::create(nb, nloc, removed, masked);
            Value term = arith::SelectOp::create(
                nb, nloc, drop, f32(0.0),
                math::ExpOp::create(nb, nloc,
                                    arith::SubFOp::create(nb, nloc, l, max)));
            linalg::YieldOp::create(
                nb, nloc,
                arith::AddFOp::create(nb, nloc, acc, term).getResult());
          });
      weights.push_back(buildMap(
          b, loc, mass.getResult(0), b.getF32Type(),
          [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
            return arith::DivFOp::create(
                nb, nloc,
                arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1.0)),
                args[0]);
          }));
      columns.push_back(column);
      // The winner leaves the later rounds.
      remaining = ops.removeColumns(remaining, column);
    }
    return {ops.stack(weights), ops.stack(columns)};
  }

  /// selection[t, e] + bias[e].
  static Value addColumnBias(const RowOps &ops, Value matrix, Value bias) {
    return buildAddRowBias(ops.b, ops.loc, matrix, bias);
  }

  /// The score of each group of `grouped` ([T, groups, perGroup]
  /// selection scores): its largest, or the sum of its two largest.
  static Value scoreGroups(const RowOps &ops, Value grouped,
                           GroupScore groupScore) {
    OpBuilder &b = ops.b;
    Location loc = ops.loc;
    MLIRContext *ctx = b.getContext();
    int64_t groups = cast<RankedTensorType>(grouped.getType()).getDimSize(1);
    double negInf = -std::numeric_limits<double>::infinity();
    AffineExpr t, g, p;
    bindDims(ctx, t, g, p);
    AffineMap in = AffineMap::get(3, 0, {t, g, p}, ctx);
    AffineMap out = AffineMap::get(3, 0, {t, g}, ctx);
    auto groupType = ops.matrixType(groups, b.getF32Type());
    Value first =
        buildFilled(b, loc, groupType, ops.tokens, b.getF32FloatAttr(negInf));
    SmallVector<utils::IteratorType> iterators = {
        utils::IteratorType::parallel, utils::IteratorType::parallel,
        utils::IteratorType::reduction};
    if (groupScore == GroupScore::max)
      return linalg::GenericOp::create(
                 b, loc, groupType, ValueRange{grouped}, ValueRange{first},
                 {in, out}, iterators,
                 [](OpBuilder &nb, Location nloc, ValueRange args) {
                   linalg::YieldOp::create(
                       nb, nloc,
                       arith::MaximumFOp::create(nb, nloc, args[0], args[1])
                           .getResult());
                 })
          .getResult(0);
    // The two largest of each group, then their sum.
    Value second =
        buildFilled(b, loc, groupType, ops.tokens, b.getF32FloatAttr(negInf));
    auto top2 = linalg::GenericOp::create(
        b, loc, TypeRange{groupType, groupType}, ValueRange{grouped},
        ValueRange{first, second}, {in, out, out}, iterators,
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          Value x = args[0], m1 = args[1], m2 = args[2];
          Value above =
              arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OGT, x, m1);
          Value newM1 = arith::SelectOp::create(nb, nloc, above, x, m1);
          Value newM2 = arith::SelectOp::create(
              nb, nloc, above, m1, arith::MaximumFOp::create(nb, nloc, m2, x));
          linalg::YieldOp::create(nb, nloc, ValueRange{newM1, newM2});
        });
    return buildMap(
        b, loc, top2.getResults(), b.getF32Type(),
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          return arith::AddFOp::create(nb, nloc, args[0], args[1]).getResult();
        });
  }

  /// Scores each group of E / nGroup consecutive experts, keeps the
  /// topkGroup best groups and sets the selection score of every expert
  /// outside them to 0.0, as transformers' masked_fill does (not -inf: an
  /// expert of a dropped group can still beat a kept one with a negative
  /// biased score, and the reference reproduces that).
  static Value maskToBestGroups(const RowOps &ops, Value selection,
                                RoutingAttr routing, int64_t numExperts) {
    OpBuilder &b = ops.b;
    Location loc = ops.loc;
    int64_t groups = routing.getNGroup();
    int64_t perGroup = numExperts / groups;

    // View the selection as [T, groups, perGroup] and reduce the last axis.
    auto groupedType = RankedTensorType::get(
        {ShapedType::kDynamic, groups, perGroup}, b.getF32Type());
    Value grouped = tensor::ExpandShapeOp::create(
        b, loc, groupedType, selection,
        SmallVector<ReassociationIndices>{{0}, {1, 2}},
        SmallVector<OpFoldResult>{ops.tokens, b.getIndexAttr(groups),
                                  b.getIndexAttr(perGroup)});
    Value groupScores = scoreGroups(ops, grouped, routing.getGroupScore());
    SmallVector<Value> values, keptGroups;
    ops.topK(groupScores, routing.getTopkGroup(), values, keptGroups);
    // selection[t, e] if e's group is kept, else 0.0.
    Value kept = ops.stack(keptGroups);
    int64_t keptCount = routing.getTopkGroup();
    return buildMap(
        b, loc, selection, b.getF32Type(),
        [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          Value row = linalg::IndexOp::create(nb, nloc, 0);
          Value expert = linalg::IndexOp::create(nb, nloc, 1);
          Value group = arith::IndexCastOp::create(
              nb, nloc, nb.getI32Type(),
              arith::DivUIOp::create(
                  nb, nloc, expert,
                  arith::ConstantIndexOp::create(nb, nloc, perGroup)));
          Value isKept =
              arith::ConstantOp::create(nb, nloc, nb.getBoolAttr(false));
          for (int64_t j = 0; j < keptCount; ++j) {
            Value keptGroup = tensor::ExtractOp::create(
                nb, nloc, kept,
                ValueRange{row, arith::ConstantIndexOp::create(nb, nloc, j)});
            isKept = arith::OrIOp::create(
                nb, nloc, isKept,
                arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq, group,
                                      keptGroup));
          }
          Value zero =
              arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(0.0));
          return arith::SelectOp::create(nb, nloc, isKept, args[0], zero);
        });
  }

  /// Renormalizes the k weights of each token and applies the scaling.
  static Value normalizeAndScale(const RowOps &ops, Value weights,
                                 RoutingAttr routing) {
    OpBuilder &b = ops.b;
    Location loc = ops.loc;
    double epsilon = routing.getNormEpsilon().convertToDouble();
    double normMin = routing.getNormMin().convertToDouble();
    double p = routing.getNormP().convertToDouble();
    Normalization norm = routing.getNormalization();
    if (norm != Normalization::none) {
      Value denominator = ops.reduceRows(
          weights, 0.0,
          [&](OpBuilder &nb, Location nloc, Value acc, Value w) -> Value {
            if (norm == Normalization::sum)
              return arith::AddFOp::create(nb, nloc, acc, w);
            Value magnitude = math::AbsFOp::create(nb, nloc, w);
            Value power = math::PowFOp::create(
                nb, nloc, magnitude,
                arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(p)));
            return arith::AddFOp::create(nb, nloc, acc, power);
          });
      if (norm == Normalization::pnorm)
        denominator = buildMap(
            b, loc, denominator, b.getF32Type(),
            [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
              return math::PowFOp::create(
                  nb, nloc, args[0],
                  arith::ConstantOp::create(nb, nloc,
                                            nb.getF32FloatAttr(1.0 / p)));
            });
      weights = ops.mapWithRow(
          weights, denominator, b.getF32Type(),
          [&](OpBuilder &nb, Location nloc, Value w, Value d, Value) -> Value {
            if (normMin != 0.0)
              d = arith::MaximumFOp::create(
                  nb, nloc, d,
                  arith::ConstantOp::create(nb, nloc,
                                            nb.getF32FloatAttr(normMin)));
            if (epsilon != 0.0)
              d = arith::AddFOp::create(
                  nb, nloc, d,
                  arith::ConstantOp::create(nb, nloc,
                                            nb.getF32FloatAttr(epsilon)));
            return arith::DivFOp::create(nb, nloc, w, d);
          });
    }
    double scale = routing.getScalingFactor().convertToDouble();
    if (scale != 1.0)
      weights = buildMap(
          b, loc, weights, b.getF32Type(),
          [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
            return arith::MulFOp::create(
                nb, nloc, args[0],
                arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(scale)));
          });
    return weights;
  }
};
} // namespace

void mlir::moe::populateRoutingToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<RouterToLinalg, GateToLinalg>(patterns.getContext());
}
