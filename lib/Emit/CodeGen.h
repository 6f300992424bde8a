//===- CodeGen.h - host and device code of outlined kernels -----*- C++ -*-===//
//
// Internal to MoeEmit. Both take a module holding only kernel functions
// with the manifest's ABI (moe-kernel-abi's output, layer functions
// removed), which they clone and lower.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_EMIT_CODEGEN_H
#define MOE_LIB_EMIT_CODEGEN_H

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::moe {

/// The kernels as a host shared library exporting `_mlir_<symbol>(void **)`
/// per kernel (the manifest's CPU ABI), written to `soPath`: an object file
/// from LLVM for the host triple, linked by the system's C compiler driver.
LogicalResult buildHostLibrary(ModuleOp kernels, llvm::StringRef soPath);

/// PTX text and cubin bytes of one chip.
struct DeviceCode {
  std::string ptx, cubin;
};

/// The kernels compiled for each chip: moe-kernels-to-nvvm, then
/// gpu-module-to-binary once as PTX and once as cubin (ptxas from
/// `cudaPath`).
FailureOr<std::map<std::string, DeviceCode>>
buildDeviceCode(ModuleOp kernels, llvm::ArrayRef<std::string> chips,
                llvm::StringRef cudaPath);

} // namespace mlir::moe

#endif // MOE_LIB_EMIT_CODEGEN_H
