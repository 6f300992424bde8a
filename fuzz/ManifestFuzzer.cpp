//===- ManifestFuzzer.cpp - libFuzzer target: moert's manifest reader -----===//
//
// The input is a manifest.json. moert::parseManifest must refuse it with an
// error whose message starts with the file name, or accept it with indices
// that stay in range and formulas that evaluate (or fail cleanly) at every
// token count the layer admits. Self-contained (no LLVM): the runtime never
// links it. A broken invariant aborts with "==moe-fuzz== invariant broken".
//
//===----------------------------------------------------------------------===//

#include "../runtime/lib/Manifest.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

[[noreturn]] void fail(const char *what, const std::string &detail) {
  std::fprintf(stderr, "==moe-fuzz== invariant broken: %s\n%s\n", what,
               detail.c_str());
  std::abort();
}

bool verbose() { return std::getenv("MOE_FUZZ_VERBOSE") != nullptr; }

void checkLayer(const moert::LayerDesc &layer) {
  size_t buffers = layer.buffers.size();
  if (layer.input >= buffers || layer.output >= buffers)
    fail("input/output index out of range", layer.function);
  for (const moert::KernelDesc &kernel : layer.kernels)
    for (const moert::KernelParam &param : kernel.params)
      if (param.kind == moert::KernelParam::Kind::Buffer &&
          param.buffer >= buffers)
        fail("kernel parameter names no buffer", kernel.symbol);
  for (size_t launch : layer.launches)
    if (launch >= layer.kernels.size())
      fail("launch names no kernel", layer.function);
  // Sizes and grids at the extremes of the admitted token counts: errors
  // are allowed (the runtime reports them), crashes and UB are not.
  for (int64_t tokens : {int64_t(1), layer.maxTokens}) {
    for (const moert::BufferDesc &buffer : layer.buffers) {
      int64_t bytes = 0;
      (void)buffer.bytesAt(tokens, bytes);
    }
    for (const moert::KernelDesc &kernel : layer.kernels)
      for (const moert::Expr &dim : kernel.grid) {
        int64_t value = 0;
        (void)dim.evaluate(tokens, value);
      }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  moert::Manifest manifest;
  moert::Error error = moert::parseManifest(text, "fuzz-manifest.json",
                                            "/nonexistent", manifest);
  if (error) {
    if (verbose())
      std::fprintf(stderr, "%s\n", error.message().c_str());
    if (error.message().rfind("fuzz-manifest.json", 0) != 0)
      fail("error message does not start with the file name", error.message());
    return 0;
  }
  for (const moert::LayerDesc &layer : manifest.layers)
    checkLayer(layer);
  return 0;
}
