//===- SafeTensorsFile.cpp - A memory-mapped safetensors file -------------===//

#include "SafeTensorsFile.h"
#include "Json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace moert {

namespace {

/// Element sizes of the dtypes the format defines; the packer reads only
/// F32, F16 and BF16 but a file may hold others (ids, quantized blocks).
size_t safeTensorsElementSize(const std::string &dtype) {
  static const struct {
    const char *name;
    size_t size;
  } table[] = {{"F64", 8},  {"F32", 4},     {"F16", 2},    {"BF16", 2},
               {"I64", 8},  {"I32", 4},     {"I16", 2},    {"I8", 1},
               {"U64", 8},  {"U32", 4},     {"U16", 2},    {"U8", 1},
               {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (const auto &entry : table)
    if (dtype == entry.name)
      return entry.size;
  return 0;
}

} // namespace

SafeTensorsFile::~SafeTensorsFile() {
  if (mapping_)
    munmap(mapping_, mappingSize_);
}

const SafeTensorsFile::Tensor *
SafeTensorsFile::find(const std::string &name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : &tensors_[it->second];
}

Error SafeTensorsFile::open(const std::string &path,
                            std::unique_ptr<SafeTensorsFile> &out) {
  auto bad = [&](const std::string &message) {
    return Error(MOERT_ERROR_WEIGHTS, path + ": " + message);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return makeError(MOERT_ERROR_IO, "cannot open '", path,
                     "': ", std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return makeError(MOERT_ERROR_IO, "'", path, "' is not a regular file");
  }
  uint64_t fileSize = uint64_t(info.st_size);
  if (fileSize < 8) {
    ::close(fd);
    return bad(str("truncated: ", fileSize,
                   " bytes, less than the 8-byte header length"));
  }
  void *mapping = mmap(nullptr, fileSize, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping == MAP_FAILED)
    return makeError(MOERT_ERROR_IO, "cannot map '", path,
                     "': ", std::strerror(errno));
  std::unique_ptr<SafeTensorsFile> file(new SafeTensorsFile());
  file->path_ = path;
  file->mapping_ = mapping;
  file->mappingSize_ = fileSize;
  const unsigned char *bytes = static_cast<const unsigned char *>(mapping);

  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | bytes[i];
  if (headerSize > fileSize - 8)
    return bad(str("header length ", headerSize, " exceeds the ", fileSize - 8,
                   " bytes after it"));
  if (headerSize > kMaxHeaderBytes)
    return bad(str("header length ", headerSize, " exceeds the limit of ",
                   kMaxHeaderBytes));
  const unsigned char *data = bytes + 8 + headerSize;
  uint64_t dataSize = fileSize - 8 - headerSize;

  json header;
  std::string message;
  if (!parseJson(
          std::string(reinterpret_cast<const char *>(bytes + 8), headerSize),
          header, message))
    return bad("header: " + message);
  if (!header.is_object())
    return bad("header: expected an object, got " + jsonTypeName(header));

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    if (name == "__metadata__")
      continue;
    auto badTensor = [&](const std::string &message) {
      return bad("tensor '" + name + "': " + message);
    };
    const json &entry = it.value();
    if (!entry.is_object())
      return badTensor("expected an object");
    Tensor tensor;
    tensor.name = name;
    auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string())
      return badTensor("missing or non-string 'dtype'");
    tensor.dtype = dtype->get<std::string>();
    tensor.elementSize = safeTensorsElementSize(tensor.dtype);
    if (tensor.elementSize == 0)
      return badTensor("unknown dtype '" + tensor.dtype + "'");

    auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array() || shape->size() > 16)
      return badTensor("missing 'shape', or not an array of at most 16 "
                       "dimensions");
    int64_t elements = 1;
    for (const json &dim : *shape) {
      if (!dim.is_number_unsigned() ||
          dim.get<uint64_t>() > uint64_t(INT64_MAX))
        return badTensor("shape entries must be non-negative integers");
      int64_t d = dim.get<int64_t>();
      if (__builtin_mul_overflow(elements, d, &elements))
        return badTensor("the shape's element count overflows");
      tensor.shape.push_back(d);
    }
    tensor.elements = elements;

    auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() ||
        offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      return badTensor("'data_offsets' must be two non-negative integers");
    uint64_t begin = (*offsets)[0].get<uint64_t>();
    uint64_t end = (*offsets)[1].get<uint64_t>();
    if (begin > end || end > dataSize)
      return badTensor(str("data_offsets [", begin, ", ", end, "] outside the ",
                           dataSize, " data bytes"));
    uint64_t expected;
    if (__builtin_mul_overflow(uint64_t(elements), tensor.elementSize,
                               &expected))
      return badTensor("the shape's byte size overflows 64 bits");
    if (expected != end - begin)
      return badTensor(str("data_offsets span ", end - begin,
                           " bytes but the shape and dtype need ", expected));
    tensor.data = data + begin;
    tensor.bytes = end - begin;
    file->tensors_.push_back(std::move(tensor));
  }

  // No two tensors may share bytes (empty tensors share nothing).
  std::vector<const Tensor *> sorted;
  for (const Tensor &t : file->tensors_)
    if (t.bytes > 0)
      sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const Tensor *a, const Tensor *b) { return a->data < b->data; });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i]->data < sorted[i - 1]->data + sorted[i - 1]->bytes)
      return bad("tensors '" + sorted[i - 1]->name + "' and '" +
                 sorted[i]->name + "' overlap");

  for (size_t i = 0; i < file->tensors_.size(); ++i)
    file->byName_.emplace(file->tensors_[i].name, i);
  out = std::move(file);
  return Error::success();
}

} // namespace moert
