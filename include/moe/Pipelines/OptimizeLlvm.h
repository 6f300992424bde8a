//===- OptimizeLlvm.h - the LLVM IR pipeline after MLIR ---------*- C++ -*-===//
//
// The LLVM-level optimization both CPU paths run on the translated module:
// the JIT runner (moe-run) and the emitted host library, so they get the same
// code.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PIPELINES_OPTIMIZELLVM_H
#define MOE_PIPELINES_OPTIMIZELLVM_H

#include "llvm/Support/Error.h"

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

namespace mlir::moe {

/// LLVM's default optimization pipeline at `level` (0-3) for `machine`,
/// with loop and SLP vectorization.
llvm::Error optimizeModule(llvm::Module &module, unsigned level,
                           llvm::TargetMachine *machine);

} // namespace mlir::moe

#endif // MOE_PIPELINES_OPTIMIZELLVM_H
