//===- CudaBackend.cpp - Kernels from a cubin through the driver API ------===//
//
// Uses the device of the calling thread's current context (device 0 when
// there is none), retains that device's primary context (the one the CUDA
// runtime and frameworks use) and makes it current at each API call, loads
// the module chosen by selectTarget() and launches with cuLaunchKernel.
//
//===----------------------------------------------------------------------===//

#include "Backend.h"
#include "CudaDriver.h"

#include <algorithm>
#include <vector>

namespace moert {

using namespace cuda;

static std::string &cudaDriverLibrary() {
  static std::string library = "libcuda.so.1";
  return library;
}

void setCudaDriverLibraryForTesting(const char *path) {
  cudaDriverLibrary() = path ? path : "libcuda.so.1";
}

static std::string chipName(int capability) { return str("sm_", capability); }

Error selectTarget(const LayerDesc &layer, int capability, TargetChoice &out) {
  const std::vector<TargetDesc> &targets = layer.targets;
  auto rank = [](char suffix) { return suffix == 'a' ? 2 : suffix ? 1 : 0; };
  // 1. The device's own chip; "sm_90a" has the arch-specific instructions.
  // Its cubin, or its PTX where it has none (emitted without ptxas).
  int best = -1;
  for (size_t i = 0; i < targets.size(); ++i)
    if (targets[i].capability == capability &&
        (best < 0 || rank(targets[i].suffix) > rank(targets[best].suffix)))
      best = int(i);
  if (best >= 0) {
    out = {size_t(best), targets[best].cubin.empty()};
    return Error::success();
  }
  // 2. A cubin for X.y runs on X.z for z >= y; never an "a" cubin.
  for (size_t i = 0; i < targets.size(); ++i)
    if (!targets[i].cubin.empty() && targets[i].suffix != 'a' &&
        targets[i].capability / 10 == capability / 10 &&
        targets[i].capability < capability &&
        (best < 0 || targets[i].capability > targets[best].capability))
      best = int(i);
  if (best >= 0) {
    out = {size_t(best), false};
    return Error::success();
  }
  // 3. Generic PTX of a lower chip is JIT-compiled by the driver.
  for (size_t i = 0; i < targets.size(); ++i)
    if (targets[i].suffix == 0 && !targets[i].ptx.empty() &&
        targets[i].capability < capability &&
        (best < 0 || targets[i].capability > targets[best].capability))
      best = int(i);
  if (best >= 0) {
    out = {size_t(best), true};
    return Error::success();
  }
  std::string chips;
  for (const TargetDesc &t : targets)
    chips += (chips.empty() ? "" : ", ") + t.chip +
             (t.ptx.empty() ? " (cubin only)" : "") +
             (t.cubin.empty() ? " (PTX only)" : "");
  return makeError(MOERT_ERROR_BACKEND, "CUDA backend: layer '", layer.function,
                   "' has no kernels for this device (", chipName(capability),
                   "); the manifest has ", chips.empty() ? "no targets" : chips,
                   ". A cubin runs only on its own major version; PTX of a "
                   "lower chip is JIT-compiled");
}

namespace {

class CudaBackend : public Backend {
public:
  ~CudaBackend() override {
    if (!context)
      return;
    driver.cuCtxSetCurrent(context);
    if (module)
      driver.cuModuleUnload(module);
    driver.cuDevicePrimaryCtxRelease(device);
    // libcuda stays loaded: unloading a driver mid-process helps nobody.
  }

  Error load(const LayerDesc &layer) {
    if (Error e = driver.load(cudaDriverLibrary().c_str()))
      return e;
    if (Error e = check(driver.cuInit(0), "cuInit"))
      return e;
    CUcontext current = nullptr;
    if (Error e = check(driver.cuCtxGetCurrent(&current), "cuCtxGetCurrent"))
      return e;
    if (current) {
      if (Error e = check(driver.cuCtxGetDevice(&device), "cuCtxGetDevice"))
        return e;
    } else if (Error e =
                   check(driver.cuDeviceGet(&device, 0), "cuDeviceGet(0)")) {
      return e;
    }
    CUcontext primary = nullptr;
    if (Error e = check(driver.cuDevicePrimaryCtxRetain(&primary, device),
                        "cuDevicePrimaryCtxRetain"))
      return e;
    context = primary;
    if (Error e = enter())
      return e;

    int major = 0, minor = 0, sharedOptIn = 0;
    if (Error e = check(
            driver.cuDeviceGetAttribute(
                &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
            "cuDeviceGetAttribute"))
      return e;
    if (Error e = check(
            driver.cuDeviceGetAttribute(
                &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
            "cuDeviceGetAttribute"))
      return e;
    if (Error e = check(
            driver.cuDeviceGetAttribute(
                &sharedOptIn,
                CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device),
            "cuDeviceGetAttribute"))
      return e;

    TargetChoice choice;
    if (Error e = selectTarget(layer, major * 10 + minor, choice))
      return e;
    const TargetDesc &target = layer.targets[choice.index];
    chip = target.chip;
    file = choice.usePtx ? target.ptx : target.cubin;
    std::string image; // A std::string keeps PTX text NUL-terminated.
    if (Error e = readFile(file, size_t(1) << 30, image))
      return e.withPrefix("CUDA backend");

    char log[8192] = {0};
    int options[] = {CU_JIT_ERROR_LOG_BUFFER,
                     CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {log, reinterpret_cast<void *>(uintptr_t(sizeof log))};
    CUresult loaded =
        driver.cuModuleLoadDataEx(&module, image.c_str(), 2, options, values);
    if (loaded != CUDA_SUCCESS) {
      module = nullptr;
      log[sizeof log - 1] = 0;
      return makeError(MOERT_ERROR_BACKEND, "CUDA backend: cannot load '", file,
                       "' on ", chipName(major * 10 + minor), ": ",
                       driver.describe(loaded), log[0] ? "\n" : "", log);
    }

    for (const KernelDesc &kernel : layer.kernels) {
      Kernel k;
      k.block = kernel.block;
      k.sharedMemory = kernel.dynamicSharedMemory;
      if (Error e = check(driver.cuModuleGetFunction(&k.function, module,
                                                     kernel.symbol.c_str()),
                          "cuModuleGetFunction('" + kernel.symbol + "')"))
        return Error(e.code(), e.message() + " in '" + file + "'");
      if (k.sharedMemory > 48 * 1024) {
        if (k.sharedMemory > uint32_t(std::max(sharedOptIn, 0)))
          return makeError(MOERT_ERROR_BACKEND, "CUDA backend: kernel '",
                           kernel.symbol, "' needs ", k.sharedMemory,
                           " bytes of dynamic shared memory; the device "
                           "allows ",
                           sharedOptIn);
        if (Error e = check(driver.cuFuncSetAttribute(
                                k.function,
                                CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                int(k.sharedMemory)),
                            "cuFuncSetAttribute('" + kernel.symbol + "')"))
          return e;
      }
      kernels.push_back(k);
    }
    return Error::success();
  }

  const std::string &target() const override { return chip; }
  const std::string &targetFile() const override { return file; }
  bool hostAddressable() const override { return false; }

  Error enter() override {
    return check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  }

  Error allocate(size_t bytes, uint64_t &address) override {
    CUdeviceptr p = 0;
    if (Error e = check(driver.cuMemAlloc(&p, bytes),
                        str("cuMemAlloc(", bytes, " bytes)")))
      return e;
    address = p;
    return Error::success();
  }

  void release(uint64_t address) override { driver.cuMemFree(address); }

  Error upload(uint64_t dst, const void *src, size_t bytes) override {
    return check(driver.cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
  }

  Error zero(uint64_t dst, size_t bytes, void *stream) override {
    return check(
        driver.cuMemsetD8Async(dst, 0, bytes, static_cast<CUstream>(stream)),
        "cuMemsetD8Async");
  }

  Error launch(size_t index, const std::array<uint32_t, 3> &grid, void **params,
               const std::vector<EmulatedBuffer> &, void *stream) override {
    const Kernel &k = kernels[index];
    return check(
        driver.cuLaunchKernel(k.function, grid[0], grid[1], grid[2], k.block[0],
                              k.block[1], k.block[2], k.sharedMemory,
                              static_cast<CUstream>(stream), params, nullptr),
        "cuLaunchKernel");
  }

private:
  struct Kernel {
    CUfunction function = nullptr;
    std::array<uint32_t, 3> block;
    uint32_t sharedMemory = 0;
  };

  Driver driver = {};
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUmodule module = nullptr;
  std::vector<Kernel> kernels;
  std::string chip, file;

  Error check(CUresult result, const std::string &what) const {
    if (result == CUDA_SUCCESS)
      return Error::success();
    return makeError(
        result == CUDA_ERROR_OUT_OF_MEMORY ? MOERT_ERROR_OUT_OF_MEMORY
                                           : MOERT_ERROR_BACKEND,
        "CUDA backend: ", what, " failed: ", driver.describe(result));
  }
};

} // namespace

Error createCudaBackend(const LayerDesc &layer, std::unique_ptr<Backend> &out) {
  std::unique_ptr<CudaBackend> backend(new CudaBackend());
  if (Error e = backend->load(layer))
    return e;
  out = std::move(backend);
  return Error::success();
}

} // namespace moert
