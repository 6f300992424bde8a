//===- SafeTensors.cpp - Hugging Face safetensors files -------------------===//

#include "moe/SafeTensors/SafeTensors.h"
#include "moe/Support/JsonParser.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

using namespace llvm;
using namespace moe::safetensors;

using Json = nlohmann::json;

//===----------------------------------------------------------------------===//
// Element types and conversions
//===----------------------------------------------------------------------===//

size_t moe::safetensors::elementSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  }
  llvm_unreachable("unknown DType");
}

StringRef moe::safetensors::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  }
  llvm_unreachable("unknown DType");
}

std::optional<DType> moe::safetensors::parseDType(StringRef name) {
  if (name == "F32")
    return DType::F32;
  if (name == "F16")
    return DType::F16;
  if (name == "BF16")
    return DType::BF16;
  return std::nullopt;
}

/// Listed in every message about a dtype, so the reader knows what to convert
/// the checkpoint to.
static constexpr const char *kSupportedDTypes = "F32, F16, BF16";

static uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

static float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

float moe::safetensors::bf16ToFloat(uint16_t bits) {
  // bfloat16 is the upper half of a float, so widening is exact.
  return bitsToFloat(static_cast<uint32_t>(bits) << 16);
}

uint16_t moe::safetensors::floatToBf16(float value) {
  uint32_t bits = floatBits(value);
  // Truncating a NaN whose payload lives only in the low half would give an
  // infinity; setting the quiet bit keeps it a NaN (and keeps its sign).
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  // Round to nearest even on the 16 dropped bits. A carry out of the
  // mantissa correctly bumps the exponent, and one out of the largest finite
  // exponent gives infinity.
  uint32_t roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + roundingBias) >> 16);
}

float moe::safetensors::f16ToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1F) // Infinity or NaN; the payload moves up unchanged.
    return bitsToFloat(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return bitsToFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

uint16_t moe::safetensors::floatToF16(float value) {
  uint32_t bits = floatBits(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7FFFFFFFu;

  if (magnitude > 0x7F800000u) // NaN: keep the top of the payload, quiet.
    return sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu);
  // 65520 is halfway between 65504 (the largest half, odd mantissa) and the
  // next power of two, so it and everything above rounds to infinity.
  if (magnitude >= 0x477FF000u)
    return sign | 0x7C00u;

  if (magnitude >= 0x38800000u) {
    // Normal half (>= 2^-14): rebias the exponent, round off 13 bits.
    uint32_t half =
        ((magnitude >> 23) - 127 + 15) << 10 | ((magnitude >> 13) & 0x3FFu);
    uint32_t dropped = magnitude & 0x1FFFu;
    if (dropped > 0x1000u || (dropped == 0x1000u && (half & 1u)))
      ++half; // A carry into the exponent is the correct result.
    return sign | static_cast<uint16_t>(half);
  }

  // Subnormal half: the result is round(value / 2^-24). At most 2^-25 (a tie
  // that goes to the even 0) everything rounds to zero; this also covers
  // float zeros and subnormals, which have no implicit bit.
  if (magnitude <= 0x33000000u)
    return sign;
  // value = fullMantissa * 2^(exponent - 150), so value / 2^-24 is
  // fullMantissa >> (126 - exponent); the shift is between 14 and 24 here.
  uint32_t exponent = magnitude >> 23;
  uint32_t fullMantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
  unsigned shift = 126 - exponent;
  uint32_t result = fullMantissa >> shift;
  uint32_t dropped = fullMantissa & ((1u << shift) - 1);
  uint32_t halfway = 1u << (shift - 1);
  if (dropped > halfway || (dropped == halfway && (result & 1u)))
    ++result; // 1024 is the smallest normal half, also correct.
  return sign | static_cast<uint16_t>(result);
}

float moe::safetensors::roundTo(DType dtype, float value) {
  switch (dtype) {
  case DType::F32:
    return value;
  case DType::F16:
    return f16ToFloat(floatToF16(value));
  case DType::BF16:
    return bf16ToFloat(floatToBf16(value));
  }
  llvm_unreachable("unknown DType");
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// The element count of `shape`, or nullopt when the running product leaves
/// int64_t. Like the reference implementation, a later zero dimension does
/// not excuse an earlier overflow.
static std::optional<int64_t> checkedNumElements(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    if (__builtin_mul_overflow(count, dim, &count))
      return std::nullopt;
  return count;
}

/// The byte size of `count` elements of `dtype`, or nullopt on overflow.
static std::optional<int64_t> checkedByteSize(int64_t count, DType dtype) {
  int64_t bytes;
  if (__builtin_mul_overflow(count, static_cast<int64_t>(elementSize(dtype)),
                             &bytes))
    return std::nullopt;
  return bytes;
}

static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::raw_string_ostream os(text);
  llvm::interleave(shape, os, ", ");
  os << "]";
  return text;
}

static bool isUtf8(StringRef text) {
  const auto *begin = reinterpret_cast<const llvm::UTF8 *>(text.begin());
  const auto *end = reinterpret_cast<const llvm::UTF8 *>(text.end());
  return llvm::isLegalUTF8String(&begin, end);
}

/// Builds an error whose message starts with the file name, as the rest of
/// the project's diagnostics do.
static Error fileError(StringRef file, const Twine &message) {
  return createStringError(inconvertibleErrorCode(), "%s",
                           (file + ": " + message).str().c_str());
}

static Error tensorError(StringRef file, StringRef tensor,
                         const Twine &message) {
  return fileError(file, "tensor '" + tensor + "': " + message);
}

//===----------------------------------------------------------------------===//
// TensorView
//===----------------------------------------------------------------------===//

int64_t TensorView::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

/// Reads a little-endian T at `data`. memcpy because tensors in a
/// safetensors file need not be aligned for their element type.
template <typename T> static T readLittleEndian(const uint8_t *data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return llvm::support::endian::byte_swap(value, llvm::endianness::little);
}

float TensorView::element(int64_t i) const {
  size_t size = elementSize(dtype);
  assert(i >= 0 && static_cast<uint64_t>(i) < bytes.size() / size &&
         "element index out of range");
  const uint8_t *data = bytes.data() + static_cast<size_t>(i) * size;
  switch (dtype) {
  case DType::F32:
    return bitsToFloat(readLittleEndian<uint32_t>(data));
  case DType::F16:
    return f16ToFloat(readLittleEndian<uint16_t>(data));
  case DType::BF16:
    return bf16ToFloat(readLittleEndian<uint16_t>(data));
  }
  llvm_unreachable("unknown DType");
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

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

/// Real headers are a few KiB to a few MiB (one entry per tensor); the
/// reference implementation refuses more than 100 MB as well.
static constexpr uint64_t kMaxHeaderSize = 100u << 20;

/// A header is an object of objects of arrays; anything deeper is hostile.
static constexpr unsigned kMaxHeaderDepth = 16;

/// Reads a JSON integer that must be >= 0 and fit in int64_t.
static std::optional<int64_t> nonNegativeInt(const Json &value) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0)
      return std::nullopt;
    return v;
  }
  return std::nullopt;
}

namespace {
/// A validated header entry, before the views are built.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};
} // namespace

/// Validates one tensor entry of the header against a data block of
/// `dataSize` bytes.
static Expected<Entry> readEntry(StringRef file, const std::string &name,
                                 const Json &value, uint64_t dataSize) {
  if (!value.is_object())
    return tensorError(file, name, "entry is not a JSON object");
  Entry entry;
  entry.name = name;

  auto dtypeIt = value.find("dtype");
  if (dtypeIt == value.end())
    return tensorError(file, name,
                       Twine("missing dtype (supported: ") + kSupportedDTypes +
                           ")");
  if (!dtypeIt->is_string())
    return tensorError(file, name,
                       Twine("dtype is not a string (supported: ") +
                           kSupportedDTypes + ")");
  const std::string &dtypeText = dtypeIt->get_ref<const std::string &>();
  std::optional<DType> dtype = parseDType(dtypeText);
  if (!dtype)
    return tensorError(file, name,
                       "unsupported dtype '" + dtypeText +
                           "' (supported: " + kSupportedDTypes + ")");
  entry.dtype = *dtype;

  auto shapeIt = value.find("shape");
  if (shapeIt == value.end())
    return tensorError(file, name, "missing shape");
  if (!shapeIt->is_array())
    return tensorError(file, name,
                       "shape is not an array of non-negative integers");
  for (const Json &dim : *shapeIt) {
    std::optional<int64_t> size = nonNegativeInt(dim);
    if (!size)
      return tensorError(file, name,
                         "shape is not an array of non-negative integers");
    entry.shape.push_back(*size);
  }
  std::optional<int64_t> count = checkedNumElements(entry.shape);
  std::optional<int64_t> byteSize =
      count ? checkedByteSize(*count, entry.dtype) : std::nullopt;
  if (!byteSize)
    return tensorError(file, name,
                       "shape " + formatShape(entry.shape) + " of " +
                           dtypeName(entry.dtype) +
                           " has a byte size that overflows 64 bits");

  auto offsetsIt = value.find("data_offsets");
  if (offsetsIt == value.end())
    return tensorError(file, name, "missing data_offsets");
  std::optional<int64_t> begin, end;
  if (offsetsIt->is_array() && offsetsIt->size() == 2) {
    begin = nonNegativeInt((*offsetsIt)[0]);
    end = nonNegativeInt((*offsetsIt)[1]);
  }
  if (!begin || !end)
    return tensorError(file, name,
                       "data_offsets is not two non-negative integers");
  entry.begin = static_cast<uint64_t>(*begin);
  entry.end = static_cast<uint64_t>(*end);
  std::string offsetsText = "data_offsets [" + std::to_string(entry.begin) +
                            ", " + std::to_string(entry.end) + "]";
  if (entry.begin > entry.end)
    return tensorError(file, name, offsetsText + " begin after their end");
  if (entry.end > dataSize)
    return tensorError(file, name,
                       offsetsText + " end beyond the data block of " +
                           Twine(dataSize) + " bytes");
  uint64_t held = entry.end - entry.begin;
  if (held != static_cast<uint64_t>(*byteSize))
    return tensorError(file, name,
                       offsetsText + " hold " + Twine(held) +
                           " bytes but shape " + formatShape(entry.shape) +
                           " of " + dtypeName(entry.dtype) + " needs " +
                           Twine(*byteSize));
  return entry;
}

Expected<File> File::open(StringRef path) {
  // Not null-terminated, so large files are mapped rather than copied.
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createStringError(buffer.getError(), "%s: cannot open: %s",
                             path.str().c_str(),
                             buffer.getError().message().c_str());
  return parse(std::move(*buffer));
}

Expected<File> File::parse(std::unique_ptr<MemoryBuffer> buffer) {
  if (!buffer)
    return fileError("<null>", "no buffer to parse");
  StringRef file = buffer->getBufferIdentifier();
  ArrayRef<uint8_t> bytes(
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart()),
      buffer->getBufferSize());

  if (bytes.size() < 8)
    return fileError(file, "file is " + Twine(bytes.size()) +
                               " bytes, too short for the 8-byte header "
                               "length");
  uint64_t headerSize = llvm::support::endian::read64le(bytes.data());
  if (headerSize > kMaxHeaderSize)
    return fileError(file, "header length " + Twine(headerSize) +
                               " exceeds the limit of " +
                               Twine(kMaxHeaderSize) + " bytes");
  if (headerSize > bytes.size() - 8)
    return fileError(file, "header length " + Twine(headerSize) +
                               " runs past the end of the file (" +
                               Twine(bytes.size()) + " bytes)");
  ArrayRef<uint8_t> headerBytes = bytes.slice(8, headerSize);
  ArrayRef<uint8_t> data = bytes.drop_front(8 + headerSize);

  ::moe::JsonParseResult parsed = ::moe::parseJson(
      reinterpret_cast<const char *>(headerBytes.begin()),
      reinterpret_cast<const char *>(headerBytes.end()), kMaxHeaderDepth,
      /*rejectDuplicateKeys=*/true);
  if (parsed.nulByte)
    return fileError(file, "header is not valid JSON: NUL byte at offset " +
                               Twine(*parsed.nulByte) + " of the header");
  if (parsed.tooDeep)
    return fileError(file, "header nests objects and arrays deeper than " +
                               Twine(kMaxHeaderDepth) + " levels");
  // Two tensors of one name: which one other readers keep is anyone's guess.
  if (parsed.duplicateKey)
    return fileError(file,
                     "header has the key '" + *parsed.duplicateKey + "' twice");
  if (parsed.errorPosition)
    return fileError(file, "header is not valid JSON: " + parsed.errorMessage);
  Json header = std::move(parsed.value);
  if (!header.is_object())
    return fileError(file, "header is not a JSON object");

  File result;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &key = it.key();
    if (key == "__metadata__") {
      if (!it->is_object())
        return fileError(file, "__metadata__ is not a JSON object");
      for (auto meta = it->begin(); meta != it->end(); ++meta) {
        if (!meta->is_string())
          return fileError(file, "__metadata__ value of '" + meta.key() +
                                     "' is not a string");
        result.metadataEntries[meta.key()] =
            meta->get_ref<const std::string &>();
      }
      continue;
    }
    Expected<Entry> entry = readEntry(file, key, *it, data.size());
    if (!entry)
      return entry.takeError();
    entries.push_back(std::move(*entry));
  }

  llvm::sort(entries, [](const Entry &a, const Entry &b) {
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
      return fileError(file, "tensors '" + furthest->name +
                                 "' (data_offsets [" + Twine(furthest->begin) +
                                 ", " + Twine(furthest->end) + "]) and '" +
                                 entry.name + "' (data_offsets [" +
                                 Twine(entry.begin) + ", " + Twine(entry.end) +
                                 "]) overlap");
    if (!furthest || entry.end > furthest->end)
      furthest = &entry;
  }

  result.views.reserve(entries.size());
  for (Entry &entry : entries) {
    TensorView view;
    view.name = std::move(entry.name);
    view.dtype = entry.dtype;
    view.shape = std::move(entry.shape);
    view.bytes = data.slice(entry.begin, entry.end - entry.begin);
    result.indexByName[view.name] = result.views.size();
    result.views.push_back(std::move(view));
  }
  // The views point into the buffer's memory, which does not move with the
  // unique_ptr, so File stays movable.
  result.buffer = std::move(buffer);
  return std::move(result);
}

const TensorView *File::find(StringRef name) const {
  auto it = indexByName.find(name);
  return it == indexByName.end() ? nullptr : &views[it->second];
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

OwnedTensor moe::safetensors::makeTensor(std::string name, DType dtype,
                                         std::vector<int64_t> shape,
                                         ArrayRef<float> values) {
  OwnedTensor tensor{std::move(name), dtype, std::move(shape), {}};
  tensor.data.resize(values.size() * elementSize(dtype));
  uint8_t *out = tensor.data.data();
  for (float value : values) {
    switch (dtype) {
    case DType::F32:
      llvm::support::endian::write32le(out, floatBits(value));
      break;
    case DType::F16:
      llvm::support::endian::write16le(out, floatToF16(value));
      break;
    case DType::BF16:
      llvm::support::endian::write16le(out, floatToBf16(value));
      break;
    }
    out += elementSize(dtype);
  }
  return tensor;
}

/// A JSON string literal for `text`, which must be valid UTF-8. The replace
/// handler only guards against nlohmann aborting (it throws, and exceptions
/// are off); validation happened earlier.
static std::string jsonString(const std::string &text) {
  return Json(text).dump(-1, ' ', /*ensure_ascii=*/false,
                         Json::error_handler_t::replace);
}

/// Checks the tensors and builds the padded header, in the layout the Python
/// package writes (compact JSON, "__metadata__" first, then each entry's
/// dtype, shape and data_offsets). Returns the tensors in file order.
static Expected<std::string>
buildHeader(StringRef file, ArrayRef<OwnedTensor> tensors,
            const std::map<std::string, std::string> &metadata,
            std::vector<const OwnedTensor *> &order) {
  order.clear();
  for (const OwnedTensor &tensor : tensors)
    order.push_back(&tensor);
  llvm::sort(order, [](const OwnedTensor *a, const OwnedTensor *b) {
    return a->name < b->name;
  });

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto &[key, value] : metadata) {
      if (!isUtf8(key) || !isUtf8(value))
        return fileError(file,
                         "metadata entry '" + key + "' is not valid UTF-8");
      if (!first)
        header += ",";
      first = false;
      header += jsonString(key) + ":" + jsonString(value);
    }
    header += "}";
  }

  uint64_t offset = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const OwnedTensor &tensor = *order[i];
    StringRef name = tensor.name;
    if (i > 0 && order[i - 1]->name == tensor.name)
      return fileError(file, "tensor name '" + name + "' is used twice");
    if (name == "__metadata__")
      return tensorError(file, name, "name is reserved for the metadata");
    if (!isUtf8(name))
      return tensorError(file, name, "name is not valid UTF-8");
    if (llvm::any_of(tensor.shape, [](int64_t dim) { return dim < 0; }))
      return tensorError(file, name,
                         "shape " + formatShape(tensor.shape) +
                             " has a negative dimension");
    std::optional<int64_t> count = checkedNumElements(tensor.shape);
    std::optional<int64_t> byteSize =
        count ? checkedByteSize(*count, tensor.dtype) : std::nullopt;
    if (!byteSize)
      return tensorError(file, name,
                         "shape " + formatShape(tensor.shape) + " of " +
                             dtypeName(tensor.dtype) +
                             " has a byte size that overflows 64 bits");
    if (tensor.data.size() != static_cast<uint64_t>(*byteSize))
      return tensorError(
          file, name,
          Twine(tensor.data.size()) + " bytes of data but shape " +
              formatShape(tensor.shape) + " of " + dtypeName(tensor.dtype) +
              " needs " + Twine(*byteSize));

    if (header.size() > 1)
      header += ",";
    header += jsonString(tensor.name) + ":{\"dtype\":\"" +
              dtypeName(tensor.dtype).str() + "\",\"shape\":[";
    for (size_t d = 0; d < tensor.shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(tensor.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + tensor.data.size()) + "]}";
    offset += tensor.data.size();
  }
  header += "}";
  // Spaces are JSON whitespace; padding keeps the data block 8-byte aligned
  // in the file, so mapped F32 data is aligned in practice.
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kMaxHeaderSize)
    return fileError(file, "header of " + Twine(header.size()) +
                               " bytes exceeds the limit of " +
                               Twine(kMaxHeaderSize) + " bytes");
  return header;
}

Error moe::safetensors::write(
    StringRef path, ArrayRef<OwnedTensor> tensors,
    const std::map<std::string, std::string> &metadata) {
  std::vector<const OwnedTensor *> order;
  Expected<std::string> header = buildHeader(path, tensors, metadata, order);
  if (!header)
    return header.takeError();

  // The temporary file lives next to the target so the final rename stays on
  // one file system and is atomic. TempFile::keep is not used because it
  // falls back to copying over the target when the rename fails.
  SmallString<256> tempPath;
  int fd;
  if (std::error_code ec =
          sys::fs::createUniqueFile(path + ".tmp-%%%%%%%%", fd, tempPath))
    return createStringError(ec, "%s: cannot create a temporary file: %s",
                             path.str().c_str(), ec.message().c_str());
  // Removes the temporary file if the process is killed before the rename.
  sys::RemoveFileOnSignal(tempPath);
  auto failWith = [&](std::error_code ec, const Twine &what) -> Error {
    sys::fs::remove(tempPath);
    sys::DontRemoveFileOnSignal(tempPath);
    return createStringError(ec, "%s: %s: %s", path.str().c_str(),
                             what.str().c_str(), ec.message().c_str());
  };

  std::error_code writeError;
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    char length[8];
    llvm::support::endian::write64le(length, header->size());
    os.write(length, sizeof(length));
    os << *header;
    for (const OwnedTensor *tensor : order)
      os.write(reinterpret_cast<const char *>(tensor->data.data()),
               tensor->data.size());
    os.close();
    writeError = os.error();
    // raw_fd_ostream aborts in its destructor on an unhandled error.
    os.clear_error();
  }
  if (writeError)
    return failWith(writeError, "cannot write " + tempPath);

  if (std::error_code ec = sys::fs::rename(tempPath, path))
    return failWith(ec, "cannot rename " + tempPath + " to " + path);
  sys::DontRemoveFileOnSignal(tempPath);
  return Error::success();
}
