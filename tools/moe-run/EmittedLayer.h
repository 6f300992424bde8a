//===- EmittedLayer.h - run a layer emitted by --emit-kernels ---*- C++ -*-===//
//
// moe-run --emitted DIR: the layer from `moe-translate --emit-kernels DIR`,
// run by the moert runtime's CPU backend (its host library), so that the
// emitted artifacts are checked against the same fp64 reference as the
// layer moe-run compiles itself.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_EMITTEDLAYER_H
#define MOE_TOOLS_MOE_RUN_EMITTEDLAYER_H

#include "moe/SafeTensors/SafeTensors.h"
#include "moe/Weights/HfWeights.h"

#include "llvm/Support/Error.h"

namespace moe {

/// Loads `function` of DIR/manifest.json on the CPU backend, packs the
/// weights of decoder layer `layer` from `weightsFile` (Hugging Face names)
/// and runs it on `input` [T, H], stored as `ioType`.
llvm::Expected<HostTensor>
runEmittedLayer(llvm::StringRef dir, llvm::StringRef function,
                llvm::StringRef weightsFile, int64_t layer,
                const HostTensor &input, safetensors::DType ioType);

} // namespace moe

#endif // MOE_TOOLS_MOE_RUN_EMITTEDLAYER_H
