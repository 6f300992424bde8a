// The harness's only view of the moert runtime. moert_adapter.cpp is the one
// file that includes runtime/include/moert/moert.h, so a change of the
// runtime's API touches that file alone. build.sh links it (with libmoert.so)
// when runtime/ exists and builds; otherwise moert_stub.cpp, whose functions
// fail with a clear message.
#pragma once

#include <cstdint>
#include <cuda_runtime.h>
#include <string>

namespace moebench {

struct MoertLayer; // opaque

// Loads the manifest's layer for the CUDA backend, packs the weights of
// decoder layer `layerIndex` from `weights` and reserves workspaces for
// `maxTokens`. Throws std::runtime_error with moert_last_error() on failure.
MoertLayer *moertLoad(const std::string &manifest, const std::string &weights,
                      int layerIndex, int64_t maxTokens);
// Enqueues one layer on `stream` (no host synchronisation). Throws on failure.
void moertRun(MoertLayer *layer, const void *dInput, void *dOutput,
              int64_t tokens, cudaStream_t stream);
void moertFree(MoertLayer *layer);
bool moertAvailable();
// "function dtype H=... on sm_90 (file), N launches", for the report.
std::string moertDescribe(MoertLayer *layer);
int64_t moertHiddenSize(MoertLayer *layer);

} // namespace moebench
