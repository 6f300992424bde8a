//===- DistributeThreads.cpp - the moe-distribute-threads pass -----------===//
//
// Shares a kernel block's work among its threads: each structured op of the
// block body moves into an scf.forall mapped to #gpu.thread<x>. See
// Passes.td.
//
// Written by hand rather than with tile_using_forall and
// map_nested_forall_to_threads: the ops work on buffers whose sizes depend
// on the token count and on the routed rows of a block, and their
// iterations are dealt out cyclically (thread t takes t, t + threads, ...),
// which tile_using_forall's contiguous chunks do not express; the block
// forall itself is mapped by moe-kernels-to-gpu.
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/MoeToKernels/KernelBuffers.h"
#include "moe/Conversion/MoeToKernels/StagingCopies.h"

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEDISTRIBUTETHREADS
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Whether `op` or an op nested in it may write memory. Allocations and
/// deallocations do not count: they stay where they are (the GPU lowering
/// places the temporaries).
bool writesMemory(Operation *op) {
  WalkResult result = op->walk([](Operation *nested) {
    // Ops with recursive effects and no effects of their own (loops) are
    // judged by their bodies, which the walk visits.
    if (isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp>(nested) ||
        (nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>() &&
         !isa<MemoryEffectOpInterface>(nested)))
      return WalkResult::advance();
    return mightHaveEffect<MemoryEffects::Write>(nested)
               ? WalkResult::interrupt()
               : WalkResult::advance();
  });
  return result.wasInterrupted();
}

/// Whether `op` is already a forall mapped to threads (moe-fuse-launches'
/// ticket): it stays as it is.
bool isThreadForall(Operation *op) {
  auto forall = dyn_cast<scf::ForallOp>(op);
  std::optional<ArrayAttr> mapping =
      forall ? forall.getMapping() : std::nullopt;
  return mapping && llvm::all_of(*mapping, [](Attribute a) {
           return isa<gpu::GPUThreadMappingAttr>(a);
         });
}

/// Moves `op` into a forall over one thread: thread 0 runs it.
void runOnThreadZero(Operation *op) {
  OpBuilder b(op);
  buildThreadForall(b, op->getLoc(), 1);
  op->moveBefore(b.getInsertionBlock(), b.getInsertionPoint());
}

/// Whether `op` may read one of its outputs at other elements than it
/// writes there (an input that is another view of an output's buffer or
/// the same view through another indexing map, or a load in its body from
/// an output's buffer): then its iterations depend on each other across
/// threads.
bool readsOutputElsewhere(linalg::LinalgOp op) {
  llvm::SmallPtrSet<Value, 4> outputRoots;
  for (OpOperand &init : op.getDpsInitsMutable())
    outputRoots.insert(rootBuffer(init.get()));
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (!outputRoots.contains(rootBuffer(input->get())))
      continue;
    OpOperand *same = nullptr;
    for (OpOperand &init : op.getDpsInitsMutable())
      if (init.get() == input->get())
        same = &init;
    if (!same ||
        op.getMatchingIndexingMap(input) != op.getMatchingIndexingMap(same))
      return true;
  }
  WalkResult loads = op->walk([&](memref::LoadOp load) {
    return outputRoots.contains(rootBuffer(load.getMemRef()))
               ? WalkResult::interrupt()
               : WalkResult::advance();
  });
  return loads.wasInterrupted();
}

/// The indices of `operand` of `op` at the loop indices `ivs`.
SmallVector<Value> operandIndices(OpBuilder &nb, Location loc,
                                  linalg::LinalgOp op, OpOperand *operand,
                                  ArrayRef<Value> ivs) {
  SmallVector<Value> indices;
  AffineMap map = op.getMatchingIndexingMap(operand);
  for (AffineExpr expr : map.getResults())
    indices.push_back(getValueOrCreateConstantIndexOp(
        nb, loc,
        affine::makeComposedFoldedAffineApply(
            nb, loc, AffineMap::get(map.getNumDims(), 0, expr),
            getAsOpFoldResult(ivs))));
  return indices;
}

/// The element of `operand` of `op` at the loop indices `ivs` (a scalar
/// input as is).
Value loadOperand(OpBuilder &nb, Location loc, linalg::LinalgOp op,
                  OpOperand *operand, ArrayRef<Value> ivs) {
  if (!isa<MemRefType>(operand->get().getType()))
    return operand->get();
  return memref::LoadOp::create(nb, loc, operand->get(),
                                operandIndices(nb, loc, op, operand, ivs))
      .getResult();
}

/// `op`'s body cloned at `nb` for the loop indices `ivs`, its inputs'
/// elements `inputs` and its outputs' running values `accumulators`;
/// returns what it yields.
scf::ValueVector cloneBodyAt(OpBuilder &nb, linalg::LinalgOp op,
                             ArrayRef<Value> ivs, ArrayRef<Value> inputs,
                             ValueRange accumulators) {
  Block *body = op.getBlock();
  IRMapping mapping;
  for (auto [input, value] : llvm::zip(op.getDpsInputOperands(), inputs))
    mapping.map(body->getArgument(input->getOperandNumber()), value);
  for (auto [i, init] : llvm::enumerate(op.getDpsInitsMutable()))
    mapping.map(body->getArgument(init.getOperandNumber()), accumulators[i]);
  for (Operation &nested : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(nested)) {
      mapping.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    nb.clone(nested, mapping);
  }
  scf::ValueVector results;
  for (Value yielded : body->getTerminator()->getOperands())
    results.push_back(mapping.lookupOrDefault(yielded));
  return results;
}

/// Replaces `op`, a slice whose parallel loops all have one iteration, by
/// scf.for loops over its reduction loops that carry the outputs' elements
/// as values: the accumulators stay in registers (a thread's slice of a
/// GEMM would otherwise load and store its output element in shared memory
/// at every step of the reduction, and the CPU cannot keep it in a
/// register either, for fear of aliasing). The same operations in the same
/// order as convert-linalg-to-loops.
///
/// Written by hand: upstream lowers structured ops on buffers to loops that
/// load and store the output at every iteration (convert-linalg-to-loops),
/// and its register promotion works only on vectors and tensor subsets.
void lowerUnitSliceReduction(linalg::LinalgOp op) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  OpBuilder b(op);
  Location loc = op.getLoc();
  SmallVector<Range> ranges = op.createLoopRanges(b, loc);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> lbs, ubs, steps;
  for (auto [d, iterator] : llvm::enumerate(iterators)) {
    if (iterator != utils::IteratorType::reduction)
      continue;
    Value offset = getValueOrCreateConstantIndexOp(b, loc, ranges[d].offset);
    lbs.push_back(offset);
    ubs.push_back(arith::AddIOp::create(
        b, loc, offset,
        getValueOrCreateConstantIndexOp(b, loc, ranges[d].size)));
    steps.push_back(one);
  }
  // The loop indices: 0 for the unit parallel loops, the reduction loops'.
  auto loopIndices = [&](ValueRange reductionIvs) {
    SmallVector<Value> ivs;
    unsigned next = 0;
    for (utils::IteratorType iterator : iterators)
      ivs.push_back(iterator == utils::IteratorType::reduction
                        ? reductionIvs[next++]
                        : zero);
    return ivs;
  };
  auto load = [&](OpBuilder &nb, OpOperand *operand, ArrayRef<Value> ivs) {
    return loadOperand(nb, loc, op, operand, ivs);
  };
  SmallVector<Value> ivsAtZero =
      loopIndices(SmallVector<Value>(lbs.size(), zero));
  SmallVector<Value> initial;
  for (OpOperand &init : op.getDpsInitsMutable())
    initial.push_back(load(b, &init, ivsAtZero));
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbs, ubs, steps, initial,
      [&](OpBuilder &nb, Location, ValueRange reductionIvs,
          ValueRange accumulators) -> scf::ValueVector {
        SmallVector<Value> ivs = loopIndices(reductionIvs);
        SmallVector<Value> inputs;
        for (OpOperand *input : op.getDpsInputOperands())
          inputs.push_back(load(nb, input, ivs));
        return cloneBodyAt(nb, op, ivs, inputs, accumulators);
      });
  for (auto [i, init] : llvm::enumerate(op.getDpsInitsMutable()))
    memref::StoreOp::create(b, loc, nest.results[i], init.get(),
                            operandIndices(b, loc, op, &init, ivsAtZero));
  op->erase();
}

/// Whether `op` is a slice lowerUnitSliceReduction handles: it has
/// reduction loops, its outputs do not depend on them, no input is a view
/// of an output's buffer (the running value lives in a register), and its
/// parallel loops have one iteration.
bool isUnitSliceReduction(linalg::LinalgOp op) {
  if (op.getNumReductionLoops() == 0 || !op.hasPureBufferSemantics())
    return false;
  for (OpOperand *input : op.getDpsInputOperands())
    for (OpOperand &init : op.getDpsInitsMutable())
      if (rootBuffer(input->get()) == rootBuffer(init.get()))
        return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  for (auto [d, iterator] : llvm::enumerate(op.getIteratorTypesArray()))
    if (iterator == utils::IteratorType::parallel && ranges[d] != 1)
      return false;
  for (OpOperand &init : op.getDpsInitsMutable())
    for (unsigned d = 0; d < ranges.size(); ++d)
      if (op.getIteratorTypesArray()[d] == utils::IteratorType::reduction &&
          op.getMatchingIndexingMap(&init).isFunctionOfDim(d))
        return false;
  return true;
}

/// If `op` is a moe.tensor_core contraction whose loops [m, n, k] split
/// among `warps` warps into mma.sync tiles (m16n8k16), moves it into an
/// scf.forall over the warps (#gpu.warp<x>), warp w taking the columns
/// w * n / warps .. with every row and the whole reduction. n and k are
/// static; m is static or the dynamic row count of a subview of the rows
/// with a constant bound (the rows a block uses, moe-form-kernels), a
/// multiple of 16 either way; or 8 static rows, whose mma tiles (the
/// swapped form, lib/Target/NVVM/MmaSync.cpp) are 16 columns wide.
bool distributeOverWarps(linalg::LinalgOp linalgOp, int64_t warps) {
  Operation *op = linalgOp.getOperation();
  if (!op->hasAttr(MoeDialect::kTensorCoreAttrName) || warps < 1 ||
      linalgOp.getNumDpsInputs() == 0)
    return false;
  SmallVector<int64_t> ranges = linalgOp.getStaticLoopRanges();
  if (ranges.size() != 3)
    return false;
  OpFoldResult rows = viewSize(linalgOp.getDpsInputOperand(0)->get(), 0);
  std::optional<int64_t> rowBound = sizeBound(rows);
  // Dynamic rows are a multiple of 16: 8-column tiles.
  int64_t staticRows = getConstantIntValue(rows).value_or(16);
  if (!rowBound ||
      !(nvidia::isSwappedMma(staticRows) || isMultipleOf(rows, 16)) ||
      ShapedType::isDynamic(ranges[1]) || ShapedType::isDynamic(ranges[2]) ||
      ranges[1] % (nvidia::mmaTileColumns(staticRows) * warps) != 0 ||
      ranges[2] % 16 != 0)
    return false;
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto mapping = b.getArrayAttr(
      {gpu::GPUWarpMappingAttr::get(b.getContext(), gpu::MappingId::DimX)});
  auto forall = scf::ForallOp::create(b, loc, {b.getIndexAttr(warps)},
                                      /*outputs=*/ValueRange{}, mapping);
  b.setInsertionPoint(forall.getBody()->getTerminator());
  int64_t columns = ranges[1] / warps;
  Value first =
      arith::MulIOp::create(b, loc, forall.getInductionVar(0),
                            arith::ConstantIndexOp::create(b, loc, columns));
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), first,
                                       b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {rows, b.getIndexAttr(columns),
                                     b.getIndexAttr(ranges[2])};
  FailureOr<TilingResult> tiled =
      cast<TilingInterface>(op).getTiledImplementation(b, offsets, sizes);
  if (failed(tiled)) {
    forall.erase();
    return false;
  }
  for (Operation *slice : tiled->tiledOps)
    slice->setAttr(MoeDialect::kTensorCoreAttrName, b.getUnitAttr());
  op->erase();
  return true;
}

/// Deals `op`'s parallel iterations (its parallel loops flattened, the
/// last fastest) out to `threads` threads cyclically, one slice of the
/// reduction loops per iteration, so that neighbouring threads write
/// neighbouring elements; an op that cannot be dealt out runs on thread 0.
LogicalResult distributeOp(linalg::LinalgOp linalgOp, int64_t threads) {
  Operation *op = linalgOp.getOperation();
  auto tiling = cast<TilingInterface>(op);
  OpBuilder b(op);
  Location loc = op->getLoc();
  SmallVector<Range> domain = tiling.getIterationDomain(b);
  SmallVector<unsigned> parallel;
  for (auto [d, iterator] : llvm::enumerate(tiling.getLoopIteratorTypes()))
    if (iterator == utils::IteratorType::parallel)
      parallel.push_back(d);
  // Every output must depend on every parallel loop: otherwise several
  // threads would write one element.
  bool eachWriteOnce =
      llvm::all_of(linalgOp.getDpsInitsMutable(), [&](OpOperand &init) {
        AffineMap map = linalgOp.getMatchingIndexingMap(&init);
        return llvm::all_of(parallel,
                            [&](unsigned d) { return map.isFunctionOfDim(d); });
      });
  if (parallel.empty() || !eachWriteOnce || readsOutputElsewhere(linalgOp)) {
    runOnThreadZero(op);
    return success();
  }
  scf::ForallOp forall = buildThreadForall(b, loc, threads);
  Value count = arith::ConstantIndexOp::create(b, loc, 1);
  for (unsigned d : parallel)
    count = arith::MulIOp::create(
        b, loc, count, getValueOrCreateConstantIndexOp(b, loc, domain[d].size));
  Value step = arith::ConstantIndexOp::create(b, loc, threads);
  auto loop =
      scf::ForOp::create(b, loc, forall.getInductionVar(0), count, step);
  b.setInsertionPoint(loop.getBody()->getTerminator());
  SmallVector<OpFoldResult> offsets, sizes;
  for (const Range &range : domain) {
    offsets.push_back(range.offset);
    sizes.push_back(range.size);
  }
  Value rest = loop.getInductionVar();
  for (unsigned d : llvm::reverse(parallel)) {
    // The outermost index is what is left: below its size already.
    Value index = rest;
    if (d != parallel.front()) {
      Value size = getValueOrCreateConstantIndexOp(b, loc, domain[d].size);
      index = arith::RemUIOp::create(b, loc, rest, size);
      rest = arith::DivUIOp::create(b, loc, rest, size);
    }
    offsets[d] =
        arith::AddIOp::create(
            b, loc, getValueOrCreateConstantIndexOp(b, loc, domain[d].offset),
            index)
            .getResult();
    sizes[d] = b.getIndexAttr(1);
  }
  FailureOr<TilingResult> tiled =
      tiling.getTiledImplementation(b, offsets, sizes);
  if (failed(tiled))
    return op->emitError("cannot slice this op among threads");
  op->erase();
  for (Operation *slice : tiled->tiledOps)
    if (auto sliceOp = dyn_cast<linalg::LinalgOp>(slice);
        sliceOp && isUnitSliceReduction(sliceOp))
      lowerUnitSliceReduction(sliceOp);
  return success();
}

/// Whether `op` is an scf.forall with no mapping (the dispatch's scatter,
/// one iteration per expert, on buffers): its iterations are independent.
bool isUnmappedForall(Operation *op) {
  auto forall = dyn_cast<scf::ForallOp>(op);
  return forall && !forall.getMapping();
}

/// Deals the iterations of `forall`, an unmapped 1-d forall without
/// outputs, out to `threads` threads cyclically: thread t runs iterations
/// t, t + threads, ... in an scf.for.
LogicalResult distributeForall(scf::ForallOp forall, int64_t threads) {
  if (forall.getRank() != 1 || !forall.getOutputs().empty())
    return forall.emitError("expected a 1-d scf.forall without outputs in a "
                            "kernel block");
  OpBuilder b(forall);
  Location loc = forall.getLoc();
  auto value = [&](OpFoldResult v) {
    return getValueOrCreateConstantIndexOp(b, loc, v);
  };
  Value lb = value(forall.getMixedLowerBound()[0]);
  Value ub = value(forall.getMixedUpperBound()[0]);
  Value step = value(forall.getMixedStep()[0]);
  Value trips = arith::CeilDivSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, ub, lb), step);
  scf::ForallOp threadForall = buildThreadForall(b, loc, threads);
  auto loop =
      scf::ForOp::create(b, loc, threadForall.getInductionVar(0), trips,
                         arith::ConstantIndexOp::create(b, loc, threads));
  b.setInsertionPointToStart(loop.getBody());
  Value iv = arith::AddIOp::create(
      b, loc, lb, arith::MulIOp::create(b, loc, loop.getInductionVar(), step));
  Block *body = forall.getBody();
  body->getTerminator()->erase(); // scf.forall.in_parallel, empty
  forall.getInductionVar(0).replaceAllUsesWith(iv);
  loop.getBody()->getOperations().splice(
      loop.getBody()->getTerminator()->getIterator(), body->getOperations());
  forall.erase();
  return success();
}

/// Distributes the ops of `block` (the block body of a kernel or a loop or
/// branch in it): structured ops among the threads, other writes to thread
/// 0; loops and branches with structured ops or block temporaries in them
/// (the branches of kernels side by side), whose bounds and conditions
/// every thread computes alike, are entered.
LogicalResult distributeBlock(Block &block, int64_t threads) {
  for (Operation &op : llvm::make_early_inc_range(block.without_terminator())) {
    if (!writesMemory(&op) || isThreadForall(&op))
      continue;
    if (isUnmappedForall(&op)) {
      if (failed(distributeForall(cast<scf::ForallOp>(op), threads)))
        return failure();
      continue;
    }
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(&op)) {
      if (!linalgOp.hasPureBufferSemantics() || !isa<TilingInterface>(&op))
        return op.emitError("expected a structured op on buffers");
      if (threads % nvidia::kWarpSize == 0 &&
          distributeOverWarps(linalgOp, threads / nvidia::kWarpSize))
        continue;
      if (auto generic = dyn_cast<linalg::GenericOp>(&op);
          generic && distributeStagingCopy(generic, threads))
        continue;
      // Not in mma.sync tiles or 16-byte runs: the threads share it as any
      // other op.
      op.removeAttr(MoeDialect::kTensorCoreAttrName);
      op.removeAttr(MoeDialect::kAsyncCopyAttrName);
      if (failed(distributeOp(linalgOp, threads)))
        return failure();
      continue;
    }
    // A loop or branch without structured ops (the dispatch kernel's
    // counting sort) runs whole on thread 0: one barrier, not one per
    // iteration.
    bool structured = op.walk([](Operation *nested) {
                          return isa<linalg::LinalgOp, memref::AllocOp>(nested)
                                     ? WalkResult::interrupt()
                                     : WalkResult::advance();
                        }).wasInterrupted();
    if (isa<scf::ForOp, scf::IfOp>(op) &&
        (structured || op.getNumResults() != 0)) {
      for (Region &region : op.getRegions())
        for (Block &nested : region)
          if (failed(distributeBlock(nested, threads)))
            return failure();
      continue;
    }
    if (op.getNumResults() != 0)
      return op.emitError("cannot run on one thread an op that writes memory "
                          "and defines values");
    runOnThreadZero(&op);
  }
  return success();
}

/// The dynamic shared memory layout of `forall`'s block temporaries
/// (layoutShared), if it fits in `budget` bytes.
std::optional<SharedLayout> sharedTemporaries(scf::ForallOp forall,
                                              int64_t budget) {
  FailureOr<SharedLayout> layout = layoutShared(*forall.getBody());
  if (failed(layout) || layout->bytes > budget)
    return std::nullopt;
  return *layout;
}

struct MoeDistributeThreadsPass
    : public moe::impl::MoeDistributeThreadsBase<MoeDistributeThreadsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (threads < 1 || threads > 1024 || sharedMemory < 0) {
      getOperation().emitError("moe-distribute-threads: threads must be in "
                               "1..1024 and shared-memory non-negative");
      return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      auto abi =
          func->getAttrOfType<KernelAbiAttr>(MoeDialect::kKernelAbiAttrName);
      if (!abi || abi.getBlock())
        continue;
      if (func.isExternal()) {
        func.emitError("a kernel function must have a body");
        return signalPassFailure();
      }
      auto foralls = func.getBody().front().getOps<scf::ForallOp>();
      if (!llvm::hasSingleElement(foralls)) {
        func.emitError("a kernel function must hold one block forall");
        return signalPassFailure();
      }
      scf::ForallOp forall = *foralls.begin();
      std::optional<SharedLayout> shared =
          sharedTemporaries(forall, sharedMemory);
      // moe-select-tiles' warps for this kernel, else the option.
      int64_t wanted = threads;
      if (auto attr = forall->getAttrOfType<IntegerAttr>(
              MoeDialect::kBlockThreadsAttrName))
        wanted = attr.getInt();
      int64_t blockThreads = shared ? wanted : int64_t{1};
      if (blockThreads > 1 &&
          failed(distributeBlock(*forall.getBody(), blockThreads)))
        return signalPassFailure();
      // One thread runs the independent iterations of an unmapped forall
      // in order.
      if (blockThreads == 1) {
        SmallVector<scf::ForallOp> unmapped;
        forall.getBody()->walk([&](scf::ForallOp nested) {
          if (isUnmappedForall(nested))
            unmapped.push_back(nested);
        });
        for (scf::ForallOp nested : unmapped)
          if (failed(distributeForall(nested, 1)))
            return signalPassFailure();
      }
      func->setAttr(
          MoeDialect::kKernelAbiAttrName,
          KernelAbiAttr::get(
              func.getContext(), abi.getKernel(), abi.getParams(),
              abi.getGrid(),
              DenseI64ArrayAttr::get(func.getContext(), {blockThreads, 1, 1}),
              blockThreads > 1 ? shared->bytes : 0));
    }
  }
};

} // namespace
