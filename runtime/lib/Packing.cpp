//===- Packing.cpp - Weight packing copy steps ----------------------------===//

#include "Packing.h"

#include <cstdlib>
#include <cstring>

namespace moert {

Coverage::~Coverage() { release(); }

Error Coverage::reset(int64_t elements) {
  release();
  size_t words = size_t((elements + 63) / 64);
  bits_ = static_cast<uint64_t *>(std::calloc(words ? words : 1, 8));
  if (!bits_)
    return makeError(MOERT_ERROR_OUT_OF_MEMORY, "cannot allocate ", words * 8,
                     " bytes of packing bitmap");
  elements_ = elements;
  written_ = 0;
  return Error::success();
}

void Coverage::release() {
  std::free(bits_);
  bits_ = nullptr;
}

void Coverage::markRange(int64_t begin, int64_t count) {
  if (!bits_)
    return;
  int64_t end = begin + count;
  while (begin < end) {
    int64_t word = begin / 64;
    unsigned bit = unsigned(begin % 64);
    int64_t n = std::min<int64_t>(64 - bit, end - begin);
    uint64_t mask = n == 64 ? ~uint64_t(0) : ((uint64_t(1) << n) - 1) << bit;
    written_ += __builtin_popcountll(mask & ~bits_[word]);
    bits_[word] |= mask;
    begin += n;
  }
}

int64_t Coverage::firstUnwritten() const {
  if (!bits_)
    return -1;
  for (int64_t word = 0; word * 64 < elements_; ++word) {
    if (bits_[word] != ~uint64_t(0)) {
      int64_t index = word * 64 + __builtin_ctzll(~bits_[word]);
      return index < elements_ ? index : -1;
    }
  }
  return -1;
}

namespace {

using moe::support::bfloat16ToFloat;
using moe::support::floatToBfloat16;
using moe::support::floatToHalf;
using moe::support::halfToFloat;

/// Reads element i of a possibly unaligned array as f32 (exact for all
/// three source types).
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

/// Copies elements bit for bit when source and buffer types agree (NaN
/// payloads stay), converting through f32 otherwise: every f16/bf16 value
/// is exact in f32, so the one rounding is the final one.
template <DType Src, DType Dst>
void copy(const PackStep &s, const unsigned char *src, unsigned char *dst) {
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
void copyFrom(const PackStep &s, const unsigned char *src, unsigned char *dst,
              DType dstType) {
  switch (dstType) {
  case DType::F32:
    return copy<Src, DType::F32>(s, src, dst);
  case DType::F16:
    return copy<Src, DType::F16>(s, src, dst);
  case DType::BF16:
    return copy<Src, DType::BF16>(s, src, dst);
  default:
    return; // The manifest allows only float weights.
  }
}

} // namespace

Error checkPackStep(const PackStep &step, const moe::support::TensorInfo &src,
                    const std::string &tensorName) {
  auto bad = [&](const std::string &message) {
    return Error(MOERT_ERROR_WEIGHTS,
                 "tensor '" + tensorName + "': " + message);
  };
  if (!moe::support::isComputeFloat(src.dtype))
    return bad(std::string("dtype ") +
               moe::support::safeTensorsName(src.dtype) +
               " cannot be packed (F32, F16 or BF16)");
  if (src.shape.empty() || src.shape.size() > 3)
    return bad(str("rank ", src.shape.size(),
                   "; packing reads 1-D to 3-D "
                   "tensors"));
  // The manifest checked that this does not overflow.
  int64_t last = step.srcOffset + (step.rows - 1) * step.srcRowStride +
                 (step.cols - 1) * step.srcColStride;
  if (last >= src.elements)
    return bad(str("the packing step reads element ", last,
                   " but the tensor "
                   "has ",
                   src.elements, " elements"));
  return Error::success();
}

void runPackStep(const PackStep &step, const moe::support::TensorInfo &src,
                 void *dst, DType dstType, Coverage &coverage) {
  unsigned char *out = static_cast<unsigned char *>(dst);
  switch (src.dtype) {
  case DType::F32:
    copyFrom<DType::F32>(step, src.data, out, dstType);
    break;
  case DType::F16:
    copyFrom<DType::F16>(step, src.data, out, dstType);
    break;
  default:
    copyFrom<DType::BF16>(step, src.data, out, dstType);
    break;
  }
  for (int64_t r = 0; r < step.rows; ++r) {
    int64_t di = step.dstOffset + r * step.dstRowStride;
    if (step.dstColStride == 1) {
      coverage.markRange(di, step.cols);
      continue;
    }
    for (int64_t c = 0; c < step.cols; ++c)
      coverage.mark(di + c * step.dstColStride);
  }
}

} // namespace moert
