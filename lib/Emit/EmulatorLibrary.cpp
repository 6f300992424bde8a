//===- EmulatorLibrary.cpp - device code as a host library for moert ------===//
//
// The emulator runs the very module gpu-module-to-binary compiles, so a bug
// it finds (a race, a missing barrier, a wrong fragment) is in the cubin
// too, and a result it computes is the cubin's, up to libm's rounding.
//
//===----------------------------------------------------------------------===//

#include "moe/Emit/EmulatorLibrary.h"

#include "CodeGen.h"

#include "moe/Target/NVVM/NvvmToEmulator.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::moe;

LogicalResult mlir::moe::buildEmulatorLibrary(ModuleOp lowered,
                                              llvm::StringRef chip,
                                              llvm::StringRef soPath) {
  SmallVector<gpu::GPUModuleOp> modules;
  for (auto module : lowered.getOps<gpu::GPUModuleOp>())
    if (chip.empty() || targetsChip(module, chip))
      modules.push_back(module);
  if (modules.size() != 1)
    return emitError(lowered.getLoc())
           << (modules.empty() ? "no" : "more than one") << " gpu.module"
           << (chip.empty() ? llvm::Twine("") : " for " + chip)
           << " to build an emulator library from";

  OwningOpRef<gpu::GPUModuleOp> device = modules.front().clone();
  if (failed(convertNvvmToEmulator(*device)))
    return failure();
  // The device code as a module of its own: the host's translation to LLVM
  // IR takes a builtin module, and the gpu.module's targets mean nothing
  // to it.
  OwningOpRef<ModuleOp> host = ModuleOp::create(device->getLoc());
  host->getBody()->getOperations().splice(host->getBody()->end(),
                                          device->getBody()->getOperations());
  return buildSharedObject(*host, soPath, /*optLevel=*/2);
}
