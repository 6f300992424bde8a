//===- CudaDriver.cpp - The CUDA driver API, resolved at run time ---------===//

#include "CudaDriver.h"

#include <cstring>
#include <dlfcn.h>

namespace moert {
namespace cuda {

Error Driver::load(const char *library) {
  void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    return makeError(
        MOERT_ERROR_BACKEND, "CUDA backend: cannot load ", library,
        " (the NVIDIA driver's libcuda): ", why ? why : "unknown dlopen error",
        "; is an NVIDIA driver installed?");
  }
  // Each entry: the field, then the names to try in order.
  struct Entry {
    void *field;
    const char *names[2];
  } entries[] = {
      {&cuInit, {"cuInit", nullptr}},
      {&cuDeviceGet, {"cuDeviceGet", nullptr}},
      {&cuDeviceGetAttribute, {"cuDeviceGetAttribute", nullptr}},
      {&cuCtxGetCurrent, {"cuCtxGetCurrent", nullptr}},
      {&cuCtxGetDevice, {"cuCtxGetDevice", nullptr}},
      {&cuCtxSetCurrent, {"cuCtxSetCurrent", nullptr}},
      {&cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain", nullptr}},
      {&cuDevicePrimaryCtxRelease,
       {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}},
      {&cuModuleLoadDataEx, {"cuModuleLoadDataEx", nullptr}},
      {&cuModuleUnload, {"cuModuleUnload", nullptr}},
      {&cuModuleGetFunction, {"cuModuleGetFunction", nullptr}},
      {&cuFuncSetAttribute, {"cuFuncSetAttribute", nullptr}},
      {&cuLaunchKernel, {"cuLaunchKernel", nullptr}},
      {&cuMemAlloc, {"cuMemAlloc_v2", nullptr}},
      {&cuMemFree, {"cuMemFree_v2", nullptr}},
      {&cuMemcpyHtoD, {"cuMemcpyHtoD_v2", nullptr}},
      {&cuMemsetD8Async, {"cuMemsetD8Async", nullptr}},
      {&cuGetErrorName, {"cuGetErrorName", nullptr}},
      {&cuGetErrorString, {"cuGetErrorString", nullptr}},
  };
  for (const Entry &entry : entries) {
    void *symbol = nullptr;
    for (const char *name : entry.names)
      if (name && !symbol)
        symbol = dlsym(handle, name);
    if (!symbol)
      return makeError(MOERT_ERROR_BACKEND, "CUDA backend: ", library,
                       " does not export ", entry.names[0],
                       "; the driver is too old");
    // Every field is a function pointer of the same size as void *.
    std::memcpy(entry.field, &symbol, sizeof symbol);
  }
  return Error::success();
}

std::string Driver::describe(CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "unknown CUresult";
  if (cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = "no description";
  return str(name, " (", result, ": ", text, ")");
}

} // namespace cuda
} // namespace moert
