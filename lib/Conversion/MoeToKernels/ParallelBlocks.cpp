//===- ParallelBlocks.cpp - kernels' blocks on the host's threads ---------===//
//
// Each kernel function's block forall becomes an scf.parallel, for
// convert-scf-to-openmp (see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoeDialect.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEPARALLELBLOCKS
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

bool isBlockForall(scf::ForallOp forall) {
  std::optional<ArrayAttr> mapping = forall.getMapping();
  return mapping && !mapping->empty() &&
         llvm::all_of(*mapping, [](Attribute a) {
           return isa<gpu::GPUBlockMappingAttr>(a);
         });
}

/// The loop's dimensions in reverse order: y (the expert kernels' column
/// tiles) outermost, so that OpenMP's static schedule, which gives each
/// thread a contiguous run of iterations, gives each some of every row
/// block's columns. With x outermost, the few row blocks that have rows at
/// decode would all fall to the first thread.
void reverseDimensions(RewriterBase &rewriter, scf::ParallelOp loop) {
  if (loop.getNumLoops() < 2)
    return;
  auto reversed = [](ValueRange values) {
    return llvm::to_vector(llvm::reverse(values));
  };
  rewriter.setInsertionPoint(loop);
  auto swapped = scf::ParallelOp::create(
      rewriter, loop.getLoc(), reversed(loop.getLowerBound()),
      reversed(loop.getUpperBound()), reversed(loop.getStep()));
  rewriter.eraseOp(swapped.getBody()->getTerminator());
  rewriter.mergeBlocks(loop.getBody(), swapped.getBody(),
                       reversed(swapped.getInductionVars()));
  rewriter.eraseOp(loop);
}

struct MoeParallelBlocksPass
    : public moe::impl::MoeParallelBlocksBase<MoeParallelBlocksPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func->hasAttr(MoeDialect::kKernelAbiAttrName) || func.isExternal())
        continue;
      for (auto forall :
           llvm::make_early_inc_range(func.getBody().getOps<scf::ForallOp>())) {
        if (!isBlockForall(forall))
          continue;
        rewriter.setInsertionPoint(forall);
        scf::ParallelOp blocks;
        if (failed(scf::forallToParallelLoop(rewriter, forall, &blocks))) {
          forall.emitError("moe-parallel-blocks: the block forall has "
                           "results; a kernel's blocks write memory");
          return signalPassFailure();
        }
        reverseDimensions(rewriter, blocks);
      }
    }
  }
};

} // namespace
