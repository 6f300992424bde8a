//===- StridedCopy.h - the weight-packing copy, defined once ----*- C++ -*-===//
//
// A packing step of the kernel manifest (docs/kernel-manifest.md, "Weight
// packing") copies a 2-D strided view of a checkpoint tensor into a kernel
// weight buffer. The compiler computes the steps and runs them on the host
// (lib/Weights packForKernels), moert runs them from the manifest: both use
// this one definition and this one copy.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_SUPPORT_STRIDEDCOPY_H
#define MOE_SUPPORT_STRIDEDCOPY_H

#include "moe-support/DType.h"

#include <cstdint>

namespace moe::support {

/// dst[dstOffset + r*dstRowStride + c*dstColStride] =
/// src[srcOffset + r*srcRowStride + c*srcColStride], r < rows, c < cols;
/// in elements.
struct StridedCopy {
  int64_t srcOffset = 0, rows = 0, cols = 0, srcRowStride = 0, srcColStride = 0;
  int64_t dstOffset = 0, dstRowStride = 0, dstColStride = 0;

  /// The last source element read (the strides are non-negative), for the
  /// caller's bounds check. Meaningless when rows or cols is 0.
  int64_t lastSourceElement() const {
    return srcOffset + (rows - 1) * srcRowStride + (cols - 1) * srcColStride;
  }
};

/// A StridedCopy field as the manifest's weight_packing steps name it
/// (docs/kernel-manifest.schema.json, "packStep"), with its least value.
/// The compiler writes steps and moert reads them through this one table.
struct StridedCopyField {
  const char *key;
  int64_t least;
  int64_t StridedCopy::*member;
};
inline constexpr StridedCopyField kStridedCopyFields[] = {
    {"src_offset", 0, &StridedCopy::srcOffset},
    {"rows", 1, &StridedCopy::rows},
    {"cols", 1, &StridedCopy::cols},
    {"src_row_stride", 0, &StridedCopy::srcRowStride},
    {"src_col_stride", 0, &StridedCopy::srcColStride},
    {"dst_offset", 0, &StridedCopy::dstOffset},
    {"dst_row_stride", 0, &StridedCopy::dstRowStride},
    {"dst_col_stride", 0, &StridedCopy::dstColStride}};

/// Runs `copy` from `src` (elements of `srcType`) into `dst` (elements of
/// `dstType`), a pair canPack accepts (others copy nothing), neither checked
/// here: the caller has bounded the view. Elements are copied bit for bit
/// when the types agree (NaN payloads stay) or the destination is quantized
/// storage, converted through f32 otherwise: every f16/bf16 value is exact
/// in f32, so the one rounding is the final one.
/// Either pointer may be unaligned.
void runStridedCopy(const StridedCopy &copy, DType srcType, const void *src,
                    DType dstType, void *dst);

} // namespace moe::support

#endif // MOE_SUPPORT_STRIDEDCOPY_H
