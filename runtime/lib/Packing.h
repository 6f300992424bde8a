//===- Packing.h - Weight packing copy steps --------------------*- C++ -*-===//
//
// Executes the manifest's weight_packing steps: a strided 2-D copy from a
// safetensors tensor into a weight buffer, converting F32/F16/BF16 to the
// buffer's f32/f16/bf16 with round-to-nearest-even, while a Coverage bitmap
// records which buffer elements have been written so that a run can refuse
// weights that were never (fully) packed.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_PACKING_H
#define MOERT_PACKING_H

#include "Error.h"
#include "Manifest.h"

#include "moe-support/SafeTensors.h"

#include <cstdint>

namespace moert {

/// One bit per element of a buffer.
class Coverage {
public:
  Coverage() = default;
  Coverage(const Coverage &) = delete;
  Coverage &operator=(const Coverage &) = delete;
  ~Coverage();

  /// (Re)starts with `elements` unwritten elements (MOERT_ERROR_OUT_OF_MEMORY
  /// if the bitmap cannot be allocated).
  Error reset(int64_t elements);
  /// Frees the bitmap; the count of written elements is kept.
  void release();

  /// Marks [begin, begin + count) as written.
  void markRange(int64_t begin, int64_t count);
  void mark(int64_t index) { markRange(index, 1); }

  int64_t elements() const { return elements_; }
  int64_t written() const { return written_; }
  bool complete() const { return written_ == elements_; }
  /// The first unwritten element, or -1 (also -1 once released).
  int64_t firstUnwritten() const;

private:
  uint64_t *bits_ = nullptr;
  int64_t elements_ = 0;
  int64_t written_ = 0;
};

/// Checks a step against its source tensor: 1-D to 4-D, a dtype that packs
/// into `dstType` (support::canPack),
/// and the strided view inside the tensor's elements. MOERT_ERROR_WEIGHTS
/// with a message naming `tensorName`.
Error checkPackStep(const PackStep &step, const moe::support::TensorInfo &src,
                    DType dstType, const std::string &tensorName);

/// Runs a checked step into `dst` (a host buffer of `dstType` elements
/// holding the whole weight), marking the written elements in `coverage`.
void runPackStep(const PackStep &step, const moe::support::TensorInfo &src,
                 void *dst, DType dstType, Coverage &coverage);

} // namespace moert

#endif // MOERT_PACKING_H
