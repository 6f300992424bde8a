//===- FuseLaunches.cpp - the moe-fuse-launches pass ----------------------===//
//
// Runs a kernel in the blocks of the kernel before it that finish last (per
// column of the grid), found with atomic tickets: one launch fewer, and no
// host synchronisation. See the pass description in Passes.td.
//
// Written by hand: upstream has no fusion across a grid-wide dependence
// (the forall fusions need independent iterations; a cooperative grid
// barrier would need every block resident at once, which the ticket does
// not: no block ever waits).
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/MoeToKernels/KernelBuffers.h"
#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFUSELAUNCHES
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

StringAttr kernelName(scf::ForallOp forall) {
  return forall->getAttrOfType<StringAttr>(MoeDialect::kKernelAttrName);
}

/// The constant extent of a kernel's column dimension (y of a 2-D grid; 1
/// for a 1-D grid), or nullopt.
std::optional<int64_t> columnCount(scf::ForallOp forall) {
  if (forall.getRank() == 1)
    return 1;
  if (forall.getRank() != 2)
    return std::nullopt;
  return getConstantIntValue(forall.getMixedUpperBound()[1]);
}

/// How `second` may run inside `first`'s blocks.
enum class Nesting {
  None,
  /// `second` is one block: the last of all `first`'s blocks runs it.
  OneBlock,
  /// `second` is moe.column_local with `first`'s columns: the last block
  /// of each column c runs `second`'s blocks of column c.
  PerColumn,
};

/// Both kernels on buffers with normalized grids; `second` one block
/// after anything, or column-local over (x, C) after an (x, C) kernel.
Nesting nesting(scf::ForallOp first, scf::ForallOp second) {
  if (!kernelName(first) || !kernelName(second) ||
      !first.getOutputs().empty() || !second.getOutputs().empty() ||
      !first.isNormalized() || !second.isNormalized())
    return Nesting::None;
  if (llvm::all_of(second.getMixedUpperBound(), [](OpFoldResult bound) {
        return isConstantIntValue(bound, 1);
      }))
    return Nesting::OneBlock;
  std::optional<int64_t> columns = columnCount(first);
  if (second->hasAttr(MoeDialect::kColumnLocalAttrName) && columns &&
      first.getRank() == 2 && columnCount(second) == columns)
    return Nesting::PerColumn;
  return Nesting::None;
}

/// The buffers from outside `kernel` that it reads or writes (`written`:
/// only those it writes), each as the root buffer its views come from; an
/// op with unknown effects counts as writing every memref it takes. None
/// when a buffer cannot be traced: an access that names no value, or a
/// memref made inside the kernel other than a block temporary (alloc).
std::optional<llvm::SmallPtrSet<Value, 8>> outsideBuffers(scf::ForallOp kernel,
                                                          bool written) {
  llvm::SmallPtrSet<Value, 8> buffers;
  bool traced = true;
  auto add = [&](Value view) {
    if (!isa<MemRefType>(view.getType()))
      return;
    Value root = rootBuffer(view);
    if (!kernel->isAncestor(root.getParentBlock()->getParentOp()))
      buffers.insert(root);
    else if (!root.getDefiningOp<memref::AllocOp>() &&
             !root.getDefiningOp<memref::AllocaOp>())
      traced = false;
  };
  kernel.getBody()->walk([&](Operation *op) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects) {
      llvm::for_each(op->getOperands(), add);
      return;
    }
    SmallVector<MemoryEffects::EffectInstance> instances;
    effects.getEffects(instances);
    for (const MemoryEffects::EffectInstance &effect : instances) {
      bool write = isa<MemoryEffects::Write>(effect.getEffect());
      if (!write && !isa<MemoryEffects::Read>(effect.getEffect()))
        continue; // allocation and free of block temporaries
      if (!effect.getValue())
        traced = false;
      else if (!written || write)
        add(effect.getValue());
    }
  });
  if (!traced)
    return std::nullopt;
  return buffers;
}

/// Whether `second` may write a buffer that `first` reads or writes (also
/// when either's buffers cannot be traced). The merged kernel would then
/// overwrite it while other columns' blocks of `first` still use it:
/// bufferization may give two kernels' outputs one buffer when the first's
/// is dead before the second writes (Mixtral with top-1 and I = H: gate_up's
/// activations and the combine's output), which holds only while a launch
/// boundary separates them. Distinct function arguments are distinct
/// buffers (the layer's ABI).
bool secondOverwritesFirst(scf::ForallOp first, scf::ForallOp second) {
  auto used = outsideBuffers(first, /*written=*/false);
  auto overwritten = outsideBuffers(second, /*written=*/true);
  return !used || !overwritten || llvm::any_of(*overwritten, [&](Value buffer) {
    return used->contains(buffer);
  });
}

/// Whether every op between `first` and `second` can move before `first`:
/// allocations and side-effect-free ops without regions (index math). The
/// kernels write nothing these read: they have no results.
bool canHoistBetween(scf::ForallOp first, scf::ForallOp second) {
  for (Operation *op = first->getNextNode(); op != second.getOperation();
       op = op->getNextNode())
    if (op->getNumRegions() != 0 ||
        !(isa<memref::AllocOp>(op) || isMemoryEffectFree(op)))
      return false;
  return true;
}

/// Whether the allocations at the top of `second`'s body have sizes
/// defined outside it: they can move before the branch and stay block
/// temporaries (otherwise the merged kernel could lose its threads).
bool temporariesHoistable(scf::ForallOp second) {
  // Only the body's own allocations move; one nested deeper would stay in
  // the branch, and the merged kernel lose its threads.
  bool nested = false;
  second.getBody()->walk(
      [&](memref::AllocOp a) { nested |= a->getBlock() != second.getBody(); });
  if (nested)
    return false;
  return llvm::all_of(
      second.getBody()->getOps<memref::AllocOp>(), [&](memref::AllocOp a) {
        return llvm::all_of(a->getOperands(), [&](Value v) {
          return !second->isAncestor(v.getParentBlock()->getParentOp());
        });
      });
}

/// The ticket counters, one per column, allocated before the layer's first
/// kernel and zeroed there (the manifest's zero_init), freed at its end.
Value allocateCounters(OpBuilder &b, Location loc, Block &layer,
                       int64_t columns) {
  OpBuilder::InsertionGuard guard(b);
  auto counterType = MemRefType::get({columns}, b.getI32Type());
  b.setInsertionPoint(&*llvm::find_if(
      layer, [](Operation &op) { return isa<scf::ForallOp>(op); }));
  Value counter = memref::AllocOp::create(b, loc, counterType);
  Value zero32 = arith::ConstantIntOp::create(b, loc, 0, 32);
  linalg::FillOp::create(b, loc, zero32, counter);
  b.setInsertionPoint(layer.getTerminator());
  memref::DeallocOp::create(b, loc, counter);
  return counter;
}

/// At `b` (the end of a block of `first`): one thread takes a ticket of
/// `counter[column]` and leaves it in a block temporary for the others;
/// the branch that only the block taking the column's last ticket enters.
scf::IfOp buildLastBlockBranch(OpBuilder &b, Location loc, scf::ForallOp first,
                               Value counter, Value column, Value zero,
                               bool perColumn) {
  Value one32 = arith::ConstantIntOp::create(b, loc, 1, 32);
  auto ticketType = MemRefType::get({1}, b.getI32Type());
  Value ticket = memref::AllocOp::create(b, loc, ticketType);
  auto thread = scf::ForallOp::create(
      b, loc, {b.getIndexAttr(1)}, /*outputs=*/ValueRange{},
      b.getArrayAttr({gpu::GPUThreadMappingAttr::get(b.getContext(),
                                                     gpu::MappingId::DimX)}));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(thread.getBody()->getTerminator());
    Value taken = memref::AtomicRMWOp::create(
        b, loc, arith::AtomicRMWKind::addi, one32, counter, ValueRange{column});
    memref::StoreOp::create(b, loc, taken, ticket, ValueRange{zero});
  }
  Value taken = memref::LoadOp::create(b, loc, ticket, ValueRange{zero});
  // The blocks that take tickets from one counter: a column's (the x
  // extent), or all of them.
  Value blocks;
  SmallVector<OpFoldResult> bounds = first.getMixedUpperBound();
  for (OpFoldResult bound :
       ArrayRef(bounds).take_front(perColumn ? 1 : bounds.size())) {
    Value size = getValueOrCreateConstantIndexOp(b, loc, bound);
    blocks = blocks ? arith::MulIOp::create(b, loc, blocks, size) : size;
  }
  Value lastTicket = arith::IndexCastOp::create(
      b, loc, b.getI32Type(),
      arith::SubIOp::create(b, loc, blocks,
                            arith::ConstantIndexOp::create(b, loc, 1)));
  Value isLast = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, taken,
                                       lastTicket);
  auto branch = scf::IfOp::create(b, loc, isLast, /*withElseRegion=*/false);
  memref::DeallocOp::create(b, loc, ticket);
  return branch;
}

/// `second`'s blocks of `column` in `branch`: their x in order (no loop for
/// one). Returns the block they were cloned into.
Block *cloneBlocksInto(OpBuilder &b, Location loc, scf::IfOp branch,
                       scf::ForallOp second, Value column, Value zero,
                       bool perColumn) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(branch.thenBlock()->getTerminator());
  OpFoldResult secondBlocks = second.getMixedUpperBound()[0];
  Value x = zero;
  Block *body = branch.thenBlock();
  if (!isConstantIntValue(secondBlocks, 1)) {
    auto loop = scf::ForOp::create(
        b, loc, zero, getValueOrCreateConstantIndexOp(b, loc, secondBlocks),
        arith::ConstantIndexOp::create(b, loc, 1));
    x = loop.getInductionVar();
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body = loop.getBody();
  }
  IRMapping map;
  for (Value iv : second.getInductionVars())
    map.map(iv, zero);
  map.map(second.getInductionVar(0), x);
  if (perColumn)
    map.map(second.getInductionVar(1), column);
  for (Operation &op : second.getBody()->without_terminator())
    b.clone(op, map);
  return body;
}

/// Merges `second` into the end of `first`'s block body behind a ticket:
/// the block that finishes last (per column, `how`) runs `second`'s blocks
/// (j, c) in order of j; `second` is erased. `first` must have at
/// least one block per column (T >= 1, which moert and moe-run require),
/// or nothing runs `second`.
void fuse(scf::ForallOp first, scf::ForallOp second, Nesting how) {
  bool perColumn = how == Nesting::PerColumn;
  Location loc = first.getLoc();
  OpBuilder b(first);
  // What `second` uses from between the two moves before `first`.
  while (first->getNextNode() != second.getOperation())
    first->getNextNode()->moveBefore(first);

  // One counter in all for a one-block `second`.
  Value counter = allocateCounters(b, loc, *first->getBlock(),
                                   perColumn ? *columnCount(first) : 1);
  b.setInsertionPoint(first.getTerminator());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value column = perColumn ? first.getInductionVar(1) : zero;
  scf::IfOp branch =
      buildLastBlockBranch(b, loc, first, counter, column, zero, perColumn);
  Block *body =
      cloneBlocksInto(b, loc, branch, second, column, zero, perColumn);
  // Its temporaries stay block temporaries (shared memory on the GPU):
  // allocated before the branch, freed after it (their sizes are defined
  // outside it: temporariesHoistable).
  for (auto alloc :
       llvm::make_early_inc_range(body->getOps<memref::AllocOp>())) {
    alloc->moveBefore(branch);
    for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
      if (isa<memref::DeallocOp>(user) && user->getBlock() == body)
        user->moveAfter(branch);
  }

  first->setAttr(MoeDialect::kKernelAttrName,
                 b.getStringAttr(kernelName(first).getValue() + "_" +
                                 kernelName(second).getValue()));
  second.erase();
}

struct MoeFuseLaunchesPass
    : moe::impl::MoeFuseLaunchesBase<MoeFuseLaunchesPass> {
  void runOnOperation() override {
    Block &body = getOperation().getBody().front();
    SmallVector<scf::ForallOp> kernels;
    for (auto forall : body.getOps<scf::ForallOp>())
      if (kernelName(forall))
        kernels.push_back(forall);
    // Pairs (kernel, the kernel after it where nesting() allows); a merged
    // kernel is not merged again.
    for (size_t i = 0; i + 1 < kernels.size(); ++i) {
      scf::ForallOp first = kernels[i], second = kernels[i + 1];
      Nesting how = nesting(first, second);
      if (how == Nesting::None || !canHoistBetween(first, second) ||
          !temporariesHoistable(second) ||
          (how == Nesting::PerColumn && secondOverwritesFirst(first, second)))
        continue;
      fuse(first, second, how);
      ++i;
    }
  }
};

} // namespace
