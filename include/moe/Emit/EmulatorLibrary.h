//===- EmulatorLibrary.h - device code as a host library -------*- C++ -*-===//
//
// `<fn>.<chip>.emu.so`: the NVVM module the cubin is compiled from, built for
// the host with every NVVM operation calling moert's SIMT emulator
// (runtime/include/moert/moert_emu_abi.h is the contract).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_EMIT_EMULATORLIBRARY_H
#define MOE_EMIT_EMULATORLIBRARY_H

#include "mlir/IR/BuiltinOps.h"

namespace mlir::moe {

/// Builds the gpu.module of `lowered` (moe-kernels-to-nvvm's output) that
/// targets `chip`, or its only gpu.module when `chip` is empty, through
/// moe-nvvm-to-emulator into the shared library `soPath`. `lowered` is not
/// modified; diagnostics go to its context.
LogicalResult buildEmulatorLibrary(ModuleOp lowered, llvm::StringRef chip,
                                   llvm::StringRef soPath);

} // namespace mlir::moe

#endif // MOE_EMIT_EMULATORLIBRARY_H
