//===- Pipelines.cpp - named moe pass pipelines ---------------------------===//

#include "moe/Pipelines/Pipelines.h"
#include "moe/Transforms/Passes.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::moe::buildMoePreparePipeline(OpPassManager &pm) {
  pm.addPass(createMoeDecomposeLayer());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::moe::buildMoeToLLVMCPUPipeline(
    OpPassManager &pm, const MoeCpuPipelineOptions &options) {
  buildMoePreparePipeline(pm);
  if (options.kernelForm) {
    MoeFormKernelsOptions tiles;
    if (options.tiles.size() == 5) {
      tiles.routeTokens = options.tiles[0];
      tiles.expertRows = options.tiles[1];
      tiles.gateUpColumns = options.tiles[2];
      tiles.downColumns = options.tiles[3];
      tiles.combineTokens = options.tiles[4];
    }
    pm.addPass(createMoeFormKernels(tiles));
  }
  pm.addPass(createConvertMoeToLinalg());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Upstream passes by their registered names: the textual form keeps the
  // options visible and the order easy to compare with mlir-opt runs. Tools
  // other than moe-opt (moe-run, the tests) have not registered them.
  static bool registered = [] {
    registerAllPasses();
    return true;
  }();
  (void)registered;
  LogicalResult parsed = parsePassPipeline(
      "func.func(convert-elementwise-to-linalg),"
      "one-shot-bufferize{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},"
      "buffer-deallocation-pipeline,"
      // The kernels' block loops, one after the other on the CPU.
      "func.func(scf-forall-to-for),"
      "func.func(convert-linalg-to-loops),"
      // expand-strided-metadata emits affine.apply: lower-affine after it.
      "expand-strided-metadata,"
      "lower-affine,"
      "convert-scf-to-cf,"
      // bf16 conversions as integer code: not every CPU has them natively.
      "arith-expand{include-bf16=true},"
      "finalize-memref-to-llvm,"
      "convert-math-to-llvm,"
      // What LLVM has no intrinsic for (erf) becomes a libm call.
      "convert-math-to-libm,"
      "convert-arith-to-llvm,"
      "convert-index-to-llvm,"
      "convert-cf-to-llvm,"
      "convert-func-to-llvm,"
      "reconcile-unrealized-casts",
      pm);
  (void)parsed;
  assert(succeeded(parsed) && "the CPU pipeline text must parse");
}

void mlir::moe::registerMoePassesAndPipelines() {
  registerMoePasses();
  PassPipelineRegistration<>(
      "moe-prepare",
      "Decompose composite moe.layer ops and canonicalize: the entry of every "
      "later moe pipeline",
      buildMoePreparePipeline);
  PassPipelineRegistration<MoeCpuPipelineOptions>(
      "moe-to-llvm-cpu",
      "Lower moe layers to the LLVM dialect for the CPU (the kernel form, "
      "linalg on tensors, One-Shot Bufferize, loops)",
      [](OpPassManager &pm, const MoeCpuPipelineOptions &options) {
        buildMoeToLLVMCPUPipeline(pm, options);
      });
}
