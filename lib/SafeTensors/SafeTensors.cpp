//===- SafeTensors.cpp - safetensors files for LLVM-style code ------------===//

#include "moe/SafeTensors/SafeTensors.h"

using namespace llvm;
using namespace moe::safetensors;
namespace support = ::moe::support;

const std::vector<DType> &moe::safetensors::checkpointTypes() {
  static const std::vector<DType> types = {DType::F32,    DType::F16,
                                           DType::BF16,   DType::F8E4M3,
                                           DType::F8E8M0, DType::U8};
  return types;
}

int64_t TensorView::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

float TensorView::element(int64_t i) const {
  assert(i >= 0 &&
         static_cast<uint64_t>(i) < bytes.size() / elementSize(dtype) &&
         "element index out of range");
  return support::loadAsFloat(dtype, bytes.data(), static_cast<size_t>(i));
}

std::vector<float> TensorView::toFloats() const {
  // Sized from the bytes rather than the shape: they agree for every view the
  // reader hands out, and this can never read past them.
  int64_t count = static_cast<int64_t>(bytes.size() / elementSize(dtype));
  std::vector<float> values;
  values.reserve(count);
  for (int64_t i = 0; i < count; ++i)
    values.push_back(element(i));
  return values;
}

static Error toError(const support::SafeTensorsError &error) {
  return createStringError(inconvertibleErrorCode(), "%s",
                           error.message.c_str());
}

File File::wrap(std::unique_ptr<support::SafeTensorsFile> file,
                std::unique_ptr<MemoryBuffer> buffer) {
  File result;
  for (const support::TensorInfo &tensor : file->tensors())
    result.views.push_back(
        TensorView{tensor.name, tensor.dtype, tensor.shape,
                   ArrayRef<uint8_t>(tensor.data, tensor.bytes)});
  result.file = std::move(file);
  result.buffer = std::move(buffer);
  return result;
}

Expected<File> File::open(StringRef path) {
  support::SafeTensorsError error;
  std::unique_ptr<support::SafeTensorsFile> file =
      support::SafeTensorsFile::open(path.str(), error, checkpointTypes());
  if (!file)
    return toError(error);
  return wrap(std::move(file), nullptr);
}

Expected<File> File::parse(std::unique_ptr<MemoryBuffer> buffer) {
  if (!buffer)
    return createStringError(inconvertibleErrorCode(),
                             "<null>: no buffer to parse");
  support::SafeTensorsError error;
  std::unique_ptr<support::SafeTensorsFile> file =
      support::SafeTensorsFile::parse(
          buffer->getBufferIdentifier().str(),
          reinterpret_cast<const uint8_t *>(buffer->getBufferStart()),
          buffer->getBufferSize(), error, checkpointTypes());
  if (!file)
    return toError(error);
  return wrap(std::move(file), std::move(buffer));
}

const TensorView *File::find(StringRef name) const {
  const support::TensorInfo *tensor = file->find(name.str());
  if (!tensor)
    return nullptr;
  // views[i] mirrors file->tensors()[i].
  return &views[tensor - file->tensors().data()];
}

OwnedTensor moe::safetensors::makeTensor(std::string name, DType dtype,
                                         std::vector<int64_t> shape,
                                         ArrayRef<float> values) {
  OwnedTensor tensor{std::move(name), dtype, std::move(shape), {}};
  tensor.data.resize(values.size() * elementSize(dtype));
  for (size_t i = 0; i < values.size(); ++i)
    support::storeFromFloat(dtype, tensor.data.data(), i, values[i]);
  return tensor;
}

Error moe::safetensors::write(
    StringRef path, ArrayRef<OwnedTensor> tensors,
    const std::map<std::string, std::string> &metadata) {
  std::vector<support::TensorToWrite> toWrite;
  for (const OwnedTensor &tensor : tensors)
    toWrite.push_back({tensor.name, tensor.dtype, tensor.shape,
                       tensor.data.data(), tensor.data.size()});
  std::string message;
  if (!support::writeSafeTensors(path.str(), toWrite, metadata, message))
    return createStringError(inconvertibleErrorCode(), "%s", message.c_str());
  return Error::success();
}
