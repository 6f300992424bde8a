// Minimal safetensors reader/writer for the GPU benchmark harness.
// Only what the harness needs: BF16, F32 and I32 tensors. The reader maps the
// file and checks every header entry against the file before handing out a
// pointer; the writer streams tensors from host memory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moebench {

enum class DType { BF16, F16, F32, I32 };
size_t dtypeSize(DType d);
const char *dtypeName(DType d);

struct TensorView {
  DType dtype;
  std::vector<int64_t> shape;
  const void *data = nullptr; // into the mapped file
  size_t bytes = 0;
  int64_t numel() const;
};

class SafetensorsFile {
public:
  // Throws std::runtime_error with the path and the reason on any defect.
  explicit SafetensorsFile(const std::string &path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  bool has(const std::string &name) const { return tensors_.count(name) != 0; }
  // Throws if absent, or if `dtype`/`shape` are given and differ.
  const TensorView &get(const std::string &name) const;
  const TensorView &get(const std::string &name, DType dtype,
                        const std::vector<int64_t> &shape) const;
  const std::string &path() const { return path_; }

private:
  std::string path_;
  void *map_ = nullptr;
  size_t mapSize_ = 0;
  std::map<std::string, TensorView> tensors_;
};

struct TensorOut {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data; // host memory, numel * dtypeSize bytes
};
// Writes `tensors` to `path` (throws on I/O failure).
void writeSafetensors(const std::string &path,
                      const std::vector<TensorOut> &tensors);

// Round-to-nearest-even float -> bf16 bits, and back.
uint16_t floatToBf16(float f);
float bf16ToFloat(uint16_t b);

} // namespace moebench
