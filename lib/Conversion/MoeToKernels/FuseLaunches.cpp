//===- FuseLaunches.cpp - the moe-fuse-launches pass ----------------------===//
//
// Runs a kernel in the blocks of the kernel before it that finish last (per
// column of the grid), found with atomic tickets: one launch fewer, and no
// host synchronisation. Runs two independent kernels side by side in one
// grid (the shared expert's beside the routed experts'). See the pass
// description in Passes.td.
//
// Written by hand: upstream has no fusion across a grid-wide dependence
// (the forall fusions need independent iterations; a cooperative grid
// barrier would need every block resident at once, which the ticket does
// not: no block ever waits), and its forall fusions merge iterations of
// one grid, not two grids into one whose blocks branch.
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
#include "llvm/ADT/SetVector.h"

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

/// The width of a kernel's column tiles (moe.column_tile: 0 beside a
/// kernel whose tiles differ), if it names one.
std::optional<int64_t> columnTile(scf::ForallOp kernel) {
  if (auto tile =
          kernel->getAttrOfType<IntegerAttr>(MoeDialect::kColumnTileAttrName))
    return tile.getInt();
  return std::nullopt;
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
  /// `second` is moe.row_local, one-dimensional over `first`'s rows: the
  /// last block of each row x runs `second`'s block x.
  PerRow,
};

/// Both kernels on buffers with normalized grids; `second` one block
/// after anything, column-local over (x, C) after an (x, C) kernel, or
/// row-local over (X) after an (X, C) kernel.
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
  // Beside another kernel whose column tiles differ (columnsAligned), a
  // column's blocks cover different columns.
  if (columnTile(first) == 0)
    return Nesting::None;
  if (second->hasAttr(MoeDialect::kColumnLocalAttrName) && columns &&
      first.getRank() == 2 && columnCount(second) == columns)
    return Nesting::PerColumn;
  if (second->hasAttr(MoeDialect::kRowLocalAttrName) && columns &&
      first.getRank() == 2 && second.getRank() == 1 &&
      first.getMixedUpperBound()[0] == second.getMixedUpperBound()[0])
    return Nesting::PerRow;
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

/// The ops of `block` that `value` is computed with (in block order), if
/// they are all free of memory effects and regions and use, besides each
/// other, only values from outside `block`, and `ivs`.
std::optional<SmallVector<Operation *>>
sizeComputation(Value value, Block *block, ValueRange ivs) {
  llvm::SetVector<Operation *> ops;
  SmallVector<Value> work = {value};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (!def) {
      if (v.getParentBlock() == block && !llvm::is_contained(ivs, v))
        return std::nullopt;
      continue;
    }
    if (def->getBlock() != block)
      continue;
    if (def->getNumRegions() != 0 || !isMemoryEffectFree(def))
      return std::nullopt;
    if (ops.insert(def))
      llvm::append_range(work, def->getOperands());
  }
  SmallVector<Operation *> sorted(ops.begin(), ops.end());
  llvm::sort(sorted,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return sorted;
}

/// Whether the allocations at the top of `second`'s body have sizes
/// defined outside it (or, with `perRow`, computed from its row alone):
/// they can move before the branch and stay block temporaries (otherwise
/// the merged kernel could lose its threads).
bool temporariesHoistable(scf::ForallOp second, bool perRow) {
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
          return !second->isAncestor(v.getParentBlock()->getParentOp()) ||
                 (perRow && sizeComputation(v, second.getBody(),
                                            second.getInductionVars()));
        });
      });
}

/// The layer's first kernel, before which the counters are made.
Operation *firstKernel(Block &layer) {
  return &*llvm::find_if(layer,
                         [](Operation &op) { return isa<scf::ForallOp>(op); });
}

/// The ticket counters, one per column (or row), allocated before the
/// layer's first kernel and zeroed there (the manifest's zero_init), freed
/// at its end. A dynamic count must be defined before that kernel.
Value allocateCounters(OpBuilder &b, Location loc, Block &layer,
                       OpFoldResult count) {
  OpBuilder::InsertionGuard guard(b);
  std::optional<int64_t> constant = getConstantIntValue(count);
  auto counterType = MemRefType::get(
      {constant ? *constant : ShapedType::kDynamic}, b.getI32Type());
  b.setInsertionPoint(firstKernel(layer));
  Value counter = constant
                      ? memref::AllocOp::create(b, loc, counterType)
                      : memref::AllocOp::create(b, loc, counterType,
                                                ValueRange{cast<Value>(count)});
  Value zero32 = arith::ConstantIntOp::create(b, loc, 0, 32);
  linalg::FillOp::create(b, loc, zero32, counter);
  b.setInsertionPoint(layer.getTerminator());
  memref::DeallocOp::create(b, loc, counter);
  return counter;
}

/// At `b` (the end of a block of `first`): one thread takes a ticket of
/// `counter[group]` (the block's column, its row, or 0: `how`) and leaves
/// it in a block temporary for the others; the branch that only the block
/// taking the group's last ticket enters.
scf::IfOp buildLastBlockBranch(OpBuilder &b, Location loc, scf::ForallOp first,
                               Value counter, Value group, Value zero,
                               Nesting how) {
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
        b, loc, arith::AtomicRMWKind::addi, one32, counter, ValueRange{group});
    memref::StoreOp::create(b, loc, taken, ticket, ValueRange{zero});
  }
  Value taken = memref::LoadOp::create(b, loc, ticket, ValueRange{zero});
  // The blocks that take tickets from one counter: a column's (the x
  // extent), a row's (the y extent), or all of them.
  Value blocks;
  SmallVector<OpFoldResult> bounds = first.getMixedUpperBound();
  ArrayRef<OpFoldResult> counted = bounds;
  if (how == Nesting::PerColumn)
    counted = counted.take_front(1);
  else if (how == Nesting::PerRow)
    counted = counted.drop_front(1);
  for (OpFoldResult bound : counted) {
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

/// `second`'s blocks of `group` in `branch`: those of column `group` in
/// order of x (no loop for one), or with PerRow its block `group` (the
/// row). Returns the block they were cloned into.
Block *cloneBlocksInto(OpBuilder &b, Location loc, scf::IfOp branch,
                       scf::ForallOp second, Value group, Value zero,
                       Nesting how) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(branch.thenBlock()->getTerminator());
  OpFoldResult secondBlocks = second.getMixedUpperBound()[0];
  Value x = how == Nesting::PerRow ? group : zero;
  Block *body = branch.thenBlock();
  if (how != Nesting::PerRow && !isConstantIntValue(secondBlocks, 1)) {
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
  if (how == Nesting::PerColumn)
    map.map(second.getInductionVar(1), group);
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
  Location loc = first.getLoc();
  OpBuilder b(first);
  // What `second` uses from between the two moves before `first`.
  while (first->getNextNode() != second.getOperation())
    first->getNextNode()->moveBefore(first);

  // One counter in all for a one-block `second`.
  OpFoldResult counters = b.getIndexAttr(1);
  if (how == Nesting::PerColumn)
    counters = b.getIndexAttr(*columnCount(first));
  else if (how == Nesting::PerRow)
    counters = first.getMixedUpperBound()[0];
  Value counter = allocateCounters(b, loc, *first->getBlock(), counters);
  b.setInsertionPoint(first.getTerminator());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value index = zero;
  if (how == Nesting::PerColumn)
    index = first.getInductionVar(1);
  else if (how == Nesting::PerRow)
    index = first.getInductionVar(0);
  scf::IfOp branch =
      buildLastBlockBranch(b, loc, first, counter, index, zero, how);
  Block *body = cloneBlocksInto(b, loc, branch, second, index, zero, how);
  // Its temporaries stay block temporaries (shared memory on the GPU):
  // allocated before the branch, freed after it (their sizes are defined
  // outside it, or computed from the row: temporariesHoistable).
  for (auto alloc :
       llvm::make_early_inc_range(body->getOps<memref::AllocOp>())) {
    for (Value size : alloc->getOperands())
      if (auto ops = sizeComputation(size, body, ValueRange{}))
        for (Operation *op : *ops)
          op->moveBefore(branch);
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

/// Whether `kernel`'s block temporaries lie at the top of its block body
/// and fit in shared memory, so that its body can become one branch of a
/// kernel whose branches share it (layoutShared). A kernel that would run on
/// one thread (its temporaries too large) would take the other with it.
bool temporariesFitShared(scf::ForallOp kernel) {
  FailureOr<SharedLayout> layout = layoutShared(*kernel.getBody());
  // Allocations in a branch of its own would sit two branches deep.
  return succeeded(layout) && layout->bytes <= kKernelSharedMemoryLimit &&
         llvm::all_of(layout->allocs, [&](memref::AllocOp alloc) {
           return alloc->getBlock() == kernel.getBody();
         });
}

/// Whether `first` and `second` can run side by side in one grid
/// (placeSideBySide): both on buffers over (x) or (x, C) grids with the
/// same constant C and the same threads a block, neither writing a buffer
/// the other uses (the shared expert's kernels beside the routed ones:
/// gate_up and shared_gate_up, shared_down and down).
bool canRunSideBySide(scf::ForallOp first, scf::ForallOp second) {
  if (!kernelName(first) || !kernelName(second) ||
      !first.getOutputs().empty() || !second.getOutputs().empty() ||
      !first.isNormalized() || !second.isNormalized() ||
      first.getRank() != second.getRank() || first.getRank() > 2)
    return false;
  std::optional<int64_t> columns = columnCount(first);
  if (!columns || columnCount(second) != columns)
    return false;
  // The threads moe-form-kernels asked for, or both moe-distribute-threads'
  // default.
  auto threads = [](scf::ForallOp k) {
    return k->getAttr(MoeDialect::kBlockThreadsAttrName);
  };
  if (threads(first) != threads(second))
    return false;
  return temporariesFitShared(first) && temporariesFitShared(second) &&
         canHoistBetween(first, second) &&
         !secondOverwritesFirst(first, second) &&
         !secondOverwritesFirst(second, first);
}

/// Whether two kernels' column c covers the same columns: both name the
/// same nonzero column tile.
bool columnsAligned(scf::ForallOp first, scf::ForallOp second) {
  std::optional<int64_t> tile = columnTile(first);
  return tile && *tile != 0 && tile == columnTile(second);
}

/// Returns one kernel over (X1 + X2, C) in place of `first` (X1, C) and
/// `second` (X2, C) (or (X1 + X2) for (X1) and (X2)): its blocks x < X1
/// run `first`'s block (x, c), the others `second`'s block (x - X1, c). Every
/// block's branch is uniform, so its barriers stay block-wide; each branch
/// keeps its temporaries at its top, where the two branches share shared memory
/// (layoutShared). At decode the shared expert's blocks then take the SMs the
/// routed experts' leave idle, in one launch fewer.
scf::ForallOp placeSideBySide(scf::ForallOp first, scf::ForallOp second) {
  Location loc = first.getLoc();
  while (first->getNextNode() != second.getOperation())
    first->getNextNode()->moveBefore(first);
  OpBuilder b(first);
  auto bound = [&](scf::ForallOp k, unsigned d) {
    return getValueOrCreateConstantIndexOp(b, loc, k.getMixedUpperBound()[d]);
  };
  Value firstRows = bound(first, 0);
  Value rows = arith::AddIOp::create(b, loc, firstRows, bound(second, 0));
  SmallVector<OpFoldResult> bounds = first.getMixedUpperBound();
  bounds[0] = rows;
  auto merged = scf::ForallOp::create(b, loc, bounds, /*outputs=*/ValueRange{},
                                      first.getMapping());
  // The first's marks, less its locality: the second's blocks may read
  // anything of the kernel before.
  for (NamedAttribute attr : first->getDiscardableAttrs())
    merged->setAttr(attr.getName(), attr.getValue());
  merged->removeAttr(MoeDialect::kColumnLocalAttrName);
  merged->removeAttr(MoeDialect::kRowLocalAttrName);
  merged->setAttr(MoeDialect::kKernelAttrName,
                  b.getStringAttr(kernelName(first).getValue() + "_" +
                                  kernelName(second).getValue()));
  if (merged.getRank() == 2)
    merged->setAttr(MoeDialect::kColumnTileAttrName,
                    b.getI64IntegerAttr(columnsAligned(first, second)
                                            ? *columnTile(first)
                                            : 0));
  b.setInsertionPoint(merged.getTerminator());
  Value x = merged.getInductionVar(0);
  Value inFirst =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, firstRows);
  auto branch = scf::IfOp::create(b, loc, inFirst, /*withElseRegion=*/true);
  auto cloneBody = [&](scf::ForallOp kernel, Block *into, Value row) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(into->getTerminator());
    IRMapping map;
    if (!row)
      row = arith::SubIOp::create(b, loc, x, firstRows);
    map.map(kernel.getInductionVar(0), row);
    if (kernel.getRank() == 2)
      map.map(kernel.getInductionVar(1), merged.getInductionVar(1));
    for (Operation &op : kernel.getBody()->without_terminator())
      b.clone(op, map);
  };
  cloneBody(first, branch.thenBlock(), x);
  cloneBody(second, branch.elseBlock(), Value());
  first.erase();
  second.erase();
  return merged;
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
    // kernel may take the next one too (router, route, dispatch).
    for (size_t i = 0; i + 1 < kernels.size();) {
      scf::ForallOp first = kernels[i], second = kernels[i + 1];
      Nesting how = nesting(first, second);
      bool perBlocks = how == Nesting::PerColumn || how == Nesting::PerRow;
      // A row's counters are made before the layer's first kernel.
      auto rows = dyn_cast<Value>(first.getMixedUpperBound()[0]);
      if (how == Nesting::None && canRunSideBySide(first, second)) {
        kernels[i] = placeSideBySide(first, second);
        kernels.erase(kernels.begin() + i + 1);
        continue;
      }
      if (how == Nesting::None || !canHoistBetween(first, second) ||
          !temporariesHoistable(second, how == Nesting::PerRow) ||
          (perBlocks && secondOverwritesFirst(first, second)) ||
          (how == Nesting::PerRow && rows && rows.getDefiningOp() &&
           (rows.getParentBlock() != &body ||
            !rows.getDefiningOp()->isBeforeInBlock(firstKernel(body))))) {
        ++i;
        continue;
      }
      fuse(first, second, how);
      kernels.erase(kernels.begin() + i + 1);
    }
  }
};

} // namespace
