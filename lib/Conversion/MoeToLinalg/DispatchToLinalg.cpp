//===- DispatchToLinalg.cpp - moe.dispatch and moe.combine ----------------===//
//
// Dispatch is a stable counting sort in O(rows + chunks x experts) work
// (buildCountingSort): the routed rows in contiguous chunks, each sorted
// by expert on its own (scf.forall over the chunks), the experts' offsets
// (an scf.for over the experts), and each expert gathering its rows chunk
// by chunk into its segment (scf.forall over the experts), so each
// expert's rows stay in ascending row order. Every forall iteration writes
// its own slices: nothing in linalg expresses a scatter with conflicts.
// The kernel form also takes the inverse permutation from it, a chunk at a
// time. The combine is
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

/// Row `r` of a [rows, n] i32 tensor as a rank-1 slice.
Value rowOf(OpBuilder &b, Location loc, Value matrix, Value r, int64_t n) {
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({n}, b.getI32Type()), matrix,
      ArrayRef<OpFoldResult>{r, b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(n)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
}

/// The work of the parallel counting sort: the routed rows in `chunks`
/// contiguous chunks, each chunk's rows visited by one forall iteration in
/// order, and the per-(chunk, expert) counters.
struct CountingSort {
  OpBuilder &b;
  Location loc;
  Value flat, rows;
  int64_t numExperts, chunks;
  Value zero, one, chunkRows;

  CountingSort(OpBuilder &b, Location loc, Value flat, Value rows,
               int64_t numExperts)
      : b(b), loc(loc), flat(flat), rows(rows), numExperts(numExperts),
        chunks(dispatchChunks(numExperts)) {
    zero = arith::ConstantIndexOp::create(b, loc, 0);
    one = arith::ConstantIndexOp::create(b, loc, 1);
    chunkRows = arith::CeilDivUIOp::create(
        b, loc, rows, arith::ConstantIndexOp::create(b, loc, chunks));
  }

  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// Chunk p's rows [lo, lo + length).
  std::pair<Value, Value> chunkOf(OpBuilder &nb, Value p) {
    Value lo = arith::MinUIOp::create(
        nb, loc, arith::MulIOp::create(nb, loc, p, chunkRows), rows);
    Value hi = arith::MinUIOp::create(
        nb, loc, arith::AddIOp::create(nb, loc, lo, chunkRows), rows);
    return {lo, arith::SubIOp::create(nb, loc, hi, lo)};
  }

  /// An scf.forall of `count` iterations over `outputs`; `body` gets the
  /// iteration and the outputs' block arguments and returns, per output,
  /// the value inserted and its offsets and sizes.
  using Insert = std::tuple<Value, SmallVector<OpFoldResult>,
                            SmallVector<OpFoldResult>>;
  ValueRange forall(int64_t count, ValueRange outputs,
                    function_ref<SmallVector<Insert>(Value, ValueRange)> body) {
    auto loop = scf::ForallOp::create(b, loc,
                                      ArrayRef<OpFoldResult>{b.getIndexAttr(count)},
                                      outputs, /*mapping=*/std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getTerminator());
    SmallVector<Insert> inserts =
        body(loop.getInductionVar(0), loop.getRegionIterArgs());
    b.setInsertionPointToEnd(loop.getTerminator().getBody());
    for (auto [insert, dest] : llvm::zip(inserts, loop.getRegionIterArgs())) {
      auto &[inserted, offsets, sizes] = insert;
      SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
      tensor::ParallelInsertSliceOp::create(b, loc, inserted, dest, offsets,
                                            sizes, strides);
    }
    return loop.getResults();
  }

  /// A loop over chunk p's rows s (in order) carrying `state`; `step` gets
  /// s, its expert and the state and returns the next.
  ValueRange walkChunk(
      Value lo, Value length, ValueRange state,
      function_ref<SmallVector<Value>(OpBuilder &, Value, Value, Value,
                                      ValueRange)>
          step) {
    return scf::ForOp::create(
               b, loc, zero, length, one, state,
               [&](OpBuilder &lb, Location, Value i, ValueRange iter) {
                 Value s = arith::AddIOp::create(lb, loc, lo, i);
                 Value e =
                     indexOf(lb, loc, tensor::ExtractOp::create(lb, loc, flat, s));
                 scf::YieldOp::create(lb, loc, step(lb, i, s, e, iter));
               })
        .getResults();
  }

  /// counter[e] + delta, stored back; returns the old value and the
  /// counters.
  static std::pair<Value, Value> bump(OpBuilder &lb, Location loc,
                                      Value counters, Value e, Value delta) {
    Value old = tensor::ExtractOp::create(lb, loc, counters, e);
    Value next = arith::AddIOp::create(lb, loc, old, delta);
    return {old, tensor::InsertOp::create(lb, loc, next, counters, e)};
  }
};

} // namespace

int64_t mlir::moe::dispatchChunks(int64_t numExperts) {
  // Three [chunks, E] i32 counter arrays within 24 KiB of the dispatch
  // block's shared memory; at most one chunk per thread of 128.
  int64_t chunks = 1;
  while (chunks < 128 && 2 * chunks * numExperts <= 2048)
    chunks *= 2;
  return chunks;
}

mlir::moe::CountingSortResult
mlir::moe::buildCountingSort(OpBuilder &b, Location loc, Value flat,
                             Value rows, int64_t numExperts,
                             RankedTensorType permutationType,
                             RankedTensorType offsetsType, bool withInverse) {
  CountingSort sort(b, loc, flat, rows, numExperts);
  int64_t chunks = sort.chunks;
  int64_t experts = numExperts;
  auto i32 = b.getI32Type();
  auto byChunk = RankedTensorType::get({chunks, experts}, i32);
  SmallVector<OpFoldResult> rowSize = {b.getIndexAttr(1)};

  // 1. Each chunk counts its rows per expert, takes the exclusive prefix
  //    sum of its counts (its segments' starts), and sorts its rows by
  //    expert into its own range of a scratch array, stably. With the
  //    inverse asked for, the scratch array is the inverse's buffer,
  //    overwritten in step 4.
  Value counts = buildFilled(b, loc, byChunk, {}, b.getI32IntegerAttr(0));
  Value ends = buildEmpty(b, loc, byChunk, {});
  Value scratch = buildEmptyVector(b, loc, permutationType, rows);
  ValueRange sorted = sort.forall(
      chunks, ValueRange{counts, ends, scratch},
      [&](Value p, ValueRange outs) -> SmallVector<CountingSort::Insert> {
        auto [lo, length] = sort.chunkOf(b, p);
        Value oneI32 = arith::ConstantIntOp::create(b, loc, i32, 1);
        Value mine = rowOf(b, loc, outs[0], p, experts);
        mine = sort.walkChunk(
            lo, length, ValueRange{mine},
            [&](OpBuilder &lb, Value, Value, Value e, ValueRange iter) {
              return SmallVector<Value>{
                  CountingSort::bump(lb, loc, iter[0], e, oneI32).second};
            })[0];
        Value cursor = rowOf(b, loc, outs[1], p, experts);
        Value zeroI32 = arith::ConstantIntOp::create(b, loc, i32, 0);
        cursor = scf::ForOp::create(
                     b, loc, sort.zero, sort.c(experts), sort.one,
                     ValueRange{cursor, zeroI32},
                     [&](OpBuilder &lb, Location, Value e, ValueRange iter) {
                       Value placed =
                           tensor::InsertOp::create(lb, loc, iter[1], iter[0], e);
                       Value count = tensor::ExtractOp::create(lb, loc, mine, e);
                       scf::YieldOp::create(
                           lb, loc,
                           ValueRange{placed, arith::AddIOp::create(
                                                  lb, loc, iter[1], count)});
                     })
                     .getResult(0);
        Value range = tensor::ExtractSliceOp::create(
            b, loc, outs[2], ArrayRef<OpFoldResult>{lo},
            ArrayRef<OpFoldResult>{length}, rowSize);
        ValueRange placed = sort.walkChunk(
            lo, length, ValueRange{range, cursor},
            [&](OpBuilder &lb, Value, Value s, Value e, ValueRange iter) {
              auto [slot, next] =
                  CountingSort::bump(lb, loc, iter[1], e, oneI32);
              Value stored = tensor::InsertOp::create(
                  lb, loc, i32Of(lb, loc, s), iter[0],
                  ValueRange{indexOf(lb, loc, slot)});
              return SmallVector<Value>{stored, next};
            });
        SmallVector<OpFoldResult> rowAt = {p, b.getIndexAttr(0)};
        SmallVector<OpFoldResult> rowSizes = {b.getIndexAttr(1),
                                              b.getIndexAttr(experts)};
        return {{mine, rowAt, rowSizes},
                {placed[1], rowAt, rowSizes},
                {placed[0], {lo}, {length}}};
      });
  Value chunkCounts = sorted[0], chunkEnds = sorted[1];

  // 2. Each expert's rows in all, and the experts' offsets (E steps).
  MLIRContext *ctx = b.getContext();
  AffineExpr e, p;
  bindDims(ctx, e, p);
  auto totalsType = RankedTensorType::get({experts}, i32);
  Value totals =
      linalg::GenericOp::create(
          b, loc, totalsType, ValueRange{chunkCounts},
          ValueRange{buildFilled(b, loc, totalsType, {},
                                 b.getI32IntegerAttr(0))},
          {AffineMap::get(2, 0, {p, e}, ctx), AffineMap::get(2, 0, {e}, ctx)},
          {utils::IteratorType::parallel, utils::IteratorType::reduction},
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            linalg::YieldOp::create(
                nb, nloc,
                arith::AddIOp::create(nb, nloc, args[1], args[0]).getResult());
          })
          .getResult(0);
  Value offsets = buildOffsets(b, loc, offsetsType, totals, sort.zero, sort.one,
                               sort.c(experts));

  // 3. Each expert gathers its rows chunk after chunk into its segment of
  //    the permutation (in ascending row order, as a serial counting sort
  //    leaves them), noting for step 4 where each chunk's rows of it
  //    start.
  auto byExpert = RankedTensorType::get({experts, chunks}, i32);
  SmallVector<Value> gatherOutputs = {
      buildEmptyVector(b, loc, permutationType, rows)};
  if (withInverse)
    gatherOutputs.push_back(buildEmpty(b, loc, byExpert, {}));
  ValueRange gathered = sort.forall(
      experts, gatherOutputs,
      [&](Value e, ValueRange outs) -> SmallVector<CountingSort::Insert> {
        Value start =
            indexOf(b, loc, tensor::ExtractOp::create(b, loc, offsets, e));
        Value count =
            indexOf(b, loc, tensor::ExtractOp::create(b, loc, totals, e));
        SmallVector<Value> state = {
            tensor::ExtractSliceOp::create(b, loc, outs[0],
                                           ArrayRef<OpFoldResult>{start},
                                           ArrayRef<OpFoldResult>{count},
                                           rowSize),
            sort.zero};
        if (withInverse)
          state.push_back(rowOf(b, loc, outs[1], e, chunks));
        auto loop = scf::ForOp::create(
            b, loc, sort.zero, sort.c(chunks), sort.one, state,
            [&](OpBuilder &lb, Location, Value q, ValueRange iter) {
              Value n = indexOf(lb, loc,
                                tensor::ExtractOp::create(lb, loc, chunkCounts,
                                                          ValueRange{q, e}));
              Value end = indexOf(lb, loc,
                                  tensor::ExtractOp::create(
                                      lb, loc, chunkEnds, ValueRange{q, e}));
              Value lo = sort.chunkOf(lb, q).first;
              Value from = arith::AddIOp::create(
                  lb, loc, lo, arith::SubIOp::create(lb, loc, end, n));
              Value copied =
                  scf::ForOp::create(
                      lb, loc, sort.zero, n, sort.one, ValueRange{iter[0]},
                      [&](OpBuilder &cb, Location, Value j, ValueRange seg) {
                        Value row = tensor::ExtractOp::create(
                            cb, loc, sorted[2],
                            ValueRange{arith::AddIOp::create(cb, loc, from, j)});
                        Value at = arith::AddIOp::create(cb, loc, iter[1], j);
                        scf::YieldOp::create(
                            cb, loc,
                            ValueRange{tensor::InsertOp::create(cb, loc, row,
                                                                seg[0], at)});
                      })
                      .getResult(0);
              SmallVector<Value> next = {
                  copied, arith::AddIOp::create(lb, loc, iter[1], n)};
              if (withInverse) {
                Value base = arith::AddIOp::create(lb, loc, start, iter[1]);
                next.push_back(tensor::InsertOp::create(
                    lb, loc, i32Of(lb, loc, base), iter[2], q));
              }
              scf::YieldOp::create(lb, loc, next);
            });
        SmallVector<CountingSort::Insert> inserts = {
            {loop.getResult(0), {start}, {count}}};
        if (withInverse)
          inserts.push_back({loop.getResult(2),
                             {e, b.getIndexAttr(0)},
                             {b.getIndexAttr(1), b.getIndexAttr(chunks)}});
        return inserts;
      });
  CountingSortResult result{gathered[0], offsets, Value()};
  if (!withInverse)
    return result;

  // 4. Each chunk walks its rows again, each taking the next slot of its
  //    expert from where the chunk's rows of it start: the inverse
  //    permutation, in the chunk's own range (over the scratch array, read
  //    for the last time in step 3).
  Value bases = gathered[1];
  ValueRange inverse = sort.forall(
      chunks, ValueRange{sorted[2], buildEmpty(b, loc, byChunk, {})},
      [&](Value p, ValueRange outs) -> SmallVector<CountingSort::Insert> {
        auto [lo, length] = sort.chunkOf(b, p);
        Value cursor = rowOf(b, loc, outs[1], p, experts);
        cursor = scf::ForOp::create(
                     b, loc, sort.zero, sort.c(experts), sort.one,
                     ValueRange{cursor},
                     [&](OpBuilder &lb, Location, Value e, ValueRange iter) {
                       Value base = tensor::ExtractOp::create(
                           lb, loc, bases, ValueRange{e, p});
                       scf::YieldOp::create(
                           lb, loc,
                           ValueRange{tensor::InsertOp::create(lb, loc, base,
                                                               iter[0], e)});
                     })
                     .getResult(0);
        Value range = tensor::ExtractSliceOp::create(
            b, loc, outs[0], ArrayRef<OpFoldResult>{lo},
            ArrayRef<OpFoldResult>{length}, rowSize);
        Value oneI32 = arith::ConstantIntOp::create(b, loc, i32, 1);
        ValueRange placed = sort.walkChunk(
            lo, length, ValueRange{range, cursor},
            [&](OpBuilder &lb, Value i, Value, Value e, ValueRange iter) {
              auto [slot, next] =
                  CountingSort::bump(lb, loc, iter[1], e, oneI32);
              Value stored =
                  tensor::InsertOp::create(lb, loc, slot, iter[0], i);
              return SmallVector<Value>{stored, next};
            });
        return {{placed[0], {lo}, {length}},
                {placed[1],
                 {p, b.getIndexAttr(0)},
                 {b.getIndexAttr(1), b.getIndexAttr(experts)}}};
      });
  result.inverse = inverse[0];
  // The offsets returned are read off step 4's cursors: where the last
  // chunk's rows of each expert end is where the expert's segment ends,
  // the same values as step 2's. So the cursors are a result that is read:
  // a forall result nobody reads is dropped by canonicalization, and its
  // iterations' cursor rows would become allocations of their own.
  AffineExpr i;
  bindDims(ctx, i);
  Value lastChunk = rowOf(b, loc, inverse[1], sort.c(chunks - 1), experts);
  result.offsets =
      linalg::GenericOp::create(
          b, loc, offsetsType, ValueRange{},
          ValueRange{buildEmpty(b, loc, offsetsType, {})},
          {AffineMap::get(1, 0, {i}, ctx)}, {utils::IteratorType::parallel},
          [&](OpBuilder &nb, Location nloc, ValueRange) {
            Value at = linalg::IndexOp::create(nb, nloc, 0);
            Value first = arith::CmpIOp::create(
                nb, nloc, arith::CmpIPredicate::eq, at,
                arith::ConstantIndexOp::create(nb, nloc, 0));
            // Entry i > 0 is expert i - 1's end (clamped for entry 0).
            Value expert = arith::SubIOp::create(
                nb, nloc,
                arith::MaxUIOp::create(
                    nb, nloc, at, arith::ConstantIndexOp::create(nb, nloc, 1)),
                arith::ConstantIndexOp::create(nb, nloc, 1));
            Value end = tensor::ExtractOp::create(nb, nloc, lastChunk, expert);
            linalg::YieldOp::create(
                nb, nloc,
                arith::SelectOp::create(
                    nb, nloc, first,
                    arith::ConstantIntOp::create(nb, nloc, nb.getI32Type(), 0),
                    end)
                    .getResult());
          })
          .getResult(0);
  return result;
}

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
