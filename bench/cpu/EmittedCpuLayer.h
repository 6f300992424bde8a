//===- EmittedCpuLayer.h - the emitted CPU library, timed -------*- C++ -*-===//
//
// A layer as `moe-translate --emit-kernels` builds it (its manifest's "cpu"
// entry: the CPU form for this host, on `threads` threads), loaded by
// moert's CPU backend: what a runtime and Python's device="cpu" run.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_BENCH_CPU_EMITTEDCPULAYER_H
#define MOE_BENCH_CPU_EMITTEDCPULAYER_H

#include "moe/Import/ModelDesc.h"
#include "moe/Reference/LayerConfig.h"
#include "moe/Reference/Reference.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

struct moert_layer;

namespace moe::bench {

class EmittedCpuLayer {
public:
  /// Emits the first MoE layer of `model` into a temporary folder, writes
  /// `hf` (Hugging Face names, seeded weights) beside it and loads both.
  static llvm::Expected<std::unique_ptr<EmittedCpuLayer>>
  create(mlir::MLIRContext *context, const mlir::moe::ModelDesc &model,
         const ref::LayerConfig &cfg, int64_t decoderLayer, const TensorMap &hf,
         int64_t threads);
  ~EmittedCpuLayer();

  /// One run on `input` ([T, H] in the model's dtype) into `output`.
  llvm::Error run(const std::vector<uint8_t> &input, int64_t tokens,
                  std::vector<uint8_t> &output);
  /// What moert runs: the CPU form's instruction set, or "host" (the
  /// portable library, where this CPU lacks it).
  std::string target() const;

private:
  EmittedCpuLayer() = default;
  llvm::SmallString<128> folder;
  moert_layer *layer = nullptr;
};

} // namespace moe::bench

#endif // MOE_BENCH_CPU_EMITTEDCPULAYER_H
