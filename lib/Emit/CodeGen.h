//===- CodeGen.h - host and device code of outlined kernels -----*- C++ -*-===//
//
// Internal to MoeEmit. `kernels` is a module holding only kernel functions
// with the manifest's ABI (moe-kernel-abi's output, layer functions
// removed); they clone it before lowering.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_EMIT_CODEGEN_H
#define MOE_LIB_EMIT_CODEGEN_H

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::moe {

/// How a host library is compiled.
struct HostCode {
  /// LLVM's CPU name and features ("generic" runs on any CPU of the
  /// architecture).
  std::string cpu = "generic", features;
  /// 1: the blocks in order on the calling thread; otherwise OpenMP
  /// (0: its default thread count) and the library needs libomp.so.5.
  int64_t threads = 1;
};

/// The kernels as a host shared library exporting `_mlir_<symbol>(void **)`
/// per kernel (the manifest's CPU ABI), written to `soPath`.
LogicalResult buildHostLibrary(ModuleOp kernels, llvm::StringRef soPath,
                               const HostCode &code = {});

/// `module` (LLVM dialect) as a shared object at `soPath`: LLVM's pipeline
/// at `optLevel`, an object file for the host triple and `code`'s CPU,
/// linked by the system's C compiler driver ($CC, else cc) with -lm (and
/// libomp where `code.threads` is not 1).
LogicalResult buildSharedObject(ModuleOp module, llvm::StringRef soPath,
                                unsigned optLevel, const HostCode &code = {});

/// moe-kernels-to-nvvm on a clone of `kernels`: one gpu.module with a
/// target per chip, the input of both buildDeviceCode and
/// buildEmulatorLibrary (moe/Emit/EmulatorLibrary.h), so the cubin and the
/// emulator run the same code.
FailureOr<OwningOpRef<ModuleOp>>
lowerKernelsToNVVM(ModuleOp kernels, llvm::ArrayRef<std::string> chips);

/// PTX text and cubin bytes of one chip (no cubin without ptxas).
struct DeviceCode {
  std::string ptx, cubin;
};

/// ptxas as other CUDA tools find it: in `cudaPath`/bin if given, else in
/// $CUDA_HOME/bin or $CUDA_PATH/bin if one is set (the first set one
/// decides), else on PATH, else in /usr/local/cuda/bin. None: no toolkit.
std::optional<std::string> findPtxas(llvm::StringRef cudaPath);

/// lowerKernelsToNVVM's module compiled for each chip: PTX in-process
/// (gpu-module-to-binary; the kernels need no libdevice), and with
/// `ptxas` a cubin from it.
FailureOr<std::map<std::string, DeviceCode>>
buildDeviceCode(ModuleOp lowered, llvm::ArrayRef<std::string> chips,
                const std::optional<std::string> &ptxas);

} // namespace mlir::moe

#endif // MOE_LIB_EMIT_CODEGEN_H
