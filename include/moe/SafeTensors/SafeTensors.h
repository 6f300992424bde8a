//===- SafeTensors.h - Hugging Face safetensors files -----------*- C++ -*-===//
//
// Reads and writes the Hugging Face safetensors format: an 8-byte
// little-endian header length N, N bytes of JSON header (tensor name ->
// {"dtype", "shape", "data_offsets"}, plus an optional "__metadata__" object
// of strings), then the data block that the offsets point into.
//
// The reader maps the file and validates every header entry before it hands
// out a view, so a hostile or truncated file yields an llvm::Error and never
// an out-of-bounds read. Only the floating-point types the compiler uses
// (F32, F16, BF16) are supported. This library does not depend on MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_SAFETENSORS_SAFETENSORS_H
#define MOE_SAFETENSORS_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moe::safetensors {

/// The element types this library reads and writes.
enum class DType { F32, F16, BF16 };

/// Bytes per element: 4 for F32, 2 for F16 and BF16.
size_t elementSize(DType dtype);

/// The name the header uses: "F32", "F16" or "BF16".
llvm::StringRef dtypeName(DType dtype);

/// The DType named `name` (exact, case-sensitive), or nullopt.
std::optional<DType> parseDType(llvm::StringRef name);

/// Conversions between float and the 16-bit formats. To float is exact; from
/// float rounds to nearest, ties to even, keeps NaN a (quiet) NaN and the
/// sign of zero, and overflows to infinity.
float bf16ToFloat(uint16_t bits);
uint16_t floatToBf16(float value);
float f16ToFloat(uint16_t bits);
uint16_t floatToF16(float value);

/// Rounds `value` to the nearest value representable in `dtype` (identity for
/// F32).
float roundTo(DType dtype, float value);

/// One tensor of an open File. `bytes` points into the file's buffer and is
/// valid as long as that File lives (moving the File keeps it valid).
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  /// Little-endian elements, row-major; not necessarily aligned.
  llvm::ArrayRef<uint8_t> bytes;

  /// The product of `shape` (1 for a scalar).
  int64_t numElements() const;
  /// Element `i` (0 <= i < numElements()) converted to float.
  float element(int64_t i) const;
  /// All elements converted to float.
  std::vector<float> toFloats() const;
};

/// A validated safetensors file; owns its (usually memory-mapped) buffer.
class File {
public:
  /// Maps the file at `path` and validates it. Errors start with `path`.
  static llvm::Expected<File> open(llvm::StringRef path);

  /// Validates bytes already in memory (for tests and fuzzing). Errors start
  /// with the buffer's identifier.
  static llvm::Expected<File> parse(std::unique_ptr<llvm::MemoryBuffer> buffer);

  File(File &&) = default;
  File &operator=(File &&) = default;
  File(const File &) = delete;
  File &operator=(const File &) = delete;

  /// The tensor called `name`, or nullptr.
  const TensorView *find(llvm::StringRef name) const;

  /// Every tensor, in ascending order of data offset (ties by name).
  llvm::ArrayRef<TensorView> tensors() const { return views; }

  /// The "__metadata__" entries (empty if the header has none).
  const std::map<std::string, std::string> &metadata() const {
    return metadataEntries;
  }

  /// The name used in messages: the path for open(), else the buffer's
  /// identifier.
  llvm::StringRef name() const { return buffer->getBufferIdentifier(); }

private:
  File() = default;

  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorView> views;
  llvm::StringMap<size_t> indexByName;
  std::map<std::string, std::string> metadataEntries;
};

/// A tensor to write, with its data already in the file's encoding.
struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  /// Little-endian elements, row-major.
  std::vector<uint8_t> data;
};

/// Converts `values` to `dtype` (rounding as floatToBf16/floatToF16 do). Does
/// not check `values` against `shape`; write() does.
OwnedTensor makeTensor(std::string name, DType dtype,
                       std::vector<int64_t> shape,
                       llvm::ArrayRef<float> values);

/// Writes `tensors` to `path`: header keys "__metadata__" first (if
/// `metadata` is not empty), then the tensors sorted by name, data in that
/// order, the header padded with spaces to a multiple of 8 bytes, as the
/// Python safetensors package writes it. Writes a temporary file in the same
/// folder and renames it over `path` only on success, so a failure never
/// leaves a partial file or clobbers an existing one. Duplicate names, the
/// name "__metadata__", negative dimensions, a data size that does not match
/// the shape and names or metadata that are not UTF-8 are errors.
llvm::Error write(llvm::StringRef path, llvm::ArrayRef<OwnedTensor> tensors,
                  const std::map<std::string, std::string> &metadata = {});

} // namespace moe::safetensors

#endif // MOE_SAFETENSORS_SAFETENSORS_H
