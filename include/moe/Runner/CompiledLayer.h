//===- CompiledLayer.h - a MoE layer compiled for the CPU -------*- C++ -*-===//
//
// Lowers one layer function of an imported module with the moe-to-llvm-cpu
// pipeline, JIT-compiles it with MLIR's ExecutionEngine and calls it on host
// tensors. Used by moe-run, the CPU benchmark and the tests.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNNER_COMPILEDLAYER_H
#define MOE_RUNNER_COMPILEDLAYER_H

#include "moe/Import/ModelDesc.h"
#include "moe/Reference/LayerConfig.h"
#include "moe/SafeTensors/SafeTensors.h"
#include "moe/Weights/HfWeights.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>
#include <new>

namespace mlir::moe {

/// How a layer is compiled for the CPU. The defaults are the configuration
/// of the emitted kernels (moe-translate --emit-kernels): the kernel form
/// with the tensor-core form of the bf16/f16 expert GEMMs and the tiles
/// moe-select-tiles chooses for sm_90, so the CPU runs the IR that ships.
struct CpuCompileOptions {
  /// LLVM's optimization level, 0-3.
  unsigned optLevel = 3;
  /// The fused and tiled kernel form (moe-form-kernels); false: the unfused
  /// lowering.
  bool kernelForm = true;
  /// The kernel form's bf16/f16 expert GEMMs in their tensor-core form
  /// (padded 16-row tiles, as the GPU kernels have them).
  bool tensorCores = true;
  /// With `tensorCores`, the e4m3 form of w8a8 GEMMs of e4m3 weights (the
  /// kernels emitted for sm_89 or newer chips only).
  bool e4m3TensorCores = false;
  /// Five moe-form-kernels tile sizes, or none.
  std::vector<int64_t> tiles;
  /// Unless `tiles` is given, moe-select-tiles chooses the tiles for this
  /// chip at `tokens` tokens (with `tuningFile`'s overrides); empty: the
  /// pass's default tiles.
  std::string selectTilesFor = "sm_90";
  int64_t tokens = 1;
  std::string tuningFile;
  /// Host threads that share each kernel's blocks (OpenMP); 1: in order on
  /// the calling thread.
  int64_t threads = 1;
};

class CompiledLayer {
public:
  /// Builds the module for `model`, lowers it for the CPU as `options`
  /// says and JIT-compiles the function of `group`.
  static llvm::Expected<std::unique_ptr<CompiledLayer>>
  compile(MLIRContext *context, const ModelDesc &model,
          const MoeLayerDesc &group, const CpuCompileOptions &options = {});

  /// Converts the weights in the kernels' layout (weights::packForKernels)
  /// to their storage types and keeps them for every later run().
  llvm::Error setWeights(llvm::ArrayRef<::moe::HostTensor> kernelWeights);

  /// Runs the layer on `input` [T, H]. Values are rounded to the model's
  /// dtype on the way in; the result [T, H] holds the dtype's values.
  llvm::Expected<::moe::HostTensor> run(const ::moe::HostTensor &input) const;

  /// Runs the layer on `tokens` rows of `input`, already in the storage
  /// type ([T, H], row-major), and writes the result [T, H] in that type to
  /// `output` (resized; a caller that keeps it across calls reuses its
  /// memory). The layer alone, as a library call on model tensors sees it:
  /// what the benchmark times.
  llvm::Error runEncoded(llvm::ArrayRef<uint8_t> input, int64_t tokens,
                         std::vector<uint8_t> &output) const;

  /// The storage type of activations and weights.
  DType getDType() const { return dtype; }

private:
  CompiledLayer() = default;

  std::unique_ptr<ExecutionEngine> engine;
  std::string functionName;
  /// The layer function's packed entry, looked up once: a lookup per call
  /// (ExecutionEngine::invokePacked) costs tens of microseconds, a third
  /// of a small layer's decode.
  void (*entry)(void **) = nullptr;
  DType dtype = DType::F32;
  /// Static shape and storage type of each weight argument.
  std::vector<std::vector<int64_t>> weightShapes;
  std::vector<::moe::safetensors::DType> weightTypes;
  /// Storage 64-byte aligned, so that a vector load of a weight row stays
  /// in one cache line: a large std::vector's storage comes from mmap 16
  /// bytes past a page, which split every 64-byte load in two (the JIT's
  /// decode ran at 0.6x the emitted library's, which moert aligns).
  template <typename T> struct CacheLineAllocator {
    using value_type = T;
    CacheLineAllocator() = default;
    template <typename U> CacheLineAllocator(const CacheLineAllocator<U> &) {}
    T *allocate(size_t n) {
      return static_cast<T *>(
          ::operator new(n * sizeof(T), std::align_val_t(64)));
    }
    void deallocate(T *p, size_t) {
      ::operator delete(p, std::align_val_t(64));
    }
    template <typename U> bool operator==(const CacheLineAllocator<U> &) const {
      return true;
    }
    template <typename U> bool operator!=(const CacheLineAllocator<U> &) const {
      return false;
    }
  };
  /// The weights in their storage types, set by setWeights().
  std::vector<std::vector<uint8_t, CacheLineAllocator<uint8_t>>> weightBuffers;
  int64_t hidden = 0;
};

} // namespace mlir::moe

#endif // MOE_RUNNER_COMPILEDLAYER_H
