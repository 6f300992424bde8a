//===- KernelsToGpu.cpp - the moe-kernels-to-gpu pass ---------------------===//
//
// Moves the outlined kernel functions into a gpu.module as gpu.func kernels
// whose block ids replace the block scf.forall. See Passes.td.
//
// Written by hand rather than with the transform dialect's
// map_forall_to_blocks: that needs static trip counts, and our grids are
// formulas in the token count, launched with the exact grid by the runtime.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEKERNELSTOGPU
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Replaces the block forall at the top of `kernel`'s body by its body, its
/// indices by the block ids they are mapped to.
LogicalResult inlineBlockForall(gpu::GPUFuncOp kernel) {
  SmallVector<scf::ForallOp> foralls;
  for (auto forall : kernel.getBody().front().getOps<scf::ForallOp>())
    foralls.push_back(forall);
  if (foralls.size() != 1)
    return kernel.emitError("a kernel function must hold one block forall");
  scf::ForallOp forall = foralls.front();
  IRRewriter rewriter(forall);
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

struct MoeKernelsToGpuPass
    : public moe::impl::MoeKernelsToGpuBase<MoeKernelsToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    SmallVector<Attribute> targets;
    SmallVector<std::string> chipList(chips.begin(), chips.end());
    if (chipList.empty())
      chipList = {"sm_80", "sm_90"};
    for (const std::string &chip : chipList)
      targets.push_back(NVVM::NVVMTargetAttr::get(
          ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", chip, features));

    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(), moduleName,
                                              b.getArrayAttr(targets));
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    // The layer functions it maps to are not device code.
    module->removeAttr(MoeDialect::kLayerMapAttrName);

    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    for (func::FuncOp func : funcs) {
      if (!func->hasAttr(MoeDialect::kKernelAbiAttrName)) {
        func.erase();
        continue;
      }
      b.setInsertionPointToEnd(gpuModule.getBody());
      auto kernel = gpu::GPUFuncOp::create(b, func.getLoc(), func.getName(),
                                           func.getFunctionType());
      kernel->setAttr(MoeDialect::kKernelAbiAttrName,
                      func->getAttr(MoeDialect::kKernelAbiAttrName));
      kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                      b.getUnitAttr());
      kernel.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({1, 1, 1}));
      // Move the body; the func.return becomes gpu.return.
      Region &body = kernel.getBody();
      body.getBlocks().clear();
      body.takeBody(func.getBody());
      Operation *ret = body.back().getTerminator();
      b.setInsertionPoint(ret);
      gpu::ReturnOp::create(b, ret->getLoc());
      ret->erase();
      func.erase();
      if (failed(inlineBlockForall(kernel)))
        return signalPassFailure();
    }
  }
};

} // namespace
