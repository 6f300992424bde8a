//===- EmulatorBackend.cpp - The CUDA path on the SIMT emulator -----------===//
//
// The cuda-emu backend: what the CUDA backend does, with the emulator in
// place of the driver. Memory is "device" memory (not host-addressable to
// the layer, so weights are packed in a staging copy and uploaded, and
// zero_init buffers are zeroed, as on CUDA); kernels come from the chosen
// target's emulator library and run grid x block on the Emulator.
//
//===----------------------------------------------------------------------===//

#include "Backend.h"

namespace moert {

namespace {

class EmulatorBackend : public HostMemoryBackend {
public:
  // cuMemAlloc's memory is not zeroed: a kernel that reads a workspace it
  // never wrote, and that is not zero_init, must not pass by luck.
  explicit EmulatorBackend(const EmulatorOptions &options)
      : HostMemoryBackend(0xFF), emulator(options) {}

  Error load(const LayerDesc &layer, const std::string &wanted) {
    const TargetDesc *chosen = nullptr;
    std::string chips;
    for (const TargetDesc &t : layer.targets) {
      if (!t.emulator.empty())
        chips += (chips.empty() ? "" : ", ") + t.chip;
      if (t.emulator.empty() || (!wanted.empty() && t.chip != wanted))
        continue;
      if (!chosen || t.capability > chosen->capability)
        chosen = &t;
    }
    if (!chosen)
      return makeError(MOERT_ERROR_BACKEND, "cuda-emu backend: layer '",
                       layer.function, "' has no emulator library",
                       wanted.empty() ? std::string() : " for " + wanted, " (",
                       chips.empty()
                           ? std::string("none in the manifest; emit the "
                                         "kernels with --emulator")
                           : "the manifest has " + chips,
                       ")");
    chip = chosen->chip;
    file = chosen->emulator;
    for (const KernelDesc &kernel : layer.kernels) {
      symbols.push_back(kernel.symbol);
      kernels.push_back(kernel);
    }
    return library.load(file, symbols);
  }

  const std::string &target() const override { return chip; }
  const std::string &targetFile() const override { return file; }
  bool hostAddressable() const override { return false; }
  bool checksBuffers() const override { return true; }

  // Launches run to completion in order: the stream's ordering holds.
  // A column-sampled profile runs the layer's first launch whole: it routes
  // the tokens, which every later launch needs complete, and its columns
  // (the router's experts) meet at tickets per row of tokens, which a
  // sampled grid would never reach.
  Error launch(size_t index, const std::array<uint32_t, 3> &grid, void **params,
               const std::vector<EmulatedBuffer> &buffers, void *) override {
    const KernelDesc &k = kernels[index];
    return emulator.launch(library, index, k.symbol, grid, k.block,
                           k.dynamicSharedMemory, params, buffers,
                           /*sampleColumns=*/index != 0);
  }

  bool profiling() const override { return emulator.options().profile; }
  const EmulatorStats *emulatorStats() const override {
    return &emulator.stats();
  }

private:
  Emulator emulator;
  std::string chip, file;
  std::vector<std::string> symbols;
  std::vector<KernelDesc> kernels;
  EmulatorLibrary library;
};

} // namespace

Error createEmulatorBackend(const LayerDesc &layer, const std::string &chip,
                            const EmulatorOptions &options,
                            std::unique_ptr<Backend> &out) {
  std::unique_ptr<EmulatorBackend> backend(new EmulatorBackend(options));
  if (Error e = backend->load(layer, chip))
    return e;
  out = std::move(backend);
  return Error::success();
}

} // namespace moert
