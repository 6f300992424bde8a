// See safetensors_io.h. Uses nlohmann/json for the header (the bundle carries
// it to the GPU machine, see run.sh).
#include "safetensors_io.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace moebench {

size_t dtypeSize(DType d) {
  switch (d) {
  case DType::BF16:
  case DType::F16:
    return 2;
  case DType::F32:
  case DType::I32:
    return 4;
  }
  return 0;
}

const char *dtypeName(DType d) {
  switch (d) {
  case DType::BF16:
    return "BF16";
  case DType::F16:
    return "F16";
  case DType::F32:
    return "F32";
  case DType::I32:
    return "I32";
  }
  return "?";
}

static bool parseDType(const std::string &s, DType &d) {
  if (s == "BF16")
    d = DType::BF16;
  else if (s == "F16")
    d = DType::F16;
  else if (s == "F32")
    d = DType::F32;
  else if (s == "I32")
    d = DType::I32;
  else
    return false;
  return true;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape)
    n *= s; // bounded when the file was opened
  return n;
}

static std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

SafetensorsFile::SafetensorsFile(const std::string &path) : path_(path) {
  auto fail = [&](const std::string &why) {
    throw std::runtime_error(path + ": " + why);
  };
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    fail("cannot stat");
  }
  mapSize_ = static_cast<size_t>(st.st_size);
  if (mapSize_ < 8) {
    ::close(fd);
    fail("shorter than the 8-byte header length");
  }
  map_ = mmap(nullptr, mapSize_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    fail("mmap failed");
  }

  const auto *bytes = static_cast<const unsigned char *>(map_);
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | bytes[i];
  if (headerLen > mapSize_ - 8 || headerLen > (100u << 20))
    fail("header length " + std::to_string(headerLen) + " exceeds the file");
  const size_t dataStart = 8 + headerLen;
  const size_t dataSize = mapSize_ - dataStart;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + dataStart);
  } catch (const std::exception &e) {
    fail(std::string("bad header JSON: ") + e.what());
  }
  if (!header.is_object())
    fail("header is not a JSON object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__")
      continue;
    const auto &v = it.value();
    const std::string where = "tensor '" + it.key() + "': ";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      fail(where + "needs dtype, shape and data_offsets");
    TensorView t;
    if (!v["dtype"].is_string() ||
        !parseDType(v["dtype"].get<std::string>(), t.dtype))
      fail(where + "unsupported dtype " + v["dtype"].dump());
    const auto &shape = v["shape"];
    const auto &offs = v["data_offsets"];
    if (!shape.is_array() || !offs.is_array() || offs.size() != 2 ||
        !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
      fail(where + "bad shape or data_offsets");
    uint64_t numel = 1;
    for (const auto &d : shape) {
      if (!d.is_number_unsigned())
        fail(where + "bad dimension " + d.dump());
      uint64_t x = d.get<uint64_t>();
      if (x != 0 && numel > std::numeric_limits<int64_t>::max() / x)
        fail(where + "shape overflows");
      numel *= x;
      t.shape.push_back(static_cast<int64_t>(x));
    }
    uint64_t b = offs[0].get<uint64_t>(), e = offs[1].get<uint64_t>();
    if (b > e || e > dataSize)
      fail(where + "data_offsets outside the file");
    if (numel > std::numeric_limits<uint64_t>::max() / dtypeSize(t.dtype) ||
        e - b != numel * dtypeSize(t.dtype))
      fail(where + "byte size does not match shape " + shapeStr(t.shape));
    t.data = bytes + dataStart + b;
    t.bytes = e - b;
    tensors_.emplace(it.key(), std::move(t));
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_)
    munmap(map_, mapSize_);
}

const TensorView &SafetensorsFile::get(const std::string &name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw std::runtime_error(path_ + ": no tensor '" + name + "'");
  return it->second;
}

const TensorView &
SafetensorsFile::get(const std::string &name, DType dtype,
                     const std::vector<int64_t> &shape) const {
  const TensorView &t = get(name);
  if (t.dtype != dtype || t.shape != shape)
    throw std::runtime_error(
        path_ + ": tensor '" + name + "' is " + dtypeName(t.dtype) +
        shapeStr(t.shape) + ", expected " + dtypeName(dtype) + shapeStr(shape));
  return t;
}

void writeSafetensors(const std::string &path,
                      const std::vector<TensorOut> &tensors) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}, {"writer", "moe_gpu_bench"}};
  uint64_t off = 0;
  std::vector<size_t> sizes;
  for (const auto &t : tensors) {
    uint64_t n = dtypeSize(t.dtype);
    for (int64_t s : t.shape)
      n *= static_cast<uint64_t>(s);
    header[t.name] = {{"dtype", dtypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {off, off + n}}};
    off += n;
    sizes.push_back(n);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' '); // keep tensor data 8-byte aligned
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    throw std::runtime_error(path + ": cannot create: " + std::strerror(errno));
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<unsigned char>((uint64_t)h.size() >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 &&
            std::fwrite(h.data(), 1, h.size(), f) == h.size();
  for (size_t i = 0; ok && i < tensors.size(); ++i)
    ok = std::fwrite(tensors[i].data, 1, sizes[i], f) == sizes[i];
  if (std::fclose(f) != 0)
    ok = false;
  if (!ok)
    throw std::runtime_error(path + ": write failed");
}

uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f))
    return static_cast<uint16_t>((u >> 16) | 0x40); // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

float bf16ToFloat(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

} // namespace moebench
