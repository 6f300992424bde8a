//===- SafeTensors.cpp - Reading and writing safetensors files ------------===//

#include "moe-support/SafeTensors.h"
#include "moe-support/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <optional>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace moe::support {

using Json = nlohmann::json;

namespace {

/// The element count of `shape`, or nullopt when the running product leaves
/// int64_t. Like the reference implementation, a later zero dimension does
/// not excuse an earlier overflow.
std::optional<int64_t> checkedNumElements(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    if (__builtin_mul_overflow(count, dim, &count))
      return std::nullopt;
  return count;
}

/// The byte size of `count` elements of `dtype`, or nullopt on overflow.
std::optional<int64_t> checkedByteSize(int64_t count, DType dtype) {
  int64_t bytes;
  if (__builtin_mul_overflow(count, int64_t(elementSize(dtype)), &bytes))
    return std::nullopt;
  return bytes;
}

/// True if `text` is well-formed UTF-8 (no overlong forms, surrogates or
/// code points above U+10FFFF).
bool isUtf8(const std::string &text) {
  const auto *p = reinterpret_cast<const unsigned char *>(text.data());
  const auto *end = p + text.size();
  while (p < end) {
    unsigned c = *p;
    int extra;
    uint32_t min;
    if (c < 0x80) {
      ++p;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, min = 0x80, c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, min = 0x800, c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, min = 0x10000, c &= 0x07;
    } else {
      return false;
    }
    if (end - p <= extra)
      return false;
    uint32_t code = c;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xc0) != 0x80)
        return false;
      code = (code << 6) | (p[i] & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
      return false;
    p += extra + 1;
  }
  return true;
}

/// Reads a JSON integer that must be >= 0 and fit in int64_t.
std::optional<int64_t> nonNegativeInt(const Json &value) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v > uint64_t(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return int64_t(v);
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0)
      return std::nullopt;
    return v;
  }
  return std::nullopt;
}

/// "F32, F16, BF16": what a message about a dtype offers instead.
std::string dtypeList(const std::vector<DType> &accepted) {
  std::string list;
  for (DType dtype : accepted)
    list += (list.empty() ? "" : ", ") + std::string(safeTensorsName(dtype));
  return list;
}

/// A validated header entry, before the views are built.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  int64_t elements;
  uint64_t begin, end;
};

/// Builds messages that start with the file name, as the rest of the
/// project's diagnostics do.
struct Reporter {
  const std::string &file;
  SafeTensorsError &error;

  bool fail(const std::string &message) {
    error.kind = SafeTensorsError::Format;
    error.message = file + ": " + message;
    return false;
  }
  bool failTensor(const std::string &tensor, const std::string &message) {
    return fail("tensor '" + tensor + "': " + message);
  }
};

/// Validates one tensor entry of the header against a data block of
/// `dataSize` bytes.
bool readEntry(Reporter &report, const std::string &name, const Json &value,
               uint64_t dataSize, const std::vector<DType> &accepted,
               Entry &entry) {
  if (!value.is_object())
    return report.failTensor(name, "entry is not a JSON object");
  entry.name = name;
  std::string supported = " (supported: " + dtypeList(accepted) + ")";

  auto dtypeIt = value.find("dtype");
  if (dtypeIt == value.end())
    return report.failTensor(name, "missing dtype" + supported);
  if (!dtypeIt->is_string())
    return report.failTensor(name, "dtype is not a string" + supported);
  const std::string &dtypeText = dtypeIt->get_ref<const std::string &>();
  std::optional<DType> dtype = parseSafeTensorsName(dtypeText);
  if (!dtype ||
      std::find(accepted.begin(), accepted.end(), *dtype) == accepted.end())
    return report.failTensor(name, "unsupported dtype '" + dtypeText + "'" +
                                       supported);
  entry.dtype = *dtype;

  auto shapeIt = value.find("shape");
  if (shapeIt == value.end())
    return report.failTensor(name, "missing shape");
  if (!shapeIt->is_array())
    return report.failTensor(name,
                             "shape is not an array of non-negative integers");
  for (const Json &dim : *shapeIt) {
    std::optional<int64_t> size = nonNegativeInt(dim);
    if (!size)
      return report.failTensor(
          name, "shape is not an array of non-negative integers");
    entry.shape.push_back(*size);
  }
  std::optional<int64_t> count = checkedNumElements(entry.shape);
  std::optional<int64_t> byteSize =
      count ? checkedByteSize(*count, entry.dtype) : std::nullopt;
  if (!byteSize)
    return report.failTensor(name, "shape " + formatShape(entry.shape) +
                                       " of " + safeTensorsName(entry.dtype) +
                                       " has a byte size that overflows 64 "
                                       "bits");
  entry.elements = *count;

  auto offsetsIt = value.find("data_offsets");
  if (offsetsIt == value.end())
    return report.failTensor(name, "missing data_offsets");
  std::optional<int64_t> begin, end;
  if (offsetsIt->is_array() && offsetsIt->size() == 2) {
    begin = nonNegativeInt((*offsetsIt)[0]);
    end = nonNegativeInt((*offsetsIt)[1]);
  }
  if (!begin || !end)
    return report.failTensor(name,
                             "data_offsets is not two non-negative integers");
  entry.begin = uint64_t(*begin);
  entry.end = uint64_t(*end);
  std::string offsetsText = "data_offsets [" + std::to_string(entry.begin) +
                            ", " + std::to_string(entry.end) + "]";
  if (entry.begin > entry.end)
    return report.failTensor(name, offsetsText + " begin after their end");
  if (entry.end > dataSize)
    return report.failTensor(name, offsetsText +
                                       " end beyond the data block of " +
                                       std::to_string(dataSize) + " bytes");
  uint64_t held = entry.end - entry.begin;
  if (held != uint64_t(*byteSize))
    return report.failTensor(
        name, offsetsText + " hold " + std::to_string(held) +
                  " bytes but shape " + formatShape(entry.shape) + " of " +
                  safeTensorsName(entry.dtype) + " needs " +
                  std::to_string(*byteSize));
  return true;
}

/// Every dtype, for a caller that accepts them all.
const std::vector<DType> &allDTypes() {
  static const std::vector<DType> all = [] {
    std::vector<DType> types;
    for (int i = 0; i <= int(DType::Bool); ++i)
      types.push_back(DType(i));
    return types;
  }();
  return all;
}

} // namespace

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

SafeTensorsFile::~SafeTensorsFile() {
  if (mapping_)
    munmap(mapping_, mappingSize_);
}

const TensorInfo *SafeTensorsFile::find(const std::string &name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : &tensors_[it->second];
}

namespace {
char faultMessage[256];
size_t faultMessageLength = 0;

extern "C" void onMappedFileFault(int) {
  // Only async-signal-safe calls.
  ssize_t written = ::write(2, faultMessage, faultMessageLength);
  (void)written;
  ::_exit(1);
}
} // namespace

void SafeTensorsFile::exitOnMappedFileFault(const char *tool) {
  int n = std::snprintf(faultMessage, sizeof(faultMessage),
                        "%s: error: a mapped file (weights or input) changed "
                        "size while it was read\n",
                        tool);
  faultMessageLength =
      n < 0 ? 0 : std::min(size_t(n), sizeof(faultMessage) - 1);
  struct sigaction action = {};
  action.sa_handler = onMappedFileFault;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, nullptr);
}

std::unique_ptr<SafeTensorsFile>
SafeTensorsFile::open(const std::string &path, SafeTensorsError &error,
                      const std::vector<DType> &accepted) {
  auto ioError = [&](const std::string &what) {
    error.kind = SafeTensorsError::Io;
    error.message = path + ": " + what;
    return nullptr;
  };
  // O_NONBLOCK: opening a FIFO would wait for a writer; fstat refuses it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return ioError(std::string("cannot open: ") + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return ioError("cannot open: not a regular file");
  }
  size_t size = size_t(info.st_size);
  void *mapping = nullptr;
  if (size > 0) {
    mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      int saved = errno;
      ::close(fd);
      return ioError(std::string("cannot map: ") + std::strerror(saved));
    }
  }
  ::close(fd);
  static const uint8_t kEmpty = 0;
  std::unique_ptr<SafeTensorsFile> file =
      parse(path, mapping ? static_cast<const uint8_t *>(mapping) : &kEmpty,
            size, error, accepted);
  if (!file) {
    if (mapping)
      munmap(mapping, size);
    return nullptr;
  }
  file->mapping_ = mapping;
  file->mappingSize_ = size;
  return file;
}

std::unique_ptr<SafeTensorsFile>
SafeTensorsFile::parse(const std::string &name, const uint8_t *bytes,
                       size_t size, SafeTensorsError &error,
                       const std::vector<DType> &acceptedOrEmpty) {
  const std::vector<DType> &accepted =
      acceptedOrEmpty.empty() ? allDTypes() : acceptedOrEmpty;
  Reporter report{name, error};
  auto refuse = [&](const std::string &message) {
    report.fail(message);
    return std::unique_ptr<SafeTensorsFile>();
  };
  if (size < 8)
    return refuse("file is " + std::to_string(size) +
                  " bytes, too short for the 8-byte header length");
  uint64_t headerSize;
  std::memcpy(&headerSize, bytes, 8); // little-endian (see DType.cpp)
  if (headerSize > kMaxHeaderBytes)
    return refuse("header length " + std::to_string(headerSize) +
                  " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                  " bytes");
  if (headerSize > size - 8)
    return refuse("header length " + std::to_string(headerSize) +
                  " runs past the end of the file (" + std::to_string(size) +
                  " bytes)");
  const char *header = reinterpret_cast<const char *>(bytes + 8);
  const uint8_t *data = bytes + 8 + headerSize;
  uint64_t dataSize = size - 8 - headerSize;

  JsonParseResult parsed =
      parseJson(header, header + headerSize, kMaxHeaderDepth,
                /*rejectDuplicateKeys=*/true);
  if (parsed.nulByte)
    return refuse("header is not valid JSON: NUL byte at offset " +
                  std::to_string(*parsed.nulByte) + " of the header");
  if (parsed.tooDeep)
    return refuse("header nests objects and arrays deeper than " +
                  std::to_string(kMaxHeaderDepth) + " levels");
  // Two tensors of one name: which one other readers keep is anyone's guess.
  if (parsed.duplicateKey)
    return refuse("header has the key '" + *parsed.duplicateKey + "' twice");
  if (parsed.errorPosition)
    return refuse("header is not valid JSON: " + parsed.errorMessage);
  if (!parsed.value.is_object())
    return refuse("header is not a JSON object");

  std::unique_ptr<SafeTensorsFile> file(new SafeTensorsFile());
  file->name_ = name;
  std::vector<Entry> entries;
  for (auto it = parsed.value.begin(); it != parsed.value.end(); ++it) {
    const std::string &key = it.key();
    if (key == "__metadata__") {
      if (!it->is_object())
        return refuse("__metadata__ is not a JSON object");
      for (auto meta = it->begin(); meta != it->end(); ++meta) {
        if (!meta->is_string())
          return refuse("__metadata__ value of '" + meta.key() +
                        "' is not a string");
        file->metadata_[meta.key()] = meta->get_ref<const std::string &>();
      }
      continue;
    }
    Entry entry;
    if (!readEntry(report, key, *it, dataSize, accepted, entry))
      return nullptr;
    entries.push_back(std::move(entry));
  }

  std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  // With the ranges sorted by start, a range overlaps an earlier one exactly
  // when it starts before the furthest end seen so far. Empty ranges hold no
  // bytes and so overlap nothing.
  const Entry *furthest = nullptr;
  for (const Entry &entry : entries) {
    if (entry.begin == entry.end)
      continue;
    if (furthest && entry.begin < furthest->end)
      return refuse("tensors '" + furthest->name + "' (data_offsets [" +
                    std::to_string(furthest->begin) + ", " +
                    std::to_string(furthest->end) + "]) and '" + entry.name +
                    "' (data_offsets [" + std::to_string(entry.begin) + ", " +
                    std::to_string(entry.end) + "]) overlap");
    if (!furthest || entry.end > furthest->end)
      furthest = &entry;
  }

  file->tensors_.reserve(entries.size());
  for (Entry &entry : entries) {
    TensorInfo tensor;
    tensor.name = std::move(entry.name);
    tensor.dtype = entry.dtype;
    tensor.shape = std::move(entry.shape);
    tensor.elements = entry.elements;
    tensor.data = data + entry.begin;
    tensor.bytes = entry.end - entry.begin;
    file->byName_[tensor.name] = file->tensors_.size();
    file->tensors_.push_back(std::move(tensor));
  }
  return file;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

namespace {

/// A JSON string literal for `text`, which must be valid UTF-8. The replace
/// handler only guards against nlohmann aborting (it throws, and exceptions
/// are off); validation happened earlier.
std::string jsonString(const std::string &text) {
  return Json(text).dump(-1, ' ', /*ensure_ascii=*/false,
                         Json::error_handler_t::replace);
}

/// Checks the tensors and builds the padded header, in the layout the Python
/// package writes (compact JSON, "__metadata__" first, then each entry's
/// dtype, shape and data_offsets). Sets `order` to the tensors in file order.
bool buildHeader(const std::string &file,
                 const std::vector<TensorToWrite> &tensors,
                 const std::map<std::string, std::string> &metadata,
                 std::vector<const TensorToWrite *> &order, std::string &header,
                 SafeTensorsError &status) {
  Reporter report{file, status};
  for (const TensorToWrite &tensor : tensors)
    order.push_back(&tensor);
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite *a, const TensorToWrite *b) {
              return a->name < b->name;
            });

  header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto &[key, value] : metadata) {
      if (!isUtf8(key) || !isUtf8(value))
        return report.fail("metadata entry '" + key + "' is not valid UTF-8");
      header += (first ? "" : ",") + jsonString(key) + ":" + jsonString(value);
      first = false;
    }
    header += "}";
  }

  uint64_t offset = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorToWrite &tensor = *order[i];
    const std::string &name = tensor.name;
    const char *dtypeText = safeTensorsName(tensor.dtype);
    if (i > 0 && order[i - 1]->name == name)
      return report.fail("tensor name '" + name + "' is used twice");
    if (name == "__metadata__")
      return report.failTensor(name, "name is reserved for the metadata");
    if (!isUtf8(name))
      return report.failTensor(name, "name is not valid UTF-8");
    if (std::any_of(tensor.shape.begin(), tensor.shape.end(),
                    [](int64_t dim) { return dim < 0; }))
      return report.failTensor(name, "shape " + formatShape(tensor.shape) +
                                         " has a negative dimension");
    std::optional<int64_t> count = checkedNumElements(tensor.shape);
    std::optional<int64_t> byteSize =
        count ? checkedByteSize(*count, tensor.dtype) : std::nullopt;
    if (!byteSize)
      return report.failTensor(name, "shape " + formatShape(tensor.shape) +
                                         " of " + dtypeText +
                                         " has a byte size that overflows 64 "
                                         "bits");
    if (tensor.bytes != uint64_t(*byteSize))
      return report.failTensor(
          name, std::to_string(tensor.bytes) + " bytes of data but shape " +
                    formatShape(tensor.shape) + " of " + dtypeText + " needs " +
                    std::to_string(*byteSize));

    if (header.size() > 1)
      header += ",";
    header +=
        jsonString(name) + ":{\"dtype\":\"" + dtypeText + "\",\"shape\":[";
    for (size_t d = 0; d < tensor.shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(tensor.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + tensor.bytes) + "]}";
    offset += tensor.bytes;
  }
  header += "}";
  // Spaces are JSON whitespace; padding keeps the data block 8-byte aligned
  // in the file, so mapped F32 data is aligned in practice.
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > SafeTensorsFile::kMaxHeaderBytes)
    return report.fail("header of " + std::to_string(header.size()) +
                       " bytes exceeds the limit of " +
                       std::to_string(SafeTensorsFile::kMaxHeaderBytes) +
                       " bytes");
  return true;
}

/// Writes all of `size` bytes to `fd`, retrying short writes.
bool writeAll(int fd, const void *data, uint64_t size) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    size -= uint64_t(n);
  }
  return true;
}

} // namespace

bool writeSafeTensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors,
                      const std::map<std::string, std::string> &metadata,
                      std::string &error) {
  std::vector<const TensorToWrite *> order;
  std::string header;
  SafeTensorsError status;
  if (!buildHeader(path, tensors, metadata, order, header, status)) {
    error = status.message;
    return false;
  }

  // The temporary file lives next to the target so the final rename stays on
  // one file system and is atomic.
  std::string tempPath = path + ".tmp-XXXXXX";
  int fd = mkstemp(tempPath.data());
  if (fd < 0) {
    error = path + ": cannot create a temporary file: " + std::strerror(errno);
    return false;
  }
  uint64_t length = header.size();
  bool ok =
      writeAll(fd, &length, 8) && writeAll(fd, header.data(), header.size());
  for (const TensorToWrite *tensor : order)
    ok = ok && writeAll(fd, tensor->data, tensor->bytes);
  int writeErrno = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    writeErrno = errno;
  }
  if (!ok) {
    ::unlink(tempPath.c_str());
    error =
        path + ": cannot write " + tempPath + ": " + std::strerror(writeErrno);
    return false;
  }
  // mkstemp creates the file 0600; give it the mode a plain create would.
  mode_t mask = umask(0);
  umask(mask);
  chmod(tempPath.c_str(), 0666 & ~mask);
  if (std::rename(tempPath.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tempPath.c_str());
    error = path + ": cannot rename " + tempPath + " to " + path + ": " +
            std::strerror(saved);
    return false;
  }
  return true;
}

} // namespace moe::support
