//===- Packing.cpp - Weight packing copy steps ----------------------------===//

#include "Packing.h"

#include "moe-support/StridedCopy.h"

#include <cstdlib>

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

Error checkPackStep(const PackStep &step, const moe::support::TensorInfo &src,
                    DType dstType, const std::string &tensorName) {
  auto bad = [&](const std::string &message) {
    return Error(MOERT_ERROR_WEIGHTS,
                 "tensor '" + tensorName + "': " + message);
  };
  if (!moe::support::canPack(src.dtype, dstType))
    return bad(
        std::string("dtype ") + moe::support::safeTensorsName(src.dtype) +
        " cannot be packed into a " + moe::support::manifestName(dstType) +
        " buffer (F32, F16 or BF16 for float buffers; the buffer's "
        "own type, or U8 for f8e8m0 and i8)");
  if (src.shape.empty() || src.shape.size() > 4)
    return bad(
        str("rank ", src.shape.size(),
            "; packing reads 1-D to 4-D tensors (MXFP4 blocks are 4-D)"));
  // The manifest checked that this does not overflow.
  int64_t last = step.lastSourceElement();
  if (last >= src.elements)
    return bad(str("the packing step reads element ", last,
                   " but the tensor has ", src.elements, " elements"));
  return Error::success();
}

void runPackStep(const PackStep &step, const moe::support::TensorInfo &src,
                 void *dst, DType dstType, Coverage &coverage) {
  moe::support::runStridedCopy(step, src.dtype, src.data, dstType, dst);
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
