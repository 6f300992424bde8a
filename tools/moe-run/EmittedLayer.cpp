//===- EmittedLayer.cpp - run a layer emitted by --emit-kernels -----------===//

#include "EmittedLayer.h"

#include "moert/moert.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace st = moe::safetensors;

/// moert_emu_options.progress for a terminal: the launch's line rewritten
/// in place (carriage return), ended when its last block finishes.
static void reportEmulatorProgress(void *, const char *kernel, uint64_t launch,
                                   uint64_t done, uint64_t blocks) {
  llvm::errs() << "\rmoe-run: emulating launch " << launch + 1 << ", " << kernel
               << ": " << done << " of " << blocks << " blocks";
  if (done == blocks)
    llvm::errs() << "\n";
  llvm::errs().flush();
}

llvm::Expected<moe::HostTensor>
moe::runEmittedLayer(llvm::StringRef dir, llvm::StringRef function,
                     llvm::StringRef weightsFile, int64_t layer,
                     const HostTensor &input, st::DType ioType,
                     const EmittedBackend &backend, llvm::raw_ostream &log) {
  auto error = [](const llvm::Twine &what) {
    return llvm::createStringError(what + ": " + moert_last_error());
  };
  llvm::SmallString<256> manifest(dir);
  llvm::sys::path::append(manifest, "manifest.json");
  moert_layer *rt = nullptr;
  std::string name = function.str();
  moert_status loaded;
  if (backend.backend == MOERT_BACKEND_CUDA_EMU) {
    moert_emu_options options = {};
    options.chip = backend.chip.empty() ? nullptr : backend.chip.c_str();
    options.shuffle_seed = backend.shuffleSeed;
    options.concurrent_blocks = backend.blocksAtOnce;
    options.unchecked = backend.unchecked;
    options.profile = backend.profileOut != nullptr;
    options.profile_column_stride = backend.columnStride;
    if (backend.progress)
      options.progress = reportEmulatorProgress;
    loaded = moert_layer_load_emulated(manifest.c_str(), name.c_str(), &options,
                                       &rt);
  } else {
    loaded = moert_layer_load(manifest.c_str(), name.c_str(),
                              moert_backend(backend.backend), &rt);
  }
  if (loaded != MOERT_SUCCESS)
    return error("moert: loading " + manifest);
  llvm::scope_exit destroy([&] { moert_layer_destroy(rt); });
  if (moert_layer_load_weights(rt, weightsFile.str().c_str(), layer) !=
      MOERT_SUCCESS)
    return error("moert: packing the weights of layer " + llvm::Twine(layer));

  int64_t tokens = input.shape[0];
  if (tokens > moert_layer_max_tokens(rt))
    return llvm::createStringError("moert: " + llvm::Twine(tokens) +
                                   " tokens are more than the "
                                   "manifest's max_tokens, " +
                                   llvm::Twine(moert_layer_max_tokens(rt)) +
                                   " (moe-translate --max-tokens)");
  std::vector<uint8_t> in =
      st::makeTensor("", ioType, input.shape, input.data).data;
  int64_t bytes = moert_layer_io_bytes(rt, tokens);
  if (bytes != static_cast<int64_t>(in.size()))
    return llvm::createStringError("moert: the manifest's input is " +
                                   llvm::Twine(bytes) + " bytes, the input " +
                                   llvm::Twine(in.size()));
  std::vector<uint8_t> out(bytes);
  if (moert_layer_run(rt, in.data(), out.data(), tokens, nullptr) !=
      MOERT_SUCCESS)
    return error("moert: running the layer");
  if (backend.backend != MOERT_BACKEND_CUDA_EMU)
    log << "moert: " << moert_layer_target(rt) << ", "
        << llvm::sys::path::filename(moert_layer_target_file(rt)) << "\n";
  if (backend.backend == MOERT_BACKEND_CUDA_EMU) {
    moert_emu_stats stats;
    if (moert_layer_emu_stats(rt, &stats) == MOERT_SUCCESS)
      log << "emulator: " << moert_layer_target(rt) << ", " << stats.launches
          << " launches, " << stats.blocks << " blocks, " << stats.threads
          << " threads, " << stats.barriers << " barrier arrivals, "
          << stats.mmas << " warp mma.sync, " << stats.async_copies
          << " cp.async, " << stats.checked_accesses << " checked accesses, "
          << stats.weight_sector_bytes << " weight bytes read\n";
    if (backend.profileOut) {
      size_t length = 0;
      if (moert_layer_emu_profile_json(rt, nullptr, 0, &length) !=
          MOERT_SUCCESS)
        return error("moert: the emulator's profile");
      std::string text(length, '\0');
      moert_layer_emu_profile_json(rt, text.data(), length, nullptr);
      text.resize(length - 1);
      *backend.profileOut = std::move(text);
    }
  }

  HostTensor result;
  result.shape = input.shape;
  result.data = st::TensorView{"output", ioType, input.shape, out}.toFloats();
  return result;
}
