// See safetensors_io.h.
#include "safetensors_io.h"

#include <stdexcept>

namespace moebench {

namespace support = moe::support;

SafetensorsFile::SafetensorsFile(const std::string &path) {
  support::SafeTensorsError error;
  file_ = support::SafeTensorsFile::open(path, error);
  if (!file_)
    throw std::runtime_error(error.message);
}

const TensorInfo &SafetensorsFile::get(const std::string &name) const {
  const TensorInfo *tensor = file_->find(name);
  if (!tensor)
    throw std::runtime_error(path() + ": no tensor '" + name + "'");
  return *tensor;
}

const TensorInfo &
SafetensorsFile::get(const std::string &name, DType dtype,
                     const std::vector<int64_t> &shape) const {
  const TensorInfo &t = get(name);
  if (t.dtype != dtype || t.shape != shape)
    throw std::runtime_error(path() + ": tensor '" + name + "' is " +
                             std::string(support::safeTensorsName(t.dtype)) +
                             support::formatShape(t.shape) + ", expected " +
                             std::string(support::safeTensorsName(dtype)) +
                             support::formatShape(shape));
  return t;
}

void writeSafetensors(const std::string &path,
                      const std::vector<TensorOut> &tensors) {
  std::vector<support::TensorToWrite> out;
  for (const TensorOut &t : tensors) {
    uint64_t elements = 1;
    for (int64_t d : t.shape)
      elements *= static_cast<uint64_t>(d);
    out.push_back({t.name, t.dtype, t.shape, t.data,
                   elements * support::elementSize(t.dtype)});
  }
  std::string error;
  if (!support::writeSafeTensors(
          path, out, {{"format", "pt"}, {"writer", "moe_gpu_bench"}}, error))
    throw std::runtime_error(error);
}

} // namespace moebench
