//===- CountingSort.cpp - the dispatch's parallel counting sort -----------===//
//
// The routed rows grouped by expert, stably, in O(rows + chunks x experts)
// work: the rows in dispatchChunks(E) contiguous chunks, each counted and
// sorted by expert on its own; the experts' offsets; each expert gathering
// its rows chunk by chunk; and (the kernel form) each chunk writing its
// part of the inverse permutation. Each step is an scf.forall whose
// iterations write their own slices (nothing in linalg expresses a scatter
// with conflicts), which moe-distribute-threads deals out to the threads.
// Written with tensors so that the CPU lowering and the kernel form share
// it; a serial counting sort with a thread per expert walked every row
// once per expert.
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// A value inserted by a forall iteration: the value, offsets, sizes.
using Insert =
    std::tuple<Value, SmallVector<OpFoldResult>, SmallVector<OpFoldResult>>;

class CountingSortBuilder {
public:
  CountingSortBuilder(OpBuilder &b, Location loc, Value flat, Value rows,
                      int64_t experts)
      : b(b), loc(loc), flat(flat), rows(rows), experts(experts),
        chunks(dispatchChunks(experts)), i32(b.getI32Type()) {
    zero = index(0);
    one = index(1);
    chunkRows = arith::CeilDivUIOp::create(b, loc, rows, index(chunks));
  }

  /// Step 1: each chunk counts its rows per expert ([chunks, E] counts),
  /// takes the exclusive prefix sum of its counts, and sorts its rows by
  /// expert into its own range of `scratch`, stably; the prefix sums end
  /// as where each expert's rows of the chunk end ([chunks, E] ends).
  std::tuple<Value, Value, Value> sortChunks(Value scratch) {
    auto byChunk = RankedTensorType::get({chunks, experts}, i32);
    Value counts = buildFilled(b, loc, byChunk, {}, b.getI32IntegerAttr(0));
    ValueRange sorted = forall(
        chunks, {counts, buildEmpty(b, loc, byChunk, {}), scratch},
        [&](Value p, ValueRange outs) -> SmallVector<Insert> {
          auto [lo, length] = chunkOf(b, p);
          Value mine = walkChunk(lo, length, rowOf(outs[0], p, experts),
                                 [&](OpBuilder &lb, Value, Value, Value e,
                                     ValueRange iter) -> SmallVector<Value> {
                                   return {bump(lb, iter[0], e).second};
                                 })[0];
          Value cursor = exclusivePrefix(rowOf(outs[1], p, experts), mine);
          ValueRange placed = walkChunk(
              lo, length, {slice(outs[2], lo, length), cursor},
              [&](OpBuilder &lb, Value, Value s, Value e,
                  ValueRange iter) -> SmallVector<Value> {
                auto [slot, next] = bump(lb, iter[1], e);
                return {tensor::InsertOp::create(lb, loc, i32Of(lb, s), iter[0],
                                                 ValueRange{indexOf(lb, slot)}),
                        next};
              });
          return {rowInsert(mine, p, experts),
                  rowInsert(placed[1], p, experts),
                  {placed[0], {lo}, {length}}};
        });
    return {sorted[0], sorted[1], sorted[2]};
  }

  /// Step 2: each expert's rows in all (a reduction over the chunks).
  Value totals(Value counts) {
    MLIRContext *ctx = b.getContext();
    AffineExpr e, p;
    bindDims(ctx, e, p);
    auto type = RankedTensorType::get({experts}, i32);
    return linalg::GenericOp::create(
               b, loc, type, ValueRange{counts},
               ValueRange{
                   buildFilled(b, loc, type, {}, b.getI32IntegerAttr(0))},
               {AffineMap::get(2, 0, {p, e}, ctx),
                AffineMap::get(2, 0, {e}, ctx)},
               {utils::IteratorType::parallel, utils::IteratorType::reduction},
               [&](OpBuilder &nb, Location nloc, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, nloc,
                     arith::AddIOp::create(nb, nloc, args[1], args[0])
                         .getResult());
               })
        .getResult(0);
  }

  /// offsets[e + 1] = offsets[e] + totals[e]: E steps, in order. With
  /// `blockRows`, also the experts' first blocks of `blockRows` rows in the
  /// same steps: firstBlocks[e + 1] = firstBlocks[e] + ceildiv(totals[e],
  /// blockRows) (else null).
  std::pair<Value, Value> offsets(RankedTensorType type, Value totals,
                                  int64_t blockRows) {
    auto zeros = [&] {
      return buildFilled(b, loc, type, {}, b.getI32IntegerAttr(0));
    };
    SmallVector<Value> state = {zeros()};
    if (blockRows)
      state.push_back(zeros());
    auto loop = scf::ForOp::create(
        b, loc, zero, index(experts), one, state,
        [&](OpBuilder &lb, Location, Value e, ValueRange iter) {
          Value next = arith::AddIOp::create(lb, loc, e, one);
          Value count = tensor::ExtractOp::create(lb, loc, totals, e);
          auto runningSum = [&](Value sums, Value term) -> Value {
            Value sum = tensor::ExtractOp::create(lb, loc, sums, e);
            return tensor::InsertOp::create(
                lb, loc, arith::AddIOp::create(lb, loc, sum, term), sums,
                ValueRange{next});
          };
          SmallVector<Value> yielded = {runningSum(iter[0], count)};
          if (blockRows)
            yielded.push_back(runningSum(
                iter[1],
                arith::CeilDivSIOp::create(
                    lb, loc, count,
                    arith::ConstantIntOp::create(lb, loc, i32, blockRows))));
          scf::YieldOp::create(lb, loc, yielded);
        });
    return {loop.getResult(0), blockRows ? loop.getResult(1) : Value()};
  }

  /// Step 3: each expert gathers its rows chunk after chunk from `sorted`
  /// into its segment of the permutation (in ascending row order, as a
  /// serial counting sort leaves them). With `withBases`, also where each
  /// chunk's rows of it start in the permutation ([E, chunks]).
  std::pair<Value, Value> gatherExperts(RankedTensorType permutationType,
                                        Value counts, Value ends, Value sorted,
                                        Value totals, Value offsets,
                                        bool withBases) {
    SmallVector<Value> outputs = {emptyRows(permutationType)};
    if (withBases)
      outputs.push_back(buildEmpty(
          b, loc, RankedTensorType::get({experts, chunks}, i32), {}));
    ValueRange gathered = forall(
        experts, outputs, [&](Value e, ValueRange outs) -> SmallVector<Insert> {
          Value start =
              indexOf(b, tensor::ExtractOp::create(b, loc, offsets, e));
          Value count =
              indexOf(b, tensor::ExtractOp::create(b, loc, totals, e));
          SmallVector<Value> state = {slice(outs[0], start, count), zero};
          if (withBases)
            state.push_back(rowOf(outs[1], e, chunks));
          auto loop = scf::ForOp::create(
              b, loc, zero, index(chunks), one, state,
              [&](OpBuilder &lb, Location, Value q, ValueRange iter) {
                Value n = indexOf(lb, tensor::ExtractOp::create(
                                          lb, loc, counts, ValueRange{q, e}));
                Value end = indexOf(lb, tensor::ExtractOp::create(
                                            lb, loc, ends, ValueRange{q, e}));
                Value from = arith::AddIOp::create(
                    lb, loc, chunkOf(lb, q).first,
                    arith::SubIOp::create(lb, loc, end, n));
                SmallVector<Value> next = {
                    copyRun(lb, sorted, from, n, iter[0], iter[1]),
                    arith::AddIOp::create(lb, loc, iter[1], n)};
                if (withBases)
                  next.push_back(tensor::InsertOp::create(
                      lb, loc,
                      i32Of(lb, arith::AddIOp::create(lb, loc, start, iter[1])),
                      iter[2], q));
                scf::YieldOp::create(lb, loc, next);
              });
          SmallVector<Insert> inserts = {{loop.getResult(0), {start}, {count}}};
          if (withBases)
            inserts.push_back(rowInsert(loop.getResult(2), e, chunks));
          return inserts;
        });
    return {gathered[0], withBases ? gathered[1] : Value()};
  }

  /// Step 4: each chunk walks its rows again, each taking the next slot of
  /// its expert from where the chunk's rows of it start (`bases`): the
  /// inverse permutation, written over `scratch` in the chunk's own range,
  /// and the chunks' cursors after their rows ([chunks, E]).
  std::pair<Value, Value> invertChunks(Value scratch, Value bases) {
    auto byChunk = RankedTensorType::get({chunks, experts}, i32);
    ValueRange inverse = forall(
        chunks, {scratch, buildEmpty(b, loc, byChunk, {})},
        [&](Value p, ValueRange outs) -> SmallVector<Insert> {
          auto [lo, length] = chunkOf(b, p);
          Value cursor =
              scf::ForOp::create(
                  b, loc, zero, index(experts), one,
                  ValueRange{rowOf(outs[1], p, experts)},
                  [&](OpBuilder &lb, Location, Value e, ValueRange iter) {
                    Value base = tensor::ExtractOp::create(lb, loc, bases,
                                                           ValueRange{e, p});
                    scf::YieldOp::create(lb, loc,
                                         ValueRange{tensor::InsertOp::create(
                                             lb, loc, base, iter[0], e)});
                  })
                  .getResult(0);
          ValueRange placed = walkChunk(
              lo, length, {slice(outs[0], lo, length), cursor},
              [&](OpBuilder &lb, Value i, Value, Value e,
                  ValueRange iter) -> SmallVector<Value> {
                auto [slot, next] = bump(lb, iter[1], e);
                return {tensor::InsertOp::create(lb, loc, slot, iter[0], i),
                        next};
              });
          return {{placed[0], {lo}, {length}},
                  rowInsert(placed[1], p, experts)};
        });
    return {inverse[0], inverse[1]};
  }

  /// The offsets read off step 4's cursors: where the last chunk's rows of
  /// each expert end is where its segment ends, as `offsets` has it. So
  /// the cursors are a result that is read: a forall result nobody reads
  /// is dropped by canonicalization, and its iterations' cursor rows then
  /// become allocations of their own.
  Value offsetsFromCursors(RankedTensorType type, Value cursors) {
    MLIRContext *ctx = b.getContext();
    AffineExpr i;
    bindDims(ctx, i);
    Value lastChunk = rowOf(cursors, index(chunks - 1), experts);
    return linalg::GenericOp::create(
               b, loc, type, ValueRange{},
               ValueRange{buildEmpty(b, loc, type, {})},
               {AffineMap::get(1, 0, {i}, ctx)},
               {utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location nloc, ValueRange) {
                 Value at = linalg::IndexOp::create(nb, nloc, 0);
                 Value c0 = arith::ConstantIndexOp::create(nb, nloc, 0);
                 Value c1 = arith::ConstantIndexOp::create(nb, nloc, 1);
                 // Entry i > 0 is expert i - 1's end.
                 Value expert = arith::SubIOp::create(
                     nb, nloc, arith::MaxUIOp::create(nb, nloc, at, c1), c1);
                 Value end =
                     tensor::ExtractOp::create(nb, nloc, lastChunk, expert);
                 Value first = arith::CmpIOp::create(
                     nb, nloc, arith::CmpIPredicate::eq, at, c0);
                 linalg::YieldOp::create(
                     nb, nloc,
                     arith::SelectOp::create(
                         nb, nloc, first,
                         arith::ConstantIntOp::create(nb, nloc, i32, 0), end)
                         .getResult());
               })
        .getResult(0);
  }

  /// An empty [rows] i32 tensor of `type`.
  Value emptyRows(RankedTensorType type) {
    SmallVector<Value> sizes;
    if (type.isDynamicDim(0))
      sizes.push_back(rows);
    return buildEmpty(b, loc, type, sizes);
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value indexOf(OpBuilder &nb, Value v) {
    return arith::IndexCastOp::create(nb, loc, nb.getIndexType(), v);
  }
  Value i32Of(OpBuilder &nb, Value v) {
    return arith::IndexCastOp::create(nb, loc, i32, v);
  }

  /// Chunk p's rows [lo, lo + length).
  std::pair<Value, Value> chunkOf(OpBuilder &nb, Value p) {
    Value lo = arith::MinUIOp::create(
        nb, loc, arith::MulIOp::create(nb, loc, p, chunkRows), rows);
    Value hi = arith::MinUIOp::create(
        nb, loc, arith::AddIOp::create(nb, loc, lo, chunkRows), rows);
    return {lo, arith::SubIOp::create(nb, loc, hi, lo)};
  }

  /// Row `r` of a [*, n] i32 tensor as a rank-1 slice, and its insert.
  Value rowOf(Value matrix, Value r, int64_t n) {
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({n}, i32), matrix,
        ArrayRef<OpFoldResult>{r, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(n)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
  Insert rowInsert(Value row, Value r, int64_t n) {
    return {
        row, {r, b.getIndexAttr(0)}, {b.getIndexAttr(1), b.getIndexAttr(n)}};
  }

  /// Elements [offset, offset + size) of a 1-D tensor.
  Value slice(Value vector, Value offset, Value size) {
    return tensor::ExtractSliceOp::create(
        b, loc, vector, ArrayRef<OpFoldResult>{offset},
        ArrayRef<OpFoldResult>{size},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  }

  /// `starts`[e] = the sum of `counts`[0 .. e): E steps.
  Value exclusivePrefix(Value starts, Value counts) {
    Value zeroI32 = arith::ConstantIntOp::create(b, loc, i32, 0);
    return scf::ForOp::create(
               b, loc, zero, index(experts), one, ValueRange{starts, zeroI32},
               [&](OpBuilder &lb, Location, Value e, ValueRange iter) {
                 Value placed =
                     tensor::InsertOp::create(lb, loc, iter[1], iter[0], e);
                 Value count = tensor::ExtractOp::create(lb, loc, counts, e);
                 scf::YieldOp::create(
                     lb, loc,
                     ValueRange{placed, arith::AddIOp::create(lb, loc, iter[1],
                                                              count)});
               })
        .getResult(0);
  }

  /// `n` elements of `source` from `from` into `target` from `at`.
  Value copyRun(OpBuilder &lb, Value source, Value from, Value n, Value target,
                Value at) {
    return scf::ForOp::create(
               lb, loc, zero, n, one, ValueRange{target},
               [&](OpBuilder &cb, Location, Value j, ValueRange iter) {
                 Value element = tensor::ExtractOp::create(
                     cb, loc, source,
                     ValueRange{arith::AddIOp::create(cb, loc, from, j)});
                 scf::YieldOp::create(
                     cb, loc,
                     ValueRange{tensor::InsertOp::create(
                         cb, loc, element, iter[0],
                         ValueRange{arith::AddIOp::create(cb, loc, at, j)})});
               })
        .getResult(0);
  }

  /// counters[e] + 1 stored back: the old value and the counters.
  std::pair<Value, Value> bump(OpBuilder &lb, Value counters, Value e) {
    Value old = tensor::ExtractOp::create(lb, loc, counters, e);
    Value next = arith::AddIOp::create(
        lb, loc, old, arith::ConstantIntOp::create(lb, loc, i32, 1));
    return {old, tensor::InsertOp::create(lb, loc, next, counters, e)};
  }

  /// A loop over the rows s = lo + i of a chunk, in order, carrying
  /// `state`; `step` gets i, s, s's expert and the state, and returns the
  /// next state.
  ValueRange
  walkChunk(Value lo, Value length, ValueRange state,
            function_ref<SmallVector<Value>(OpBuilder &, Value, Value, Value,
                                            ValueRange)>
                step) {
    return scf::ForOp::create(
               b, loc, zero, length, one, state,
               [&](OpBuilder &lb, Location, Value i, ValueRange iter) {
                 Value s = arith::AddIOp::create(lb, loc, lo, i);
                 Value e =
                     indexOf(lb, tensor::ExtractOp::create(lb, loc, flat, s));
                 scf::YieldOp::create(lb, loc, step(lb, i, s, e, iter));
               })
        .getResults();
  }

  /// An scf.forall of `count` iterations over `outputs`; `body` gets the
  /// iteration and the outputs' block arguments and returns what each
  /// output gets inserted.
  ValueRange forall(int64_t count, ValueRange outputs,
                    function_ref<SmallVector<Insert>(Value, ValueRange)> body) {
    auto loop = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(count)}, outputs,
        /*mapping=*/std::nullopt);
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

  OpBuilder &b;
  Location loc;
  Value flat, rows;
  int64_t experts, chunks;
  Type i32;
  Value zero, one, chunkRows;
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

CountingSortResult mlir::moe::buildCountingSort(
    OpBuilder &b, Location loc, Value flat, Value rows, int64_t numExperts,
    RankedTensorType permutationType, RankedTensorType offsetsType,
    bool withInverse, int64_t blockRows) {
  CountingSortBuilder sort(b, loc, flat, rows, numExperts);
  // With the inverse asked for, the scratch array of step 1 is the
  // inverse's buffer, overwritten in step 4 after step 3 last reads it.
  auto [counts, ends, sorted] =
      sort.sortChunks(sort.emptyRows(permutationType));
  Value totals = sort.totals(counts);
  auto [offsets, firstBlocks] = sort.offsets(offsetsType, totals, blockRows);
  auto [permutation, bases] = sort.gatherExperts(
      permutationType, counts, ends, sorted, totals, offsets, withInverse);
  if (!withInverse)
    return {permutation, offsets, Value(), firstBlocks};
  auto [inverse, cursors] = sort.invertChunks(sorted, bases);
  return {permutation, sort.offsetsFromCursors(offsetsType, cursors), inverse,
          firstBlocks};
}
