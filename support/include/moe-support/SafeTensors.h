//===- SafeTensors.h - Reading and writing safetensors files ----*- C++ -*-===//
//
// The Hugging Face safetensors format: an 8-byte little-endian header length
// N, N bytes of JSON header (tensor name -> {"dtype", "shape",
// "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
// strings), then the data block the offsets (relative to its start) point
// into.
//
// The one reader of the project (the compiler, the runtime and the GPU
// benchmark use it). It validates every header entry (known dtype, byte size
// equal to the shape's, offsets inside the data block, no two tensors
// sharing bytes, no key twice, bounded size and nesting) before it hands out
// a view, so a hostile or truncated file is an error, never a bad read. It
// accepts every dtype the format defines; what a caller can use is for the
// caller to check.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_SUPPORT_SAFETENSORS_H
#define MOE_SUPPORT_SAFETENSORS_H

#include "moe-support/DType.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moe::support {

/// Why a file was refused: it could not be read (Io) or its bytes are not a
/// valid safetensors file (Format). `message` starts with the file's name.
struct SafeTensorsError {
  enum Kind { Io, Format } kind = Format;
  std::string message;
};

/// One tensor of a file. `data` points into the file's bytes and lives as
/// long as the SafeTensorsFile does; it is little-endian and row-major, and
/// not necessarily aligned for its type.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  int64_t elements = 0; ///< The product of `shape` (1 for a scalar).
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;

  /// Element `i` (0 <= i < elements) as float; see loadAsFloat.
  float element(int64_t i) const { return loadAsFloat(dtype, data, i); }
};

/// A validated safetensors file.
class SafeTensorsFile {
public:
  /// Real headers are a few KiB to a few MiB (one entry per tensor); the
  /// reference implementation refuses more than 100 MB as well.
  static constexpr uint64_t kMaxHeaderBytes = 100u << 20;
  /// A header is an object of objects of arrays; anything deeper is hostile.
  static constexpr unsigned kMaxHeaderDepth = 16;

  /// Makes a read of a mapped file that shrank after it was mapped (the
  /// kernel's SIGBUS: another process truncated or rewrote it) end the
  /// process with "`tool`: error: ..." on stderr and exit status 1 instead
  /// of a crash. Process-wide: for tools, not for libraries.
  static void exitOnMappedFileFault(const char *tool);

  /// Maps the regular file at `path` read-only and validates it; null and
  /// `error` set on failure. Anything else (a FIFO, a device such as
  /// /dev/zero, a directory) is refused at once, without waiting on it. A
  /// tensor whose dtype is not in `accepted` (when it is not empty) is
  /// refused, naming the accepted ones.
  static std::unique_ptr<SafeTensorsFile>
  open(const std::string &path, SafeTensorsError &error,
       const std::vector<DType> &accepted = {});

  /// Validates `size` bytes at `bytes`, which must outlive the result;
  /// `name` starts every message.
  static std::unique_ptr<SafeTensorsFile>
  parse(const std::string &name, const uint8_t *bytes, size_t size,
        SafeTensorsError &error, const std::vector<DType> &accepted = {});

  SafeTensorsFile(const SafeTensorsFile &) = delete;
  SafeTensorsFile &operator=(const SafeTensorsFile &) = delete;
  ~SafeTensorsFile();

  /// The tensor of that name, or null.
  const TensorInfo *find(const std::string &name) const;
  /// Every tensor, in ascending order of data offset (ties by name).
  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  /// The "__metadata__" entries (empty if the header has none).
  const std::map<std::string, std::string> &metadata() const {
    return metadata_;
  }
  /// The path for open(), the given name for parse().
  const std::string &name() const { return name_; }

private:
  SafeTensorsFile() = default;

  std::string name_;
  void *mapping_ = nullptr;
  size_t mappingSize_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> byName_;
  std::map<std::string, std::string> metadata_;
};

/// A tensor to write: `data` holds shape-product * elementSize(dtype) bytes,
/// little-endian, row-major, and must outlive the write() call.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
  uint64_t bytes = 0;
};

/// Writes `tensors` to `path`: header keys "__metadata__" first (if any),
/// then the tensors sorted by name, data in that order, the header padded
/// with spaces to a multiple of 8 bytes, as the Python safetensors package
/// writes it. Writes a temporary file in the same folder and renames it over
/// `path` only on success, so a failure never leaves a partial file or
/// clobbers an existing one. Duplicate names, the name "__metadata__",
/// negative dimensions, a data size that does not match the shape, and names
/// or metadata that are not UTF-8 are errors. Returns false and sets `error`
/// (starting with `path`) on failure.
bool writeSafeTensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors,
                      const std::map<std::string, std::string> &metadata,
                      std::string &error);

/// "[2, 3]": a shape as messages print it.
std::string formatShape(const std::vector<int64_t> &shape);

} // namespace moe::support

#endif // MOE_SUPPORT_SAFETENSORS_H
