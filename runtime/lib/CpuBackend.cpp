//===- CpuBackend.cpp - Kernels from the manifest's host library ----------===//
//
// The host library exports `void _mlir_<symbol>(void **params)` per kernel;
// one call runs the whole grid, so launch() ignores the grid and stream.
// Also HostMemoryBackend, the host memory it shares with cuda-emu.
//
//===----------------------------------------------------------------------===//

#include "Backend.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <vector>

namespace moert {

namespace {

using KernelFn = void (*)(void **);

class CpuBackend : public HostMemoryBackend {
public:
  ~CpuBackend() override {
    if (handle)
      dlclose(handle);
  }

  Error load(const LayerDesc &layer, const std::string &library,
             const std::string &target) {
    file = library;
    name = target;
    if (file.empty())
      return makeError(MOERT_ERROR_BACKEND, "layer '", layer.function,
                       "' has no host_library; the CPU backend needs one");
    handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char *why = dlerror();
      return makeError(MOERT_ERROR_BACKEND, "cannot load host library '", file,
                       "': ", why ? why : "unknown dlopen error");
    }
    for (const KernelDesc &kernel : layer.kernels) {
      std::string name = "_mlir_" + kernel.symbol;
      void *symbol = dlsym(handle, name.c_str());
      if (!symbol)
        return makeError(MOERT_ERROR_BACKEND, "host library '", file,
                         "' does not export '", name, "' (kernel '",
                         kernel.symbol, "')");
      KernelFn fn;
      static_assert(sizeof fn == sizeof symbol, "function pointer size");
      std::memcpy(&fn, &symbol, sizeof fn);
      kernels.push_back(fn);
    }
    return Error::success();
  }

  const std::string &target() const override { return name; }
  const std::string &targetFile() const override { return file; }
  bool hostAddressable() const override { return true; }

  Error launch(size_t index, const std::array<uint32_t, 3> &, void **params,
               const std::vector<EmulatedBuffer> &, void *) override {
    kernels[index](params);
    return Error::success();
  }

private:
  std::string name;
  std::string file;
  void *handle = nullptr;
  std::vector<KernelFn> kernels;
};

} // namespace

Error HostMemoryBackend::allocate(size_t bytes, uint64_t &address) {
  size_t rounded = (bytes + 255) / 256 * 256;
  void *p = rounded >= bytes ? std::aligned_alloc(256, rounded) : nullptr;
  if (!p)
    return makeError(MOERT_ERROR_OUT_OF_MEMORY, "cannot allocate ", bytes,
                     " bytes of host memory");
  if (fill >= 0)
    std::memset(p, fill, rounded);
  address = reinterpret_cast<uintptr_t>(p);
  return Error::success();
}

void HostMemoryBackend::release(uint64_t address) {
  std::free(reinterpret_cast<void *>(uintptr_t(address)));
}

Error HostMemoryBackend::upload(uint64_t dst, const void *src, size_t bytes) {
  std::memcpy(reinterpret_cast<void *>(uintptr_t(dst)), src, bytes);
  return Error::success();
}

Error HostMemoryBackend::zero(uint64_t dst, size_t bytes, void *) {
  std::memset(reinterpret_cast<void *>(uintptr_t(dst)), 0, bytes);
  return Error::success();
}

bool hostRunsCpuForm(const CpuFormDesc &form) {
  // __builtin_cpu_supports takes string literals only, and clang 14 knows
  // no level names: a level is the features of it both GCC and clang can
  // ask for (with those, a CPU has the level's others, f16c, movbe, ...).
  auto has = [](const std::string &name) {
    if (name == "generic")
      return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    bool v2 =
        __builtin_cpu_supports("sse3") && __builtin_cpu_supports("ssse3") &&
        __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("sse4.2") &&
        __builtin_cpu_supports("popcnt");
    bool v3 = v2 && __builtin_cpu_supports("avx") &&
              __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
              __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("fma");
    bool v4 = v3 && __builtin_cpu_supports("avx512f") &&
              __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512cd") &&
              __builtin_cpu_supports("avx512dq") &&
              __builtin_cpu_supports("avx512vl");
    if (name == "x86-64")
      return true;
    if (name == "x86-64-v2")
      return v2;
    if (name == "x86-64-v3")
      return v3;
    if (name == "x86-64-v4")
      return v4;
    if (name == "avx512bf16")
      return __builtin_cpu_supports("avx512bf16") > 0;
#endif
    return false;
  };
  if (!has(form.isa))
    return false;
  for (const std::string &feature : form.features)
    if (!has(feature))
      return false;
  return true;
}

Error createCpuBackend(const LayerDesc &layer, const std::string &library,
                       const std::string &target,
                       std::unique_ptr<Backend> &out) {
  std::unique_ptr<CpuBackend> backend(new CpuBackend());
  if (Error e = backend->load(layer, library, target))
    return e;
  out = std::move(backend);
  return Error::success();
}

} // namespace moert
