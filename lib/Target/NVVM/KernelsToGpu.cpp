//===- KernelsToGpu.cpp - the moe-kernels-to-gpu pass ---------------------===//
//
// Moves the outlined kernel functions into a gpu.module (NVVM targets) as
// gpu.func kernels and lowers each with the steps of Transforms.h: block
// ids, shared memory or stack, thread and warp ids with mma.sync, cp.async
// waits, fences; then checks the chips have what the kernels use. See
// Passes.td.
//
//===----------------------------------------------------------------------===//

#include "Transforms.h"

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "moe/Target/NVVM/ChipInfo.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEKERNELSTOGPU
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// `features` with its PTX version (+ptxNN) raised to at least `ptx`.
std::string withPtxAtLeast(llvm::StringRef features, int64_t ptx) {
  SmallVector<StringRef> parts;
  features.split(parts, ',', -1, /*KeepEmpty=*/false);
  SmallVector<std::string> kept;
  int64_t version = ptx;
  for (StringRef part : parts) {
    int64_t v = 0;
    if (part.starts_with("+ptx") && !part.drop_front(4).getAsInteger(10, v))
      version = std::max(version, v);
    else
      kept.push_back(part.str());
  }
  kept.push_back("+ptx" + std::to_string(version));
  return llvm::join(kept, ",");
}

/// `kernel`'s moe.kernel_abi.
KernelAbiAttr kernelAbi(gpu::GPUFuncOp kernel) {
  return kernel->getAttrOfType<KernelAbiAttr>(MoeDialect::kKernelAbiAttrName);
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
      for (const nvidia::ChipInfo &chip : nvidia::kChips)
        chipList.push_back(chip.name);
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
      if (func.isExternal()) {
        func.emitError("a kernel function must have a body");
        return signalPassFailure();
      }
      b.setInsertionPointToEnd(gpuModule.getBody());
      auto kernel = gpu::GPUFuncOp::create(b, func.getLoc(), func.getName(),
                                           func.getFunctionType());
      kernel->setAttr(MoeDialect::kKernelAbiAttrName,
                      func->getAttr(MoeDialect::kKernelAbiAttrName));
      kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                      b.getUnitAttr());
      // moe-distribute-threads shares blocks out along x only.
      int64_t threads = kernelAbi(kernel).getBlockSizes()[0];
      kernel.setKnownBlockSizeAttr(
          b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
      // Move the body; the func.return becomes gpu.return.
      Region &body = kernel.getBody();
      body.getBlocks().clear();
      body.takeBody(func.getBody());
      Operation *ret = body.back().getTerminator();
      b.setInsertionPoint(ret);
      gpu::ReturnOp::create(b, ret->getLoc());
      ret->erase();
      func.erase();
      IRRewriter rewriter(ctx);
      if (failed(nvidia::inlineBlockForall(rewriter, kernel)))
        return signalPassFailure();
      if (threads > 1) {
        if (failed(nvidia::placeInSharedMemory(
                rewriter, kernel, kernelAbi(kernel).getSharedMemory())))
          return signalPassFailure();
      } else {
        // moe-distribute-threads left it one thread per block: its block
        // temporaries did not fit in shared memory (or cannot be laid out
        // there). It runs, but slowly: gpt-oss's expert kernels did at
        // column tiles that the tensor-core form could not take (issue 19).
        kernel.emitWarning()
            << "kernel '" << kernelAbi(kernel).getKernel().getValue()
            << "' runs one thread per block: its block temporaries do not "
               "fit in shared memory (moe-distribute-threads); smaller tiles "
               "would give it threads";
        nvidia::placeOnStack(rewriter, kernel);
      }
      if (failed(nvidia::mapThreadForalls(rewriter, kernel, threads)))
        return signalPassFailure();
      nvidia::waitForAsyncCopies(rewriter, kernel);
      nvidia::fenceAtomics(rewriter, kernel);
    }
    // The PTX needs no libdevice (no CUDA toolkit), and the emulator runs
    // the very arithmetic of the GPU.
    if (failed(nvidia::lowerMathWithoutLibdevice(gpuModule)))
      return signalPassFailure();
    // bf16 and f16 mma.sync m16n8k16 need sm_80 or newer; e4m3
    // m16n8k32 sm_89 or newer and PTX 8.4.
    bool mma = false, fp8Mma = false;
    gpuModule.walk([&](NVVM::MmaOp) { mma = true; });
    gpuModule.walk([&](LLVM::CallIntrinsicOp call) {
      fp8Mma |= call.getIntrin() == nvidia::kE4M3MmaIntrinsic;
    });
    for (const std::string &chip : chipList) {
      std::optional<int64_t> capability = nvidia::computeCapability(chip);
      if (mma && (!capability || *capability < nvidia::kMmaSyncMinCapability)) {
        module.emitError("the expert GEMMs use mma.sync m16n8k16, which ")
            << chip << " lacks (sm_80 or newer)";
        return signalPassFailure();
      }
      if (fp8Mma &&
          (!capability || *capability < nvidia::kFp8MmaMinCapability)) {
        module.emitError("the expert GEMMs use e4m3 mma.sync m16n8k32, which ")
            << chip << " lacks (sm_89 or newer)";
        return signalPassFailure();
      }
    }
    if (fp8Mma) {
      std::string raised = withPtxAtLeast(features, nvidia::kFp8MmaMinPtx);
      SmallVector<Attribute> raisedTargets;
      for (const std::string &chip : chipList)
        raisedTargets.push_back(NVVM::NVVMTargetAttr::get(
            ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", chip, raised));
      gpuModule.setTargetsAttr(b.getArrayAttr(raisedTargets));
    }
  }
};

} // namespace
