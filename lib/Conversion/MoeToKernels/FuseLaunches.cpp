//===- FuseLaunches.cpp - the moe-fuse-launches pass ----------------------===//
//
// Runs a one-block kernel in the block of the kernel before it that finishes
// last, found with an atomic ticket: one launch fewer, and no host
// synchronisation. See the pass description in Passes.td.
//
// Written by hand: upstream has no fusion across a grid-wide dependence
// (the forall fusions need independent iterations; a cooperative grid
// barrier would need every block resident at once, which the ticket does
// not: no block ever waits).
//
//===----------------------------------------------------------------------===//

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

/// A kernel on buffers whose grid is a single block.
bool isOneBlockKernel(scf::ForallOp forall) {
  return kernelName(forall) && forall.getOutputs().empty() &&
         forall.isNormalized() &&
         llvm::all_of(forall.getMixedUpperBound(), [](OpFoldResult bound) {
           return isConstantIntValue(bound, 1);
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
  return llvm::all_of(
      second.getBody()->getOps<memref::AllocOp>(), [&](memref::AllocOp a) {
        return llvm::all_of(a->getOperands(), [&](Value v) {
          return !second->isAncestor(v.getParentBlock()->getParentOp());
        });
      });
}

/// Merges `second`, a one-block kernel, into the end of `first`'s block
/// body behind a ticket; `second` is erased. `first` must have at least one
/// block (T >= 1, which moert and moe-run require), or nothing runs
/// `second`.
void fuse(scf::ForallOp first, scf::ForallOp second) {
  Location loc = first.getLoc();
  OpBuilder b(first);
  // What `second` uses from between the two moves before `first`.
  while (first->getNextNode() != second.getOperation())
    first->getNextNode()->moveBefore(first);

  // The ticket counter, zeroed by the layer before its first kernel (the
  // manifest's zero_init).
  auto counterType = MemRefType::get({1}, b.getI32Type());
  Block &layer = *first->getBlock();
  Value counter;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(&*llvm::find_if(
        layer, [](Operation &op) { return isa<scf::ForallOp>(op); }));
    counter = memref::AllocOp::create(b, loc, counterType);
    Value zero32 = arith::ConstantIntOp::create(b, loc, 0, 32);
    linalg::FillOp::create(b, loc, zero32, counter);
    b.setInsertionPoint(layer.getTerminator());
    memref::DeallocOp::create(b, loc, counter);
  }

  // At the end of each block of `first`: one thread takes a ticket and
  // leaves it in a block temporary for the others.
  b.setInsertionPoint(first.getTerminator());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one32 = arith::ConstantIntOp::create(b, loc, 1, 32);
  Value ticket = memref::AllocOp::create(b, loc, counterType);
  auto thread = scf::ForallOp::create(
      b, loc, {b.getIndexAttr(1)}, /*outputs=*/ValueRange{},
      b.getArrayAttr({gpu::GPUThreadMappingAttr::get(b.getContext(),
                                                     gpu::MappingId::DimX)}));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(thread.getBody()->getTerminator());
    Value taken = memref::AtomicRMWOp::create(
        b, loc, arith::AtomicRMWKind::addi, one32, counter, ValueRange{zero});
    memref::StoreOp::create(b, loc, taken, ticket, ValueRange{zero});
  }
  Value taken = memref::LoadOp::create(b, loc, ticket, ValueRange{zero});
  Value blocks;
  for (OpFoldResult bound : first.getMixedUpperBound()) {
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

  // The last block runs `second`'s body, its block ids all 0.
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    IRMapping map;
    for (Value iv : second.getInductionVars())
      map.map(iv, zero);
    for (Operation &op : second.getBody()->without_terminator())
      b.clone(op, map);
  }
  // Its temporaries stay block temporaries (shared memory on the GPU):
  // allocated before the branch, freed after it (their sizes are defined
  // outside it: temporariesHoistable).
  for (auto alloc : llvm::make_early_inc_range(
           branch.thenBlock()->getOps<memref::AllocOp>())) {
    alloc->moveBefore(branch);
    for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
      if (isa<memref::DeallocOp>(user) &&
          user->getBlock() == branch.thenBlock())
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
    // Pairs (kernel, one-block kernel after it); a merged kernel is not
    // merged again.
    for (size_t i = 0; i + 1 < kernels.size(); ++i) {
      scf::ForallOp first = kernels[i], second = kernels[i + 1];
      if (isOneBlockKernel(first) || !isOneBlockKernel(second) ||
          !first.getOutputs().empty() || !first.isNormalized() ||
          !canHoistBetween(first, second) || !temporariesHoistable(second))
        continue;
      fuse(first, second);
      ++i;
    }
  }
};

} // namespace
