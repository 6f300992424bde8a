//===- StridedCopy.cpp - the weight-packing copy --------------------------===//

#include "moe-support/StridedCopy.h"

#include <cstring>

namespace moe::support {

void runStridedCopy(const StridedCopy &copy, DType srcType, const void *src,
                    DType dstType, void *dst) {
  if (!canPack(srcType, dstType))
    return;
  const auto *in = static_cast<const unsigned char *>(src);
  auto *out = static_cast<unsigned char *>(dst);
  // Quantized storage is copied as bytes (U8 into F8E8M0 or I8 included).
  const bool same = srcType == dstType || !isComputeFloat(dstType);
  const size_t size = elementSize(dstType);
  for (int64_t r = 0; r < copy.rows; ++r) {
    int64_t si = copy.srcOffset + r * copy.srcRowStride;
    int64_t di = copy.dstOffset + r * copy.dstRowStride;
    if (same && copy.srcColStride == 1 && copy.dstColStride == 1) {
      std::memcpy(out + di * size, in + si * size, size_t(copy.cols) * size);
      continue;
    }
    for (int64_t c = 0; c < copy.cols; ++c) {
      int64_t from = si + c * copy.srcColStride;
      int64_t to = di + c * copy.dstColStride;
      if (same)
        std::memcpy(out + to * size, in + from * size, size);
      else
        storeFromFloat(dstType, out, size_t(to),
                       loadAsFloat(srcType, in, size_t(from)));
    }
  }
}

} // namespace moe::support
