//===- Moert.cpp - The C API over moert::Layer ----------------------------===//
//
// Argument checks, the thread-local last-error message, and introspection.
//
//===----------------------------------------------------------------------===//

#include "moert/moert.h"

#include "EmuProfile.h"
#include "Emulator.h"
#include "Layer.h"

#include <algorithm>
#include <cstring>

struct moert_layer {
  std::unique_ptr<moert::Layer> impl;
};

namespace {

thread_local std::string lastError;

moert_status fail(const moert::Error &error) {
  lastError = error.message();
  return error.code();
}

moert_status invalid(const char *message) {
  lastError = message;
  return MOERT_ERROR_INVALID_ARGUMENT;
}

moert_status report(const moert::Error &error) {
  return error ? fail(error) : MOERT_SUCCESS;
}

} // namespace

extern "C" {

const char *moert_status_name(moert_status status) {
  switch (status) {
  case MOERT_SUCCESS:
    return "MOERT_SUCCESS";
  case MOERT_ERROR_INVALID_ARGUMENT:
    return "MOERT_ERROR_INVALID_ARGUMENT";
  case MOERT_ERROR_IO:
    return "MOERT_ERROR_IO";
  case MOERT_ERROR_MANIFEST:
    return "MOERT_ERROR_MANIFEST";
  case MOERT_ERROR_WEIGHTS:
    return "MOERT_ERROR_WEIGHTS";
  case MOERT_ERROR_BACKEND:
    return "MOERT_ERROR_BACKEND";
  case MOERT_ERROR_OUT_OF_MEMORY:
    return "MOERT_ERROR_OUT_OF_MEMORY";
  case MOERT_ERROR_TOO_MANY_TOKENS:
    return "MOERT_ERROR_TOO_MANY_TOKENS";
  }
  return "unknown";
}

const char *moert_last_error(void) { return lastError.c_str(); }

moert_status moert_layer_load(const char *manifest_path, const char *function,
                              moert_backend backend, moert_layer **out) {
  if (!out)
    return invalid("moert_layer_load: out is NULL");
  *out = nullptr;
  if (!manifest_path)
    return invalid("moert_layer_load: manifest_path is NULL");
  std::unique_ptr<moert::Layer> layer;
  if (moert::Error e = moert::Layer::load(manifest_path, function, backend,
                                          moert::EmulatorChoice(), layer))
    return fail(e);
  *out = new moert_layer{std::move(layer)};
  return MOERT_SUCCESS;
}

moert_status moert_layer_load_emulated(const char *manifest_path,
                                       const char *function,
                                       const moert_emu_options *options,
                                       moert_layer **out) {
  if (!out)
    return invalid("moert_layer_load_emulated: out is NULL");
  *out = nullptr;
  if (!manifest_path)
    return invalid("moert_layer_load_emulated: manifest_path is NULL");
  moert::EmulatorChoice choice;
  if (options) {
    if (options->concurrent_blocks < 0 || options->concurrent_blocks > 2)
      return invalid("moert_layer_load_emulated: concurrent_blocks must be "
                     "0, 1 or 2");
    choice.chip = options->chip ? options->chip : "";
    choice.options.shuffle = options->shuffle_seed != 0;
    choice.options.seed = options->shuffle_seed;
    choice.options.concurrentBlocks =
        options->concurrent_blocks ? unsigned(options->concurrent_blocks) : 1;
    choice.options.checks = !options->unchecked;
    choice.options.profile = options->profile != 0;
    if (options->profile_column_stride > 1 && !options->profile)
      return invalid("moert_layer_load_emulated: profile_column_stride "
                     "applies to a profile");
    choice.options.columnStride = std::max(1u, options->profile_column_stride);
    if (auto *progress = options->progress) {
      void *user = options->progress_user;
      choice.options.progress = [progress, user](const std::string &kernel,
                                                 uint64_t launch, uint64_t done,
                                                 uint64_t blocks) {
        progress(user, kernel.c_str(), launch, done, blocks);
      };
    }
  }
  std::unique_ptr<moert::Layer> layer;
  if (moert::Error e = moert::Layer::load(
          manifest_path, function, MOERT_BACKEND_CUDA_EMU, choice, layer))
    return fail(e);
  *out = new moert_layer{std::move(layer)};
  return MOERT_SUCCESS;
}

moert_status moert_layer_emu_stats(const moert_layer *layer,
                                   moert_emu_stats *out) {
  if (!layer || !out)
    return invalid("moert_layer_emu_stats: layer or out is NULL");
  *out = moert_emu_stats();
  if (const moert::EmulatorStats *s = layer->impl->backend().emulatorStats()) {
    out->launches = s->launches;
    out->blocks = s->blocks;
    out->threads = s->threads;
    out->barriers = s->barriers;
    out->mmas = s->mmas;
    out->async_copies = s->asyncCopies;
    out->checked_accesses = s->checkedAccesses;
    out->weight_sector_bytes = s->weightSectorBytes;
  }
  return MOERT_SUCCESS;
}

moert_status moert_layer_emu_profile_json(const moert_layer *layer,
                                          char *buffer, size_t size,
                                          size_t *length) {
  if (!layer || (!buffer && size))
    return invalid("moert_layer_emu_profile_json: layer is NULL, or buffer "
                   "is NULL with a size");
  const moert::EmulatorStats *s = layer->impl->backend().emulatorStats();
  if (!s || !layer->impl->backend().profiling())
    return invalid("moert_layer_emu_profile_json: the layer was not loaded "
                   "on the cuda-emu backend with profile set");
  std::string text = moert::profileJson(s->kernels);
  if (length)
    *length = text.size() + 1;
  if (size > text.size())
    std::memcpy(buffer, text.c_str(), text.size() + 1);
  return MOERT_SUCCESS;
}

moert_status moert_layer_load_weights(moert_layer *layer,
                                      const char *safetensors_path,
                                      int64_t decoder_layer) {
  if (!layer)
    return invalid("moert_layer_load_weights: layer is NULL");
  if (!safetensors_path)
    return invalid("moert_layer_load_weights: safetensors_path is NULL");
  return report(layer->impl->loadWeights(safetensors_path, decoder_layer));
}

moert_status moert_layer_reserve(moert_layer *layer, int64_t max_tokens) {
  if (!layer)
    return invalid("moert_layer_reserve: layer is NULL");
  return report(layer->impl->reserve(max_tokens));
}

moert_status moert_layer_run(moert_layer *layer, const void *input,
                             void *output, int64_t tokens, void *stream) {
  if (!layer)
    return invalid("moert_layer_run: layer is NULL");
  return report(layer->impl->run(input, output, tokens, stream));
}

void moert_layer_destroy(moert_layer *layer) { delete layer; }

const char *moert_layer_function(const moert_layer *layer) {
  return layer ? layer->impl->desc().function.c_str() : nullptr;
}

const char *moert_layer_dtype(const moert_layer *layer) {
  return layer ? moe::support::manifestName(layer->impl->desc().dtype)
               : nullptr;
}

int64_t moert_layer_hidden_size(const moert_layer *layer) {
  return layer ? layer->impl->desc().hiddenSize : -1;
}

int64_t moert_layer_max_tokens(const moert_layer *layer) {
  return layer ? layer->impl->desc().maxTokens : -1;
}

int64_t moert_layer_reserved_tokens(const moert_layer *layer) {
  return layer ? layer->impl->reservedTokens() : -1;
}

int64_t moert_layer_io_bytes(const moert_layer *layer, int64_t tokens) {
  if (!layer)
    return -1;
  const moert::LayerDesc &desc = layer->impl->desc();
  if (tokens < 1 || tokens > desc.maxTokens)
    return -1;
  // max_tokens <= 2^24, hidden_size <= 2^20, 2 or 4 bytes: no overflow.
  return tokens * desc.hiddenSize *
         int64_t(moe::support::elementSize(desc.dtype));
}

int64_t moert_layer_workspace_bytes(const moert_layer *layer) {
  return layer ? layer->impl->workspaceBytes() : -1;
}

int64_t moert_layer_unpacked_weight_elements(const moert_layer *layer) {
  return layer ? layer->impl->unpackedWeightElements() : -1;
}

moert_status moert_layer_check_weights(const moert_layer *layer) {
  if (!layer)
    return invalid("moert_layer_check_weights: layer is NULL");
  return report(layer->impl->checkWeightsReady());
}

int64_t moert_layer_num_tensors(const moert_layer *layer) {
  return layer ? int64_t(layer->impl->tensors().size()) : -1;
}

const char *moert_layer_tensor(const moert_layer *layer, int64_t i) {
  if (!layer || i < 0 || i >= int64_t(layer->impl->tensors().size()))
    return nullptr;
  return layer->impl->tensors()[size_t(i)].c_str();
}

const char *moert_layer_target(const moert_layer *layer) {
  return layer ? layer->impl->backend().target().c_str() : nullptr;
}

const char *moert_layer_target_file(const moert_layer *layer) {
  return layer ? layer->impl->backend().targetFile().c_str() : nullptr;
}

int64_t moert_layer_num_decoder_layers(const moert_layer *layer) {
  return layer ? int64_t(layer->impl->desc().decoderLayers.size()) : -1;
}

int64_t moert_layer_decoder_layer(const moert_layer *layer, int64_t i) {
  if (!layer || i < 0 || i >= int64_t(layer->impl->desc().decoderLayers.size()))
    return -1;
  return layer->impl->desc().decoderLayers[size_t(i)];
}

int64_t moert_layer_num_kernels(const moert_layer *layer) {
  return layer ? int64_t(layer->impl->desc().kernels.size()) : -1;
}

const char *moert_layer_kernel_symbol(const moert_layer *layer, int64_t i) {
  if (!layer || i < 0 || i >= int64_t(layer->impl->desc().kernels.size()))
    return nullptr;
  return layer->impl->desc().kernels[size_t(i)].symbol.c_str();
}

int64_t moert_layer_num_launches(const moert_layer *layer) {
  return layer ? int64_t(layer->impl->desc().launches.size()) : -1;
}

const char *moert_layer_launch_symbol(const moert_layer *layer, int64_t i) {
  if (!layer || i < 0 || i >= int64_t(layer->impl->desc().launches.size()))
    return nullptr;
  const moert::LayerDesc &desc = layer->impl->desc();
  return desc.kernels[desc.launches[size_t(i)]].symbol.c_str();
}

} // extern "C"
