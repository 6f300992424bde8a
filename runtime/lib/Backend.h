//===- Backend.h - Where a layer's memory lives and kernels run -*- C++ -*-===//
//
// The layer logic (Layer.cpp) is the same for both backends; a Backend
// supplies memory, copies, memsets and kernel launches. Device addresses
// are 64-bit integers: a CUdeviceptr on CUDA, a host pointer on the CPU.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_BACKEND_H
#define MOERT_BACKEND_H

#include "Emulator.h"
#include "Error.h"
#include "Manifest.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace moert {

class Backend {
public:
  virtual ~Backend() = default;

  /// "host" or the chip loaded ("sm_90").
  virtual const std::string &target() const = 0;
  /// The host library, cubin or PTX file that was loaded.
  virtual const std::string &targetFile() const = 0;
  /// True if device addresses are host pointers (weights are then packed in
  /// place, with no staging copy).
  virtual bool hostAddressable() const = 0;

  /// Called at the start of each API call that touches the device (CUDA
  /// makes its context current on the calling thread).
  virtual Error enter() { return Error::success(); }

  /// True if launch() checks accesses against its `buffers` (the layer
  /// builds them only then).
  virtual bool checksBuffers() const { return false; }

  /// The emulator's counters (cuda-emu only; null elsewhere).
  virtual const EmulatorStats *emulatorStats() const { return nullptr; }
  /// The cuda-emu backend with EmulatorOptions::profile.
  virtual bool profiling() const { return false; }

  /// Allocates `bytes` (> 0), at least 256-byte aligned.
  virtual Error allocate(size_t bytes, uint64_t &address) = 0;
  virtual void release(uint64_t address) = 0;
  /// Synchronous host-to-device copy.
  virtual Error upload(uint64_t dst, const void *src, size_t bytes) = 0;
  /// Zeroes `bytes` at `dst`, ordered on `stream`.
  virtual Error zero(uint64_t dst, size_t bytes, void *stream) = 0;
  /// Launches kernel `index` of the layer with the cuLaunchKernel-style
  /// parameter array, ordered on `stream`. `buffers`: what each buffer
  /// parameter may touch at this token count (the emulator checks it).
  virtual Error launch(size_t index, const std::array<uint32_t, 3> &grid,
                       void **params,
                       const std::vector<EmulatedBuffer> &buffers,
                       void *stream) = 0;
};

/// Memory in the host's address space, for the backends that run kernels
/// on the CPU: 256-byte aligned allocations, copies and memsets that are
/// done when they return.
class HostMemoryBackend : public Backend {
public:
  Error allocate(size_t bytes, uint64_t &address) override;
  void release(uint64_t address) override;
  Error upload(uint64_t dst, const void *src, size_t bytes) override;
  Error zero(uint64_t dst, size_t bytes, void *stream) override;

protected:
  /// Each new allocation's bytes (uninitialised memory made visible).
  explicit HostMemoryBackend(int fill = -1) : fill(fill) {}

private:
  int fill; ///< A byte value, or -1 to leave allocations as they come.
};

/// dlopen()s `library` (the layer's host_library, or its CPU form's) and
/// resolves "_mlir_<symbol>" for every kernel of `layer`; `target` is what
/// target() reports ("host", or the CPU form's instruction set).
Error createCpuBackend(const LayerDesc &layer, const std::string &library,
                       const std::string &target,
                       std::unique_ptr<Backend> &out);

/// Whether this CPU has the CPU form's instruction set and features (an
/// unknown level or feature: no).
bool hostRunsCpuForm(const CpuFormDesc &form);

/// Loads the CUDA driver, retains the primary context of the current device
/// and loads the layer's module for that device's compute capability.
Error createCudaBackend(const LayerDesc &layer, std::unique_ptr<Backend> &out);

/// Runs the layer's emulator library (the target of `chip`, or the highest
/// chip that has one when `chip` is empty) on the SIMT emulator, with the
/// CUDA backend's memory model: device allocations, staged weight uploads.
Error createEmulatorBackend(const LayerDesc &layer, const std::string &chip,
                            const EmulatorOptions &options,
                            std::unique_ptr<Backend> &out);

/// The target chosen for a device: index into layer.targets and whether its
/// PTX (rather than its cubin) must be loaded.
struct TargetChoice {
  size_t index = 0;
  bool usePtx = false;
};

/// Picks the target for a device of compute capability `capability`
/// (major * 10 + minor): the chip equal to it (an arch-specific "a" chip
/// first), else the highest lower chip whose cubin runs there (same major
/// version; "a" chips never) or, failing that, the highest lower chip that
/// has PTX to JIT. MOERT_ERROR_BACKEND naming the available chips otherwise.
Error selectTarget(const LayerDesc &layer, int capability, TargetChoice &out);

/// Tests only: the file dlopen()ed as the CUDA driver (default
/// "libcuda.so.1"); null restores the default.
void setCudaDriverLibraryForTesting(const char *path);

} // namespace moert

#endif // MOERT_BACKEND_H
