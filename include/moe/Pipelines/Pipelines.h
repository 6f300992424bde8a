//===- Pipelines.h - named moe pass pipelines -------------------*- C++ -*-===//

#ifndef MOE_PIPELINES_PIPELINES_H
#define MOE_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::moe {

/// moe-prepare: decompose composite moe.layer ops, canonicalize, CSE.
void buildMoePreparePipeline(OpPassManager &pm);

/// Options of moe-to-llvm-cpu.
struct MoeCpuPipelineOptions
    : public PassPipelineOptions<MoeCpuPipelineOptions> {
  Option<bool> kernelForm{
      *this, "kernel-form",
      llvm::cl::desc("Run the fused and tiled kernel form (moe-form-kernels), "
                     "the one the GPU kernels come from; false runs the "
                     "unfused lowering"),
      llvm::cl::init(true)};
  ListOption<int64_t> tiles{
      *this, "tiles",
      llvm::cl::desc("moe-form-kernels tile sizes: route-tokens, expert-rows, "
                     "gate-up-columns, down-columns, combine-tokens (all "
                     "five; default: the pass's)")};
};

/// moe-to-llvm-cpu: moe-prepare, moe-form-kernels (unless disabled),
/// convert-moe-to-linalg, One-Shot Bufferize, buffer deallocation, the
/// kernels' foralls as loops and the conversions to the LLVM dialect, for
/// the ExecutionEngine or mlir-runner.
void buildMoeToLLVMCPUPipeline(OpPassManager &pm,
                               const MoeCpuPipelineOptions &options = {});

/// Registers the moe passes and the named pipelines above.
void registerMoePassesAndPipelines();

} // namespace mlir::moe

#endif // MOE_PIPELINES_PIPELINES_H
