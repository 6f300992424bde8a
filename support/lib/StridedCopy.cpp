//===- StridedCopy.cpp - the weight-packing copy --------------------------===//

#include "moe-support/StridedCopy.h"

#include <cstring>

namespace moe::support {
namespace {

/// Element i of a possibly unaligned array as f32 (exact for every compute
/// float).
template <DType Src> float load(const unsigned char *base, int64_t i) {
  if constexpr (Src == DType::F32) {
    float v;
    std::memcpy(&v, base + i * 4, 4);
    return v;
  } else {
    uint16_t v;
    std::memcpy(&v, base + i * 2, 2);
    return Src == DType::F16 ? halfToFloat(v) : bfloat16ToFloat(v);
  }
}

template <DType Dst> void store(unsigned char *base, int64_t i, float v) {
  if constexpr (Dst == DType::F32) {
    std::memcpy(base + i * 4, &v, 4);
  } else {
    uint16_t bits = Dst == DType::F16 ? floatToHalf(v) : floatToBfloat16(v);
    std::memcpy(base + i * 2, &bits, 2);
  }
}

template <DType Src, DType Dst>
void copy(const StridedCopy &s, const unsigned char *src, unsigned char *dst) {
  const size_t size = elementSize(Dst);
  for (int64_t r = 0; r < s.rows; ++r) {
    int64_t si = s.srcOffset + r * s.srcRowStride;
    int64_t di = s.dstOffset + r * s.dstRowStride;
    if (Src == Dst && s.srcColStride == 1 && s.dstColStride == 1) {
      std::memcpy(dst + di * size, src + si * size, size_t(s.cols) * size);
      continue;
    }
    for (int64_t c = 0; c < s.cols; ++c) {
      int64_t from = si + c * s.srcColStride, to = di + c * s.dstColStride;
      if constexpr (Src == Dst)
        std::memcpy(dst + to * size, src + from * size, size);
      else
        store<Dst>(dst, to, load<Src>(src, from));
    }
  }
}

template <DType Src>
void copyFrom(const StridedCopy &s, const unsigned char *src,
              unsigned char *dst, DType dstType) {
  switch (dstType) {
  case DType::F32:
    return copy<Src, DType::F32>(s, src, dst);
  case DType::F16:
    return copy<Src, DType::F16>(s, src, dst);
  case DType::BF16:
    return copy<Src, DType::BF16>(s, src, dst);
  default:
    return; // Only compute floats are packed.
  }
}

} // namespace

void runStridedCopy(const StridedCopy &copy, DType srcType, const void *src,
                    DType dstType, void *dst) {
  const auto *in = static_cast<const unsigned char *>(src);
  auto *out = static_cast<unsigned char *>(dst);
  switch (srcType) {
  case DType::F32:
    return copyFrom<DType::F32>(copy, in, out, dstType);
  case DType::F16:
    return copyFrom<DType::F16>(copy, in, out, dstType);
  case DType::BF16:
    return copyFrom<DType::BF16>(copy, in, out, dstType);
  default:
    return; // Only compute floats are packed.
  }
}

} // namespace moe::support
