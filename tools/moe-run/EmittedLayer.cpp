//===- EmittedLayer.cpp - run a layer emitted by --emit-kernels -----------===//

#include "EmittedLayer.h"

#include "moert/moert.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Path.h"

namespace st = moe::safetensors;

llvm::Expected<moe::HostTensor>
moe::runEmittedLayer(llvm::StringRef dir, llvm::StringRef function,
                     llvm::StringRef weightsFile, int64_t layer,
                     const HostTensor &input, st::DType ioType) {
  auto error = [](const llvm::Twine &what) {
    return llvm::createStringError(what + ": " + moert_last_error());
  };
  llvm::SmallString<256> manifest(dir);
  llvm::sys::path::append(manifest, "manifest.json");
  moert_layer *rt = nullptr;
  if (moert_layer_load(manifest.c_str(), function.str().c_str(),
                       MOERT_BACKEND_CPU, &rt) != MOERT_SUCCESS)
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

  HostTensor result;
  result.shape = input.shape;
  result.data = st::TensorView{"output", ioType, input.shape, out}.toFloats();
  return result;
}
