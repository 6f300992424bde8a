//===- EmittedCpuLayer.cpp - the emitted CPU library, timed ---------------===//

#include "EmittedCpuLayer.h"

#include "moe/Emit/EmitKernels.h"
#include "moe/Import/Import.h"
#include "moe/Import/LayerSelection.h"
#include "moe/SafeTensors/SafeTensors.h"
#include "moe/Weights/HfWeights.h"
#include "moert/moert.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace moe;
using namespace moe::bench;
namespace st = ::moe::safetensors;

namespace {
llvm::Error moertError(const llvm::Twine &what) {
  return llvm::createStringError(what + ": " + moert_last_error());
}
} // namespace

llvm::Expected<std::unique_ptr<EmittedCpuLayer>>
EmittedCpuLayer::create(mlir::MLIRContext *context,
                        const mlir::moe::ModelDesc &model,
                        const ref::LayerConfig &cfg, int64_t decoderLayer,
                        const TensorMap &hf, int64_t threads) {
  std::unique_ptr<EmittedCpuLayer> emitted(new EmittedCpuLayer());
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(
          "moe-bench-emitted", emitted->folder))
    return llvm::createStringError(ec, "a temporary folder");
  llvm::SmallString<128> kernels(emitted->folder), weights(emitted->folder);
  llvm::sys::path::append(kernels, "kernels");
  llvm::sys::path::append(weights, "weights.safetensors");

  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::moe::buildModule(model, context);
  if (!module)
    return llvm::createStringError("building the model's module failed");
  mlir::moe::EmitKernelsOptions options;
  options.chips.clear();
  options.cpuThreads = threads;
  if (mlir::failed(mlir::moe::emitKernels(*module, kernels, options)))
    return llvm::createStringError("moe-translate --emit-kernels failed");

  // The checkpoint's tensors in their stored types.
  std::map<std::string, st::DType> types;
  for (const weights::TensorSpec &spec : weights::hfTensorSpecs(cfg))
    types[spec.name] =
        spec.storage.value_or(mlir::moe::hfStorageType(spec.name, model.dtype));
  std::vector<st::OwnedTensor> tensors;
  for (const auto &[name, tensor] : hf)
    tensors.push_back(
        st::makeTensor(name, types.at(name), tensor.shape, tensor.data));
  if (llvm::Error e = st::write(weights, tensors))
    return std::move(e);

  std::string manifest = (kernels + "/manifest.json").str();
  if (moert_layer_load(manifest.c_str(), nullptr, MOERT_BACKEND_CPU,
                       &emitted->layer) != MOERT_SUCCESS)
    return moertError("moert: loading " + manifest);
  if (moert_layer_load_weights(emitted->layer, weights.c_str(), decoderLayer) !=
          MOERT_SUCCESS ||
      moert_layer_check_weights(emitted->layer) != MOERT_SUCCESS)
    return moertError("moert: packing the weights");
  return emitted;
}

EmittedCpuLayer::~EmittedCpuLayer() {
  moert_layer_destroy(layer);
  if (!folder.empty())
    llvm::sys::fs::remove_directories(folder);
}

llvm::Error EmittedCpuLayer::run(const std::vector<uint8_t> &input,
                                 int64_t tokens, std::vector<uint8_t> &output) {
  int64_t bytes = moert_layer_io_bytes(layer, tokens);
  if (bytes != static_cast<int64_t>(input.size()))
    return llvm::createStringError("moert: the input has the wrong size");
  output.resize(bytes);
  if (moert_layer_run(layer, input.data(), output.data(), tokens, nullptr) !=
      MOERT_SUCCESS)
    return moertError("moert: running the layer");
  return llvm::Error::success();
}

std::string EmittedCpuLayer::target() const {
  return moert_layer_target(layer);
}
