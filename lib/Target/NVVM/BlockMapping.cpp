//===- BlockMapping.cpp - block and thread foralls to GPU ids -------------===//
//
// Written by hand rather than with the transform dialect's
// map_forall_to_blocks / map_nested_forall_to_threads: those need static
// trip counts, and our grids are formulas in the token count, launched with
// the exact grid by the runtime; and warp foralls here carry the
// tensor-core contractions that become mma.sync.
//
//===----------------------------------------------------------------------===//

#include "MmaSync.h"
#include "Transforms.h"

#include "moe/Dialect/MoeDialect.h"
#include "moe/Target/NVVM/ChipInfo.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;
using namespace mlir::moe;

LogicalResult mlir::moe::nvidia::inlineBlockForall(RewriterBase &rewriter,
                                                   gpu::GPUFuncOp kernel) {
  SmallVector<scf::ForallOp> foralls;
  for (auto forall : kernel.getBody().front().getOps<scf::ForallOp>())
    foralls.push_back(forall);
  if (foralls.size() != 1)
    return kernel.emitError("a kernel function must hold one block forall");
  scf::ForallOp forall = foralls.front();
  rewriter.setInsertionPoint(forall);
  SmallVector<Value> ids;
  ArrayAttr mapping = *forall.getMapping(); // not a temporary's member
  for (Attribute attr : mapping) {
    auto block = cast<gpu::GPUBlockMappingAttr>(attr);
    auto dim = static_cast<gpu::Dimension>(block.getMappingId());
    ids.push_back(gpu::BlockIdOp::create(rewriter, forall.getLoc(), dim));
  }
  Block *body = forall.getBody();
  rewriter.eraseOp(body->getTerminator());
  rewriter.inlineBlockBefore(body, forall, ids);
  rewriter.eraseOp(forall);
  return success();
}

/// Whether the ops before `op` in its block, back to a barrier, may read
/// memory that `op` then writes: at the start of a block (a loop body, a
/// branch) that is unknown, at the kernel's entry nothing was read.
static bool readsSinceBarrier(Operation *op) {
  for (Operation *before = op->getPrevNode(); before;
       before = before->getPrevNode()) {
    if (isa<gpu::BarrierOp>(before))
      return false;
    if (before->getNumRegions() != 0 ||
        mightHaveEffect<MemoryEffects::Read>(before))
      return true;
  }
  return !isa<gpu::GPUFuncOp>(op->getParentOp());
}

LogicalResult mlir::moe::nvidia::mapThreadForalls(RewriterBase &rewriter,
                                                  gpu::GPUFuncOp kernel,
                                                  int64_t threads) {
  SmallVector<scf::ForallOp> foralls;
  kernel.walk([&](scf::ForallOp forall) { foralls.push_back(forall); });
  for (scf::ForallOp forall : foralls) {
    std::optional<ArrayAttr> mapping = forall.getMapping();
    Attribute only =
        mapping && mapping->size() == 1 ? (*mapping)[0] : Attribute();
    auto thread = dyn_cast_or_null<gpu::GPUThreadMappingAttr>(only);
    auto warp = dyn_cast_or_null<gpu::GPUWarpMappingAttr>(only);
    std::optional<int64_t> count =
        getConstantIntValue(forall.getMixedUpperBound()[0]);
    bool nested = !forall.getOutputs().empty() ||
                  forall->getParentOfType<scf::ForallOp>();
    if (warp) {
      // mma.sync needs every lane of each warp: a forall over all of them.
      if (warp.getWarp() != gpu::MappingId::DimX || !count ||
          *count * nvidia::kWarpSize != threads || nested)
        return forall.emitError("expected a forall over the ")
               << threads / nvidia::kWarpSize
               << " warps (x) of the block, not nested";
      SmallVector<linalg::LinalgOp> contractions;
      forall.walk([&](linalg::LinalgOp op) {
        if (op->hasAttr(MoeDialect::kTensorCoreAttrName))
          contractions.push_back(op);
      });
      for (linalg::LinalgOp op : contractions)
        if (failed(lowerToMmaSync(op)))
          return failure();
    } else if (!thread || thread.getThread() != gpu::MappingId::DimX ||
               !count || *count > threads || nested) {
      return forall.emitError("expected a forall over at most ")
             << threads << " threads (x) of the block, not nested";
    }
    if (thread)
      lowerToAsyncCopies(rewriter, forall);
    rewriter.setInsertionPoint(forall);
    Location loc = forall.getLoc();
    if (readsSinceBarrier(forall))
      gpu::BarrierOp::create(rewriter, loc);
    Value id = gpu::ThreadIdOp::create(rewriter, loc, gpu::Dimension::x);
    if (warp) {
      id = arith::DivUIOp::create(
          rewriter, loc, id,
          arith::ConstantIndexOp::create(rewriter, loc, nvidia::kWarpSize));
      count = threads;
    }
    Block *body = forall.getBody();
    rewriter.eraseOp(body->getTerminator());
    if (*count == threads) {
      rewriter.inlineBlockBefore(body, forall, id);
    } else {
      Value active = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::ult, id,
          arith::ConstantIndexOp::create(rewriter, loc, *count));
      auto guard = scf::IfOp::create(rewriter, loc, active);
      rewriter.inlineBlockBefore(body, guard.thenBlock()->getTerminator(), id);
    }
    gpu::BarrierOp::create(rewriter, loc);
    rewriter.eraseOp(forall);
  }
  return success();
}
