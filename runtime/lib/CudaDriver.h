//===- CudaDriver.h - The CUDA driver API, resolved at run time -*- C++ -*-===//
//
// The runtime must build and run where CUDA is not installed, so it neither
// includes cuda.h nor links libcuda: it dlopen()s "libcuda.so.1" and looks
// up the few entry points it needs. The types, constants and signatures
// below mirror the driver API's ABI as declared in cuda.h (CUDA 11 and
// later; values checked against CUDA 13.0's cuda.h): CUresult and CUdevice
// are ints, enums are passed as ints, handles are opaque pointers and
// CUdeviceptr is an unsigned long long.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_CUDADRIVER_H
#define MOERT_CUDADRIVER_H

#include "Error.h"

#include <cstddef>
#include <string>

namespace moert {
namespace cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

/// The entry points the runtime uses, resolved with dlsym (the `_v2`
/// names where the driver exports them, as cuda.h's #defines do).
struct Driver {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuCtxGetCurrent)(CUcontext *context);
  CUresult (*cuCtxGetDevice)(CUdevice *device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuModuleLoadDataEx)(CUmodule *module, const void *image,
                                 unsigned numOptions, int *options,
                                 void **optionValues);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module,
                                  const char *name);
  CUresult (*cuFuncSetAttribute)(CUfunction function, int attribute, int value);
  CUresult (*cuLaunchKernel)(CUfunction f, unsigned gridX, unsigned gridY,
                             unsigned gridZ, unsigned blockX, unsigned blockY,
                             unsigned blockZ, unsigned sharedMemBytes,
                             CUstream stream, void **params, void **extra);
  CUresult (*cuMemAlloc)(CUdeviceptr *address, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr address);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes);
  CUresult (*cuMemsetD8Async)(CUdeviceptr dst, unsigned char value,
                              size_t count, CUstream stream);
  CUresult (*cuGetErrorName)(CUresult error, const char **name);
  CUresult (*cuGetErrorString)(CUresult error, const char **text);

  /// dlopen()s `library` and resolves every entry point; the library stays
  /// loaded for the life of the process. MOERT_ERROR_BACKEND if either fails.
  Error load(const char *library);

  /// "CUDA_ERROR_X (description)" for a driver result.
  std::string describe(CUresult result) const;
};

} // namespace cuda
} // namespace moert

#endif // MOERT_CUDADRIVER_H
