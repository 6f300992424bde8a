//===- SafeTensorsFile.h - A memory-mapped safetensors file -----*- C++ -*-===//
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
// tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (plus an
// optional "__metadata__"), then the data that the offsets (relative to its
// start) point into. open() validates every entry (known dtype, size equal
// to the shape's, offsets in bounds and not overlapping) before handing out
// views, so a truncated or lying file is an error, never a bad read.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_SAFETENSORSFILE_H
#define MOERT_SAFETENSORSFILE_H

#include "Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moert {

class SafeTensorsFile {
public:
  /// The largest header accepted (the format's own limit is 100 MB).
  static constexpr uint64_t kMaxHeaderBytes = 100 << 20;

  struct Tensor {
    std::string name;
    std::string dtype; ///< As in the file: "F32", "BF16", "I64", ...
    size_t elementSize = 0;
    std::vector<int64_t> shape;
    int64_t elements = 0;
    /// Into the mapping; not necessarily aligned for the element type.
    const unsigned char *data = nullptr;
    uint64_t bytes = 0;
  };

  /// Maps and validates the file: MOERT_ERROR_IO if it cannot be opened,
  /// MOERT_ERROR_WEIGHTS if its contents are malformed.
  static Error open(const std::string &path,
                    std::unique_ptr<SafeTensorsFile> &out);

  SafeTensorsFile(const SafeTensorsFile &) = delete;
  SafeTensorsFile &operator=(const SafeTensorsFile &) = delete;
  ~SafeTensorsFile();

  /// The tensor of that name, or null.
  const Tensor *find(const std::string &name) const;
  const std::vector<Tensor> &tensors() const { return tensors_; }
  const std::string &path() const { return path_; }

private:
  SafeTensorsFile() = default;

  std::string path_;
  void *mapping_ = nullptr;
  size_t mappingSize_ = 0;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t> byName_;
};

} // namespace moert

#endif // MOERT_SAFETENSORSFILE_H
