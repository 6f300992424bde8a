//===- SafeTensors.h - safetensors files for LLVM-style code ----*- C++ -*-===//
//
// The compiler's view of the support library's safetensors reader and writer
// (support/include/moe-support/SafeTensors.h, which does the parsing and all
// bounds checks): errors as llvm::Error, views as ArrayRef, and only the
// floating-point types the compiler computes in (F32, F16, BF16) accepted.
// This library does not depend on MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_SAFETENSORS_SAFETENSORS_H
#define MOE_SAFETENSORS_SAFETENSORS_H

#include "moe-support/DType.h"
#include "moe-support/SafeTensors.h"

#include "llvm/ADT/ArrayRef.h"
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

using ::moe::support::DType;
using ::moe::support::elementSize;
using ::moe::support::roundTo;

/// The name the header uses: "F32", "F16", "BF16", ...
inline llvm::StringRef dtypeName(DType dtype) {
  return ::moe::support::safeTensorsName(dtype);
}

/// The types File::open and File::parse accept: the compute floats and
/// what quantized checkpoints store (fp8 e4m3 values, e8m0 scales, bytes
/// of packed e2m1).
const std::vector<DType> &checkpointTypes();

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

/// A validated safetensors file of F32, F16 and BF16 tensors.
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
    return file->metadata();
  }

  /// The name used in messages: the path for open(), else the buffer's
  /// identifier.
  llvm::StringRef name() const { return file->name(); }

private:
  File() = default;
  static File wrap(std::unique_ptr<::moe::support::SafeTensorsFile> file,
                   std::unique_ptr<llvm::MemoryBuffer> buffer);

  /// For parse(): the bytes `file` points into.
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::unique_ptr<::moe::support::SafeTensorsFile> file;
  std::vector<TensorView> views;
};

/// A tensor to write, with its data already in the file's encoding.
struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  /// Little-endian elements, row-major.
  std::vector<uint8_t> data;
};

/// Converts `values` to `dtype` (F32, F16 or BF16, rounding to nearest
/// even). Does not check `values` against `shape`; write() does.
OwnedTensor makeTensor(std::string name, DType dtype,
                       std::vector<int64_t> shape,
                       llvm::ArrayRef<float> values);

/// Writes `tensors` to `path` through ::moe::support::writeSafeTensors (see
/// there: sorted, padded, atomic, and its checks).
llvm::Error write(llvm::StringRef path, llvm::ArrayRef<OwnedTensor> tensors,
                  const std::map<std::string, std::string> &metadata = {});

} // namespace moe::safetensors

#endif // MOE_SAFETENSORS_SAFETENSORS_H
