//===- NvvmToEmulator.h - NVVM device code as emulator host code -*- C++
//-*-===//
//
// moe-nvvm-to-emulator's rewrite as functions, for the emulator library
// builder (lib/Emit/EmulatorLibrary.cpp), which picks one chip's module.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TARGET_NVVM_NVVMTOEMULATOR_H
#define MOE_TARGET_NVVM_NVVMTOEMULATOR_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace mlir::moe {

/// Whether `module` has an #nvvm.target for `chip`.
bool targetsChip(gpu::GPUModuleOp module, llvm::StringRef chip);

/// Rewrites the NVVM device code in `module` (a gpu.module, or any symbol
/// table of one block) into host code calling the SIMT emulator, as
/// moe-nvvm-to-emulator does. Fails, with a diagnostic per problem and
/// `module` untouched, on anything it cannot emulate.
LogicalResult convertNvvmToEmulator(Operation *module);

} // namespace mlir::moe

#endif // MOE_TARGET_NVVM_NVVMTOEMULATOR_H
