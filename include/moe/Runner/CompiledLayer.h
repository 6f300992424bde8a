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

namespace mlir::moe {

class CompiledLayer {
public:
  /// Builds the module for `model`, lowers it for the CPU and JIT-compiles
  /// the function of `group`. `optLevel` is LLVM's (0-3); `kernelForm`
  /// runs the fused and tiled kernel form (moe-form-kernels), false the
  /// unfused lowering; `tiles` (five sizes or none) are moe-form-kernels';
  /// `tensorCores` gives the kernel form's expert GEMMs their tensor-core
  /// form (the GPU kernels').
  static llvm::Expected<std::unique_ptr<CompiledLayer>>
  compile(MLIRContext *context, const ModelDesc &model,
          const MoeLayerDesc &group, unsigned optLevel = 3,
          bool kernelForm = true, llvm::ArrayRef<int64_t> tiles = {},
          bool tensorCores = false);

  /// Converts the weights in the kernels' layout (weights::packForKernels)
  /// to their storage types and keeps them for every later run().
  llvm::Error setWeights(llvm::ArrayRef<::moe::HostTensor> kernelWeights);

  /// Runs the layer on `input` [T, H]. Values are rounded to the model's
  /// dtype on the way in; the result [T, H] holds the dtype's values.
  llvm::Expected<::moe::HostTensor> run(const ::moe::HostTensor &input) const;

  /// The storage type of activations and weights.
  DType getDType() const { return dtype; }

private:
  CompiledLayer() = default;

  std::unique_ptr<ExecutionEngine> engine;
  std::string functionName;
  DType dtype = DType::F32;
  /// Static shape and storage type of each weight argument.
  std::vector<std::vector<int64_t>> weightShapes;
  std::vector<::moe::safetensors::DType> weightTypes;
  /// The weights in their storage types, set by setWeights().
  std::vector<std::vector<uint8_t>> weightBuffers;
  int64_t hidden = 0;
};

} // namespace mlir::moe

#endif // MOE_RUNNER_COMPILEDLAYER_H
