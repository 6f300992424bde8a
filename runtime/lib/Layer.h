//===- Layer.h - One loaded MoE layer: weights, workspaces, runs -*- C++
//-*-===//
//
// The backend-independent half of the runtime: owns the layer's manifest
// entry, its weight buffers (with packing coverage) and workspaces, and runs
// the launch sequence through a Backend. The C API in Moert.cpp wraps it.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_LAYER_H
#define MOERT_LAYER_H

#include "Backend.h"
#include "Error.h"
#include "Manifest.h"
#include "Packing.h"

#include <memory>
#include <string>
#include <vector>

namespace moert {

/// The cuda-emu backend's settings (moert_emu_options).
struct EmulatorChoice {
  std::string chip; ///< Empty: the highest chip with an emulator library.
  EmulatorOptions options;
};

class Layer {
public:
  /// Loads `function` (null: the first layer) of the manifest at
  /// `manifestPath` on the given backend.
  static Error load(const std::string &manifestPath, const char *function,
                    moert_backend backend, const EmulatorChoice &emulator,
                    std::unique_ptr<Layer> &out);

  Layer(const Layer &) = delete;
  Layer &operator=(const Layer &) = delete;
  ~Layer();

  /// See moert_layer_load_weights.
  Error loadWeights(const std::string &path, int64_t decoderLayer);
  /// See moert_layer_reserve.
  Error reserve(int64_t tokens);
  /// See moert_layer_run.
  Error run(const void *input, void *output, int64_t tokens, void *stream);

  const LayerDesc &desc() const { return desc_; }
  const Backend &backend() const { return *backend_; }
  int64_t reservedTokens() const { return reserved_; }
  int64_t workspaceBytes() const;
  int64_t unpackedWeightElements() const;
  /// The checkpoint tensors the packing steps read, each once, in the
  /// order of their first step; "{L}" stands for the decoder layer.
  const std::vector<std::string> &tensors() const { return tensors_; }
  /// Fails with MOERT_ERROR_WEIGHTS, naming a tensor never loaded, when
  /// some weight element was never packed.
  Error checkWeightsReady() const;

private:
  /// A weight buffer's packing state.
  struct Weight {
    uint64_t address = 0;             ///< Device memory, once allocated.
    unsigned char *staging = nullptr; ///< Host copy while packing (CUDA).
    Coverage coverage;
    bool started = false; ///< Packing began in the current round.
    bool ready = false;   ///< Complete and in device memory.
  };

  /// One argument value; params arrays point at these.
  union Arg {
    void *pointer;    ///< CPU buffers.
    uint64_t address; ///< CUDA buffers (CUdeviceptr).
    int64_t tokens;
  };

  Layer() = default;
  Error init();
  void restartWeight(size_t buffer);
  Error startWeight(size_t buffer);
  Error finishWeight(size_t buffer);
  /// 1 <= tokens <= max_tokens.
  Error checkTokens(int64_t tokens) const;
  void setBufferArg(size_t buffer, uint64_t address);

  LayerDesc desc_;
  std::unique_ptr<Backend> backend_;
  std::vector<std::unique_ptr<Weight>> weights_; ///< Per buffer; null if
                                                 ///< not a weight.
  std::vector<uint64_t> workspaces_; ///< Per buffer: workspace address.
  std::vector<int64_t> capacities_;  ///< Per buffer: workspace bytes.
  std::vector<bool> stepDone_;       ///< Per packing step, this round.
  std::vector<std::string> tensors_; ///< See tensors().
  int64_t decoderLayer_ = -1;        ///< Of the current packing round.
  int64_t reserved_ = 0;
  std::vector<Arg> args_; ///< Per buffer, then the token count.
  std::vector<std::vector<void *>> params_; ///< Per kernel.
};

} // namespace moert

#endif // MOERT_LAYER_H
