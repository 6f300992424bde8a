//===- PackedWrapper.h - kernels called with cuLaunchKernel's params -*- C++
//-*-===//
//
// The host library (`_mlir_<symbol>`) and the emulator library
// (`__moe_emu_kernel_<symbol>`) both export each kernel as a function of one
// `void **params`, the array cuLaunchKernel takes, so the runtime calls every
// backend the same way.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_CONVERSION_PACKEDWRAPPER_H
#define MOE_CONVERSION_PACKEDWRAPPER_H

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::moe {

/// Adds `void name(void **params)` after `kernel`, calling it with
/// `*(T_i *)params[i]` as its i-th argument.
LLVM::LLVMFuncOp addPackedWrapper(LLVM::LLVMFuncOp kernel,
                                  llvm::StringRef name);

} // namespace mlir::moe

#endif // MOE_CONVERSION_PACKEDWRAPPER_H
