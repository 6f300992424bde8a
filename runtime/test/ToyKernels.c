/*===- ToyKernels.c - A tiny host "layer" for the runtime's tests ---------===*\
|*                                                                            *|
|* Three kernels in the ABI the host library of a manifest exports:           *|
|* void _mlir_<symbol>(void **params), params[i] pointing at a buffer's       *|
|* address or at the int64_t token count. With H = 8:                         *|
|*   toy_count(counter):               counter[0] += 1                        *|
|*   toy_scale(x, scale, tmp, rowsum, T):                                     *|
|*       tmp[t,h] = x[t,h] * scale[h];  rowsum[t] += tmp[t,h]                 *|
|*   toy_accumulate(tmp, proj, rowsum, counter, y, T):                        *|
|*       y[t,j] = rowsum[t] + counter[0] + sum_h tmp[t,h] * proj[h,j]         *|
|* rowsum and counter accumulate, so they are right only when zeroed first.   *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <stdint.h>

#define TOY_H 8
#define TOY_EXPORT __attribute__((visibility("default")))

TOY_EXPORT void _mlir_toy_count(void **params) {
  int32_t *counter = *(int32_t **)params[0];
  counter[0] += 1;
}

TOY_EXPORT void _mlir_toy_scale(void **params) {
  const float *x = *(const float **)params[0];
  const float *scale = *(const float **)params[1];
  float *tmp = *(float **)params[2];
  float *rowsum = *(float **)params[3];
  int64_t tokens = *(const int64_t *)params[4];
  for (int64_t t = 0; t < tokens; ++t) {
    for (int h = 0; h < TOY_H; ++h) {
      float v = x[t * TOY_H + h] * scale[h];
      tmp[t * TOY_H + h] = v;
      rowsum[t] += v;
    }
  }
}

TOY_EXPORT void _mlir_toy_accumulate(void **params) {
  const float *tmp = *(const float **)params[0];
  const float *proj = *(const float **)params[1];
  const float *rowsum = *(const float **)params[2];
  const int32_t *counter = *(const int32_t **)params[3];
  float *y = *(float **)params[4];
  int64_t tokens = *(const int64_t *)params[5];
  for (int64_t t = 0; t < tokens; ++t) {
    for (int j = 0; j < TOY_H; ++j) {
      float acc = rowsum[t] + (float)counter[0];
      for (int h = 0; h < TOY_H; ++h)
        acc += tmp[t * TOY_H + h] * proj[h * TOY_H + j];
      y[t * TOY_H + j] = acc;
    }
  }
}
