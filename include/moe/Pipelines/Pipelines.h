//===- Pipelines.h - named moe pass pipelines -------------------*- C++ -*-===//

#ifndef MOE_PIPELINES_PIPELINES_H
#define MOE_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace mlir::moe {

/// moe-prepare: decompose composite moe.layer ops, canonicalize, CSE.
void buildMoePreparePipeline(OpPassManager &pm);

/// moe-to-llvm-cpu: moe-prepare, convert-moe-to-linalg, One-Shot
/// Bufferize, buffer deallocation and the conversions to the LLVM dialect,
/// for the ExecutionEngine or mlir-runner.
void buildMoeToLLVMCPUPipeline(OpPassManager &pm);

/// Registers the moe passes and the named pipelines above.
void registerMoePassesAndPipelines();

} // namespace mlir::moe

#endif // MOE_PIPELINES_PIPELINES_H
