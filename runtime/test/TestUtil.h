//===- TestUtil.h - Temporary files and safetensors writing for tests -----===//
//
// Test-side helpers written independently of the runtime: a temporary
// folder, file writing, a safetensors writer and IEEE half / bfloat16 bit
// constructors, so tests never check the runtime against itself.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_TEST_TESTUTIL_H
#define MOERT_TEST_TESTUTIL_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

namespace moert_test {

/// Passes when `text` contains `part`, else shows both.
inline ::testing::AssertionResult contains(const std::string &text,
                                           const std::string &part) {
  if (text.find(part) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\" does not contain \"" << part << "\"";
}

/// A fresh folder under $TMPDIR (or /tmp), removed with its files.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/moert-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back(0);
    if (mkdtemp(buffer.data()))
      path_ = buffer.data();
  }
  ~TempDir() {
    if (path_.empty())
      return;
    if (DIR *dir = opendir(path_.c_str())) {
      while (dirent *entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..")
          unlink((path_ + "/" + name).c_str());
      }
      closedir(dir);
    }
    rmdir(path_.c_str());
  }
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

inline bool writeFile(const std::string &path, const std::string &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

inline bool copyFile(const std::string &from, const std::string &to) {
  FILE *f = std::fopen(from.c_str(), "rb");
  if (!f)
    return false;
  std::string bytes;
  char chunk[65536];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0)
    bytes.append(chunk, n);
  std::fclose(f);
  return writeFile(to, bytes);
}

/// The 8-byte little-endian length, then the header, then the data.
inline std::string safetensorsBytes(const std::string &header,
                                    const std::string &data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    out += char((n >> (8 * i)) & 0xff);
  return out + header + data;
}

/// Builds a safetensors file tensor by tensor, laying data out in order.
class SafeTensorsWriter {
public:
  void add(const std::string &name, const std::string &dtype,
           const std::vector<int64_t> &shape, const void *bytes, size_t size) {
    std::string shapeText;
    for (int64_t d : shape)
      shapeText += (shapeText.empty() ? "" : ",") + std::to_string(d);
    entries_ += (entries_.empty() ? "" : ",") + std::string("\"") + name +
                "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + shapeText +
                "],\"data_offsets\":[" + std::to_string(data_.size()) + "," +
                std::to_string(data_.size() + size) + "]}";
    data_.append(static_cast<const char *>(bytes), size);
  }
  void addF32(const std::string &name, const std::vector<int64_t> &shape,
              const std::vector<float> &values) {
    add(name, "F32", shape, values.data(), values.size() * 4);
  }
  void add16(const std::string &name, const std::string &dtype,
             const std::vector<int64_t> &shape,
             const std::vector<uint16_t> &bits) {
    add(name, dtype, shape, bits.data(), bits.size() * 2);
  }
  std::string bytes() const {
    return safetensorsBytes("{\"__metadata__\":{\"format\":\"pt\"}" +
                                std::string(entries_.empty() ? "" : ",") +
                                entries_ + "}",
                            data_);
  }
  bool write(const std::string &path) const { return writeFile(path, bytes()); }

private:
  std::string entries_;
  std::string data_;
};

inline uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline float floatOf(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
/// A bfloat16 value that is exact: the top half of the f32's bits.
inline uint16_t exactBf16(float f) {
  uint32_t b = bitsOf(f);
  return uint16_t(b >> 16);
}

} // namespace moert_test

#endif // MOERT_TEST_TESTUTIL_H
