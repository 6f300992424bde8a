//===- EmitKernels.h - kernels, host library and manifest -------*- C++ -*-===//
//
// `moe-translate --emit-kernels OUT_DIR`: compiles every MoE layer function
// of a model to the artifacts of docs/kernel-manifest.md: a cubin and PTX
// per target chip (and, on request, an emulator library per chip), a host
// shared library of the same kernels, the CPU form's library for a given
// instruction set, a C header, and manifest.json, which the runtime
// (runtime/, moert) loads.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_EMIT_EMITKERNELS_H
#define MOE_EMIT_EMITKERNELS_H

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <string>
#include <vector>

namespace mlir::moe {

struct EmitKernelsOptions {
  /// NVVM chips to build cubin and PTX for; none: no GPU code.
  std::vector<std::string> chips = {"sm_80", "sm_90"};
  /// moe-form-kernels tile sizes (five), or none: moe-select-tiles chooses
  /// them for the first chip (sm_90 without chips) at `tokens` tokens, with
  /// `tuningFile` if not empty.
  std::vector<int64_t> tiles;
  int64_t tokens = 1;
  std::string tuningFile;
  /// The manifest's max_tokens.
  int64_t maxTokens = 65536;
  /// Build the host libraries (needs a C compiler driver to link them): the
  /// portable one (the GPU kernels' form for any CPU of the architecture)
  /// and, unless `cpu` is empty, the CPU form's.
  bool hostLibrary = true;
  /// The instruction set of the CPU form's library `<fn>.cpu.so` (the
  /// manifest's `cpu` entry): "host" or what parseCpuTarget takes; empty:
  /// none.
  std::string cpu = "host";
  /// Threads of the CPU form's library: 1 runs a kernel's blocks on the
  /// calling thread; N > 1 on N OpenMP threads, 0 on OpenMP's default
  /// count (both then need libomp.so.5 where the library runs).
  int64_t cpuThreads = 1;
  /// Also build each chip's device code for moert's SIMT emulator,
  /// `<fn>.<chip>.emu.so` (needs `chips` and a C compiler driver).
  bool emulator = false;
  /// The CUDA toolkit whose ptxas makes the cubins; empty: found as other
  /// CUDA tools find it (findPtxas). Without ptxas, PTX only.
  std::string cudaPath;
  /// Told each step as it starts ("moe_layer_0 (1 of 2): PTX and cubins"),
  /// for a tool to show on a terminal; none: nothing is told.
  std::function<void(const std::string &)> progress;
};

/// Writes the artifacts of `module` (as imported or written by hand: the
/// moe.model and moe.layer_map attributes and one `moe.layer` per layer
/// function, whose operands name the weight arguments; it is not modified)
/// into `outDir`, creating it if needed. Files are first
/// written beside it and moved in only once everything succeeded, the
/// manifest last, so a failure leaves no partial set. Diagnostics go to
/// the module's context.
LogicalResult emitKernels(ModuleOp module, llvm::StringRef outDir,
                          const EmitKernelsOptions &options);

} // namespace mlir::moe

#endif // MOE_EMIT_EMITKERNELS_H
