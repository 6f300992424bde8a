//===- SafeTensorsTest.cpp - Reading and validating safetensors files -----===//

#include "SafeTensorsFile.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace moert;
using moert_test::safetensorsBytes;
using moert_test::SafeTensorsWriter;
using moert_test::TempDir;
using moert_test::writeFile;

namespace {

class SafeTensors : public ::testing::Test {
protected:
  TempDir dir;

  /// Writes `bytes` and opens them; returns the error (success included).
  Error openBytes(const std::string &bytes,
                  std::unique_ptr<SafeTensorsFile> &file) {
    std::string path = dir.file("t.safetensors");
    EXPECT_TRUE(writeFile(path, bytes));
    return SafeTensorsFile::open(path, file);
  }

  /// Expects `bytes` to be refused as malformed with `message` in the text.
  void expectBad(const std::string &bytes, const std::string &message) {
    std::unique_ptr<SafeTensorsFile> file;
    Error e = openBytes(bytes, file);
    ASSERT_TRUE(e) << "accepted; expected: " << message;
    EXPECT_EQ(e.code(), MOERT_ERROR_WEIGHTS);
    EXPECT_NE(e.message().find(message), std::string::npos) << e.message();
    EXPECT_EQ(file, nullptr);
  }

  std::string sample() {
    SafeTensorsWriter w;
    w.addF32("a", {2, 3}, {1, 2, 3, 4, 5, 6});
    w.add16("b", "BF16", {4}, {0x3f80, 0x4000, 0xbf80, 0x0000});
    int64_t ids[2] = {7, -9};
    w.add("ids", "I64", {2}, ids, sizeof ids);
    w.add("empty", "F16", {0, 5}, nullptr, 0);
    return w.bytes();
  }
};

TEST_F(SafeTensors, RoundTrip) {
  std::unique_ptr<SafeTensorsFile> file;
  Error e = openBytes(sample(), file);
  ASSERT_FALSE(e) << e.message();
  EXPECT_EQ(file->tensors().size(), 4u);
  const SafeTensorsFile::Tensor *a = file->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, "F32");
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->elements, 6);
  ASSERT_EQ(a->bytes, 24u);
  float values[6];
  std::memcpy(values, a->data, sizeof values);
  EXPECT_EQ(values[5], 6.0f);
  const SafeTensorsFile::Tensor *b = file->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->elementSize, 2u);
  uint16_t bits;
  std::memcpy(&bits, b->data + 2, 2);
  EXPECT_EQ(bits, 0x4000);
  const SafeTensorsFile::Tensor *ids = file->find("ids");
  ASSERT_NE(ids, nullptr);
  int64_t id;
  std::memcpy(&id, ids->data + 8, 8);
  EXPECT_EQ(id, -9);
  EXPECT_EQ(file->find("empty")->elements, 0);
  EXPECT_EQ(file->find("__metadata__"), nullptr);
  EXPECT_EQ(file->find("c"), nullptr);
}

TEST_F(SafeTensors, MissingFileIsAnIOError) {
  std::unique_ptr<SafeTensorsFile> file;
  Error e = SafeTensorsFile::open(dir.file("absent.safetensors"), file);
  EXPECT_EQ(e.code(), MOERT_ERROR_IO);
  EXPECT_NE(e.message().find("absent.safetensors"), std::string::npos);
  e = SafeTensorsFile::open(dir.path(), file); // a folder
  EXPECT_EQ(e.code(), MOERT_ERROR_IO);
}

TEST_F(SafeTensors, TruncatedAtEveryLengthIsRefused) {
  std::string full = sample();
  for (size_t n = 0; n < full.size(); ++n) {
    std::unique_ptr<SafeTensorsFile> file;
    Error e = openBytes(full.substr(0, n), file);
    ASSERT_TRUE(e) << "a " << n << "-byte prefix was accepted";
    EXPECT_EQ(e.code(), MOERT_ERROR_WEIGHTS);
  }
  expectBad("", "truncated: 0 bytes");
  expectBad(full.substr(0, 7), "truncated: 7 bytes");
  expectBad(full.substr(0, 20), "exceeds the 12 bytes after it");
}

TEST_F(SafeTensors, LyingHeadersAreRefused) {
  std::string lengthOnly(8, '\xff'); // 2^64 - 1
  expectBad(lengthOnly + "{}", "header length 18446744073709551615 exceeds");
  expectBad(safetensorsBytes("{\"a\": ", ""), "header: parse error");
  expectBad(safetensorsBytes("[]", ""),
            "header: expected an object, got array");
  expectBad(safetensorsBytes("{\"a\": 3}", ""),
            "tensor 'a': expected an object");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F4\",\"shape\":[1],"
                             "\"data_offsets\":[0,1]}}",
                             "x"),
            "tensor 'a': unknown dtype 'F4'");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                             "\"data_offsets\":[0,8]}}",
                             "1234"),
            "tensor 'a': data_offsets [0, 8] outside the 4 data bytes");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],"
                             "\"data_offsets\":[0,8]}}",
                             "12345678"),
            "data_offsets span 8 bytes but the shape and dtype need 12");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                             "\"data_offsets\":[8,0]}}",
                             "12345678"),
            "outside the 8 data bytes");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],"
                             "\"data_offsets\":[0,8]}}",
                             "12345678"),
            "shape entries must be non-negative integers");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
                             "4294967296],\"data_offsets\":[0,8]}}",
                             "12345678"),
            "element count overflows");
  expectBad(
      safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", "12345678"),
      "'data_offsets' must be two non-negative integers");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                             "\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F16\",\"shape\":[2],"
                             "\"data_offsets\":[6,10]}}",
                             "1234567890"),
            "tensors 'a' and 'b' overlap");
  // The element count fits in 64 bits, its byte size does not.
  expectBad(
      safetensorsBytes("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213"
                       "693952],\"data_offsets\":[0,0]}}",
                       ""),
      "the shape's byte size overflows 64 bits");
}

TEST_F(SafeTensors, CorruptedHeaderBytesNeverCrash) {
  std::string full = sample();
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | uint8_t(full[i]);
  size_t accepted = 0;
  for (size_t i = 0; i < 8 + headerSize; ++i) {
    for (char c : {'\0', '9', '"', '}', '\xff'}) {
      std::string bytes = full;
      bytes[i] = c;
      std::unique_ptr<SafeTensorsFile> file;
      Error e = openBytes(bytes, file);
      if (e)
        continue;
      ++accepted;
      // What is accepted must be readable within the mapping.
      for (const auto &t : file->tensors()) {
        volatile unsigned char sink = 0;
        for (uint64_t k = 0; k < t.bytes; ++k)
          sink ^= t.data[k];
        (void)sink;
      }
    }
  }
  EXPECT_LT(accepted, 5 * (8 + headerSize));
}

} // namespace
