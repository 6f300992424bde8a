/*===- FakeCuda.c - A stand-in libcuda for testing the CUDA backend -------===*\
|*                                                                            *|
|* Exports the driver entry points the runtime resolves, implemented on the   *|
|* host: device memory is malloc()ed, a "module image" is the text            *|
|* "FAKECUBIN <path>" or "FAKEPTX <path>" naming a host library whose         *|
|* _mlir_<name> functions stand in for kernels, and cuLaunchKernel calls them *|
|* with the same parameter array. fake_cuda_state() exposes what happened.    *|
|* Signatures follow cuda.h; nothing here is used outside the tests.          *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;

struct FakeCudaState {
  int major, minor;      /* the device's compute capability */
  int sharedOptIn;       /* CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
  int failAllocations;   /* cuMemAlloc returns CUDA_ERROR_OUT_OF_MEMORY */
  int retainedContexts;  /* retains minus releases */
  int liveAllocations;
  int liveModules;
  int launches;
  int launchesOutsideContext;
  unsigned lastGrid[3], lastBlock[3], lastShared;
  void *lastStream;
  int memsets;
  long long uploadedBytes;
  int attributeCalls, lastAttribute, lastAttributeValue;
  char lastImageKind[8]; /* "cubin" or "ptx" */
};

static struct FakeCudaState state;
static int primaryContext; /* its address is the context handle */
static void *currentContext;

EXPORT struct FakeCudaState *fake_cuda_state(void) { return &state; }

EXPORT void fake_cuda_reset(int major, int minor) {
  memset(&state, 0, sizeof state);
  state.major = major;
  state.minor = minor;
  state.sharedOptIn = 232448;
  currentContext = NULL;
}

EXPORT CUresult cuInit(unsigned flags) { return flags == 0 ? 0 : 1; }

EXPORT CUresult cuDeviceGet(int *device, int ordinal) {
  if (ordinal != 0)
    return 101; /* CUDA_ERROR_INVALID_DEVICE */
  *device = 0;
  return 0;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  if (device != 0)
    return 101;
  switch (attribute) {
  case 75:
    *value = state.major;
    return 0;
  case 76:
    *value = state.minor;
    return 0;
  case 97:
    *value = state.sharedOptIn;
    return 0;
  }
  return 1; /* CUDA_ERROR_INVALID_VALUE */
}

EXPORT CUresult cuCtxGetCurrent(void **context) {
  *context = currentContext;
  return 0;
}

EXPORT CUresult cuCtxGetDevice(int *device) {
  if (!currentContext)
    return 201; /* CUDA_ERROR_INVALID_CONTEXT */
  *device = 0;
  return 0;
}

EXPORT CUresult cuCtxSetCurrent(void *context) {
  currentContext = context;
  return 0;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
  if (device != 0)
    return 101;
  ++state.retainedContexts;
  *context = &primaryContext;
  return 0;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int device) {
  if (device != 0)
    return 101;
  --state.retainedContexts;
  return 0;
}

EXPORT CUresult cuModuleLoadDataEx(void **module, const void *image,
                                   unsigned count, int *options,
                                   void **values) {
  const char *text = (const char *)image;
  const char *path = NULL;
  void *handle;
  unsigned i;
  if (strncmp(text, "FAKECUBIN ", 10) == 0) {
    path = text + 10;
    strcpy(state.lastImageKind, "cubin");
  } else if (strncmp(text, "FAKEPTX ", 8) == 0) {
    path = text + 8;
    strcpy(state.lastImageKind, "ptx");
  }
  handle = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  if (handle) {
    ++state.liveModules;
    *module = handle;
    return 0;
  }
  /* Fill the JIT error log as the driver does. */
  for (i = 0; i < count; ++i) {
    if (options[i] == 5) {
      size_t size = 0;
      unsigned k;
      for (k = 0; k < count; ++k)
        if (options[k] == 6)
          size = (size_t)(uintptr_t)values[k];
      if (size > 0)
        snprintf((char *)values[i], size, "fake: not a fake image");
    }
  }
  return 200; /* CUDA_ERROR_INVALID_IMAGE */
}

EXPORT CUresult cuModuleUnload(void *module) {
  --state.liveModules;
  dlclose(module);
  return 0;
}

EXPORT CUresult cuModuleGetFunction(void **function, void *module,
                                    const char *name) {
  char symbol[512];
  snprintf(symbol, sizeof symbol, "_mlir_%s", name);
  *function = dlsym(module, symbol);
  return *function ? 0 : 500; /* CUDA_ERROR_NOT_FOUND */
}

EXPORT CUresult cuFuncSetAttribute(void *function, int attribute, int value) {
  (void)function;
  ++state.attributeCalls;
  state.lastAttribute = attribute;
  state.lastAttributeValue = value;
  return 0;
}

EXPORT CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy,
                               unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared, void *stream,
                               void **params, void **extra) {
  void (*kernel)(void **);
  if (extra)
    return 1;
  if (currentContext != &primaryContext)
    ++state.launchesOutsideContext;
  ++state.launches;
  state.lastGrid[0] = gx;
  state.lastGrid[1] = gy;
  state.lastGrid[2] = gz;
  state.lastBlock[0] = bx;
  state.lastBlock[1] = by;
  state.lastBlock[2] = bz;
  state.lastShared = shared;
  state.lastStream = stream;
  memcpy(&kernel, &function, sizeof kernel);
  kernel(params);
  return 0;
}

EXPORT CUresult cuMemAlloc_v2(unsigned long long *address, size_t bytes) {
  void *p;
  if (state.failAllocations)
    return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
  p = malloc(bytes);
  if (!p)
    return 2;
  ++state.liveAllocations;
  *address = (unsigned long long)(uintptr_t)p;
  return 0;
}

EXPORT CUresult cuMemFree_v2(unsigned long long address) {
  --state.liveAllocations;
  free((void *)(uintptr_t)address);
  return 0;
}

EXPORT CUresult cuMemcpyHtoD_v2(unsigned long long dst, const void *src,
                                size_t bytes) {
  memcpy((void *)(uintptr_t)dst, src, bytes);
  state.uploadedBytes += (long long)bytes;
  return 0;
}

EXPORT CUresult cuMemsetD8Async(unsigned long long dst, unsigned char value,
                                size_t count, void *stream) {
  memset((void *)(uintptr_t)dst, value, count);
  ++state.memsets;
  state.lastStream = stream;
  return 0;
}

static const char *errorName(CUresult result) {
  switch (result) {
  case 2:
    return "CUDA_ERROR_OUT_OF_MEMORY";
  case 200:
    return "CUDA_ERROR_INVALID_IMAGE";
  case 500:
    return "CUDA_ERROR_NOT_FOUND";
  }
  return "CUDA_ERROR_UNKNOWN";
}

EXPORT CUresult cuGetErrorName(CUresult result, const char **name) {
  *name = errorName(result);
  return 0;
}

EXPORT CUresult cuGetErrorString(CUresult result, const char **text) {
  *text = result == 2 ? "out of memory" : "fake error";
  return 0;
}
