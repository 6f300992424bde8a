//===- Pipelines.cpp - named moe pass pipelines ---------------------------===//

#include "moe/Pipelines/Pipelines.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace {
/// Upstream passes by their registered names: the textual form keeps the
/// options visible and the order easy to compare with mlir-opt runs. Tools
/// other than moe-opt (moe-run, the tests) have not registered them.
void addUpstream(OpPassManager &pm, StringRef pipeline) {
  static bool registered = [] {
    registerAllPasses();
    return true;
  }();
  (void)registered;
  LogicalResult parsed = parsePassPipeline(pipeline, pm);
  (void)parsed;
  assert(succeeded(parsed) && "a moe pipeline's text must parse");
}

void addCleanup(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void addBufferize(OpPassManager &pm) {
  addUpstream(pm, "func.func(convert-elementwise-to-linalg),"
                  "eliminate-empty-tensors,"
                  "one-shot-bufferize{bufferize-function-boundaries "
                  "function-boundary-type-conversion=identity-layout-map},"
                  "buffer-deallocation-pipeline");
}
} // namespace

void mlir::moe::buildMoePreparePipeline(OpPassManager &pm) {
  pm.addPass(createMoeDecomposeLayer());
  addCleanup(pm);
}

void mlir::moe::buildMoeKernelAbiPipeline(OpPassManager &pm,
                                          ArrayRef<int64_t> tiles,
                                          const TileSelection *selection,
                                          bool tensorCores) {
  buildMoePreparePipeline(pm);
  if (selection && tiles.size() != 5) {
    MoeSelectTilesOptions select;
    select.target = selection->target;
    select.tokens = selection->tokens;
    select.tuningFile = selection->tuningFile;
    pm.addPass(createMoeSelectTiles(select));
  }
  MoeFormKernelsOptions options;
  options.tensorCores = tensorCores;
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
                                            bool barePointers) {
  addUpstream(pm, "func.func(scf-forall-to-for),"
                  "func.func(convert-linalg-to-loops),"
                  // expand-strided-metadata emits affine.apply: lower-affine
                  // after it.
                  "expand-strided-metadata,"
                  "lower-affine,"
                  "convert-scf-to-cf,"
                  // bf16 conversions as integer code: not every CPU has them.
                  "arith-expand{include-bf16=true},"
                  // The staging copies' 16-byte vector loads and stores.
                  "convert-vector-to-llvm,"
                  "finalize-memref-to-llvm,"
                  "convert-math-to-llvm,"
                  // What LLVM has no intrinsic for (erf) becomes a libm call.
                  "convert-math-to-libm,"
                  "convert-arith-to-llvm,"
                  "convert-index-to-llvm,"
                  "convert-cf-to-llvm");
  addUpstream(pm, barePointers
                      ? "convert-func-to-llvm{use-bare-ptr-memref-call-conv}"
                      : "convert-func-to-llvm");
  addUpstream(pm, "reconcile-unrealized-casts");
}

void mlir::moe::buildMoeKernelsToNVVMPipeline(OpPassManager &pm,
                                              ArrayRef<std::string> chips) {
  MoeKernelsToGpuOptions options;
  options.chips = llvm::to_vector(chips);
  pm.addPass(createMoeKernelsToGpu(options));
  addUpstream(pm, "convert-linalg-to-loops,"
                  "expand-strided-metadata,"
                  "lower-affine,"
                  "convert-scf-to-cf,"
                  // cp.async (the staging copies).
                  "gpu.module(convert-nvgpu-to-nvvm),"
                  // The manifest's ABI: a pointer per buffer, then T.
                  "gpu.module(convert-gpu-to-nvvm{"
                  "use-bare-ptr-memref-call-conv=1}),"
                  "reconcile-unrealized-casts");
}

void mlir::moe::buildMoeToLLVMCPUPipeline(
    OpPassManager &pm, const MoeCpuPipelineOptions &options) {
  if (options.kernelForm) {
    buildMoeKernelAbiPipeline(pm, options.tiles, /*selection=*/nullptr,
                              options.tensorCores);
  } else {
    buildMoePreparePipeline(pm);
    pm.addPass(createConvertMoeToLinalg());
    addCleanup(pm);
    addBufferize(pm);
  }
  buildMoeLoopsToLLVMPipeline(pm);
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
                                options.tuningFile};
        buildMoeKernelAbiPipeline(
            pm, options.tiles, options.selectFor.empty() ? nullptr : &selection,
            options.tensorCores);
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
