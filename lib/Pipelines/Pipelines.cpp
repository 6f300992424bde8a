//===- Pipelines.cpp - named moe pass pipelines ---------------------------===//

#include "moe/Pipelines/Pipelines.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

// Every pipeline is built from typed pass constructors (as upstream's
// GPUToNVVMPipeline.cpp is), so a misspelt pass or option is a compile
// error, not a run-time parse failure.
namespace {
void addCleanup(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void addBufferize(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions oneShot;
  oneShot.bufferizeFunctionBoundaries = true;
  oneShot.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(oneShot));
  bufferization::buildBufferDeallocationPipeline(pm);
}
} // namespace

void mlir::moe::buildMoePreparePipeline(OpPassManager &pm) {
  pm.addPass(createMoeDecomposeLayer());
  addCleanup(pm);
}

void mlir::moe::buildMoeKernelAbiPipeline(OpPassManager &pm,
                                          ArrayRef<int64_t> tiles,
                                          const TileSelection *selection,
                                          bool tensorCores,
                                          bool e4m3TensorCores) {
  buildMoePreparePipeline(pm);
  if (selection && tiles.size() != 5) {
    MoeSelectTilesOptions select;
    select.target = selection->target;
    select.tokens = selection->tokens;
    select.tuningFile = selection->tuningFile;
    select.cpu = selection->cpu;
    pm.addPass(createMoeSelectTiles(select));
  }
  MoeFormKernelsOptions options;
  options.tensorCores = tensorCores;
  options.e4m3TensorCores = e4m3TensorCores;
  if (tiles.size() == 5) {
    options.routeTokens = tiles[0];
    options.expertRows = tiles[1];
    options.gateUpColumns = tiles[2];
    options.downColumns = tiles[3];
    options.combineTokens = tiles[4];
  }
  pm.addPass(createMoeFormKernels(options));
  pm.addPass(createConvertMoeToLinalg());
  addCleanup(pm);
  addBufferize(pm);
  pm.addNestedPass<func::FuncOp>(createMoeFuseLaunches());
  pm.addPass(createMoeOutlineKernels());
  addCleanup(pm);
  pm.addPass(createMoeDistributeThreads());
  addCleanup(pm);
}

void mlir::moe::buildMoeLoopsToLLVMPipeline(OpPassManager &pm,
                                            bool barePointers,
                                            bool genericAllocation,
                                            int64_t threads) {
  // The kernels' blocks on `threads` OpenMP threads, their thread loops
  // (and everything else) in order.
  bool openmp = threads != 1;
  if (openmp)
    pm.addPass(createMoeParallelBlocks());
  pm.addNestedPass<func::FuncOp>(createForallToForLoopPass());
  if (openmp) {
    // 0: no num_threads clause, OpenMP's default.
    ConvertSCFToOpenMPPassOptions scfToOpenMP;
    scfToOpenMP.numThreads = static_cast<unsigned>(threads);
    pm.addPass(createConvertSCFToOpenMPPass(scfToOpenMP));
    // Its memref.alloca_scope around each block, inlined where the block
    // has no allocas (its temporaries are heap buffers): scf-to-cf would
    // leave the scope several blocks, which it may not have.
    pm.addPass(createCanonicalizerPass());
  }
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  // expand-strided-metadata emits affine.apply: lower-affine after it.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  // bf16 conversions as integer code: not every CPU has them.
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  // The staging copies' 16-byte vector loads and stores, the CPU form's
  // vector loops and its AVX512-BF16 dot products (x86vector).
  ConvertVectorToLLVMPassOptions vector;
  vector.x86Vector = true;
  pm.addPass(createConvertVectorToLLVMPass(vector));
  FinalizeMemRefToLLVMConversionPassOptions memrefs;
  memrefs.useGenericFunctions = genericAllocation;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefs));
  pm.addPass(createConvertMathToLLVMPass());
  // What LLVM has no intrinsic for (erf) becomes a libm call.
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  // Functions before OpenMP: convert-openmp-to-llvm converts signatures
  // too, without bare pointers.
  ConvertFuncToLLVMPassOptions func;
  func.useBarePtrCallConv = barePointers;
  pm.addPass(createConvertFuncToLLVMPass(func));
  if (openmp)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::moe::buildMoeKernelsToNVVMPipeline(OpPassManager &pm,
                                              ArrayRef<std::string> chips) {
  MoeKernelsToGpuOptions options;
  options.chips = llvm::to_vector(chips);
  pm.addPass(createMoeKernelsToGpu(options));
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  // cp.async (the staging copies).
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertNVGPUToNVVMPass());
  // The manifest's ABI: a pointer per buffer, then T.
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.useBarePtrCallConv = true;
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps(nvvm));
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::moe::buildMoeToLLVMCPUPipeline(
    OpPassManager &pm, const MoeCpuPipelineOptions &options) {
  if (options.kernelForm) {
    TileSelection selection{options.selectFor, options.tokens,
                            options.tuningFile, options.cpu};
    buildMoeKernelAbiPipeline(pm, options.tiles,
                              options.selectFor.empty() ? nullptr : &selection,
                              options.tensorCores, options.e4m3TensorCores);
  } else {
    buildMoePreparePipeline(pm);
    pm.addPass(createConvertMoeToLinalg());
    addCleanup(pm);
    addBufferize(pm);
  }
  buildMoeLoopsToLLVMPipeline(pm, /*barePointers=*/false,
                              options.genericAllocation, options.threads);
}

void mlir::moe::registerMoePassesAndPipelines() {
  registerMoePasses();
  PassPipelineRegistration<>(
      "moe-prepare",
      "Decompose composite moe.layer ops and canonicalize: the entry of every "
      "later moe pipeline",
      buildMoePreparePipeline);
  PassPipelineRegistration<MoeKernelPipelineOptions>(
      "moe-kernel-abi",
      "Form, bufferize and outline a moe layer's kernels into functions with "
      "the manifest's ABI (the form the host library and the GPU kernels "
      "are compiled from)",
      [](OpPassManager &pm, const MoeKernelPipelineOptions &options) {
        TileSelection selection{options.selectFor, options.tokens,
                                options.tuningFile, options.cpu};
        buildMoeKernelAbiPipeline(
            pm, options.tiles, options.selectFor.empty() ? nullptr : &selection,
            options.tensorCores, options.e4m3TensorCores);
      });
  PassPipelineRegistration<MoeNVVMPipelineOptions>(
      "moe-kernels-to-nvvm",
      "Move moe-kernel-abi's kernel functions into a gpu.module and lower "
      "them to NVVM with bare-pointer arguments (then gpu-module-to-binary)",
      [](OpPassManager &pm, const MoeNVVMPipelineOptions &options) {
        buildMoeKernelsToNVVMPipeline(pm, options.chips);
      });
  PassPipelineRegistration<MoeCpuPipelineOptions>(
      "moe-to-llvm-cpu",
      "Lower moe layers to the LLVM dialect for the CPU (the kernel form, "
      "linalg on tensors, One-Shot Bufferize, loops)",
      [](OpPassManager &pm, const MoeCpuPipelineOptions &options) {
        buildMoeToLLVMCPUPipeline(pm, options);
      });
}
