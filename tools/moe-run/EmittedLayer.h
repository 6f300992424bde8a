//===- EmittedLayer.h - run a layer emitted by --emit-kernels ---*- C++ -*-===//
//
// moe-run --emitted DIR: the layer from `moe-translate --emit-kernels DIR`,
// run by the moert runtime's CPU backend (its host library) or its cuda-emu
// backend (the GPU kernels on the SIMT emulator), so that the emitted
// artifacts are checked against the same fp64 reference as the layer
// moe-run compiles itself.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_EMITTEDLAYER_H
#define MOE_TOOLS_MOE_RUN_EMITTEDLAYER_H

#include "moe/SafeTensors/SafeTensors.h"
#include "moe/Weights/HfWeights.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace moe {

/// Which moert backend runs the emitted layer.
struct EmittedBackend {
  /// MOERT_BACKEND_CPU (the CPU form's library where the CPU runs it,
  /// else the portable host library), MOERT_BACKEND_CPU_PORTABLE or
  /// MOERT_BACKEND_CUDA_EMU (the GPU kernels' NVVM module on the SIMT
  /// emulator).
  int backend = 0;
  /// cuda-emu only: the chip ("": the highest with an emulator library),
  /// 0 or a shuffle seed, blocks at once, checks off.
  std::string chip;
  uint64_t shuffleSeed = 0;
  int blocksAtOnce = 1;
  bool unchecked = false;
  /// cuda-emu only: when set, the run is profiled and the emulator's
  /// per-launch counts (JSON) are stored here.
  std::string *profileOut = nullptr;
  /// cuda-emu profile only: run every columnStride-th column of the grids
  /// with several (moert_emu_options.profile_column_stride).
  unsigned columnStride = 1;
  /// cuda-emu only: report each launch's blocks on stderr as they run
  /// (for a terminal: one line per launch, rewritten in place).
  bool progress = false;
};

/// Loads `function` of DIR/manifest.json on `backend`, packs the weights of
/// decoder layer `layer` from `weightsFile` (Hugging Face names) and runs it
/// on `input` [T, H], stored as `ioType`. On cuda-emu, prints what the
/// emulator ran to `log`.
llvm::Expected<HostTensor>
runEmittedLayer(llvm::StringRef dir, llvm::StringRef function,
                llvm::StringRef weightsFile, int64_t layer,
                const HostTensor &input, safetensors::DType ioType,
                const EmittedBackend &backend, llvm::raw_ostream &log);

} // namespace moe

#endif // MOE_TOOLS_MOE_RUN_EMITTEDLAYER_H
