// The GPU benchmark harness's view of safetensors files: the support
// library's reader and writer (support/, shared with the compiler and moert),
// with the harness's error style, an exception naming the path and the
// reason, since the harness reports any defect and exits.
#pragma once

#include "moe-support/SafeTensors.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moebench {

using moe::support::DType;
using moe::support::TensorInfo;

class SafetensorsFile {
public:
  // Maps and validates the file; throws std::runtime_error on any defect.
  explicit SafetensorsFile(const std::string &path);

  bool has(const std::string &name) const { return file_->find(name); }
  // Throws if absent, or if `dtype`/`shape` are given and differ.
  const TensorInfo &get(const std::string &name) const;
  const TensorInfo &get(const std::string &name, DType dtype,
                        const std::vector<int64_t> &shape) const;
  const std::string &path() const { return file_->name(); }

private:
  std::unique_ptr<moe::support::SafeTensorsFile> file_;
};

struct TensorOut {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data; // host memory, elements * elementSize(dtype) bytes
};
// Writes `tensors` to `path` (throws on failure).
void writeSafetensors(const std::string &path,
                      const std::vector<TensorOut> &tensors);

} // namespace moebench
