//===- SafeTensorsTest.cpp - Reading and validating safetensors files -----===//
//
// The support library's reader on files written byte by byte (TestUtil.h's
// writer is independent of the one under test). The compiler's adapter has
// its own tests (unittests/SafeTensors), which also cover writing.
//
//===----------------------------------------------------------------------===//

#include "moe-support/SafeTensors.h"
#include "TestUtil.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace moe::support;
using moert_test::safetensorsBytes;
using moert_test::SafeTensorsWriter;
using moert_test::TempDir;
using moert_test::writeFile;

namespace {

class SafeTensors : public ::testing::Test {
protected:
  TempDir dir;

  SafeTensorsError error;

  /// Writes `bytes` and opens them; null on failure, with `error` set.
  std::unique_ptr<SafeTensorsFile> openBytes(const std::string &bytes) {
    std::string path = dir.file("t.safetensors");
    EXPECT_TRUE(writeFile(path, bytes));
    error = SafeTensorsError();
    return SafeTensorsFile::open(path, error);
  }

  /// Expects `bytes` to be refused as malformed with `message` in the text.
  void expectBad(const std::string &bytes, const std::string &message) {
    std::unique_ptr<SafeTensorsFile> file = openBytes(bytes);
    ASSERT_EQ(file, nullptr) << "accepted; expected: " << message;
    EXPECT_EQ(error.kind, SafeTensorsError::Format);
    EXPECT_NE(error.message.find(message), std::string::npos) << error.message;
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
  std::unique_ptr<SafeTensorsFile> file = openBytes(sample());
  ASSERT_NE(file, nullptr) << error.message;
  EXPECT_EQ(file->tensors().size(), 4u);
  const TensorInfo *a = file->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->elements, 6);
  ASSERT_EQ(a->bytes, 24u);
  float values[6];
  std::memcpy(values, a->data, sizeof values);
  EXPECT_EQ(values[5], 6.0f);
  EXPECT_EQ(a->element(4), 5.0f);
  const TensorInfo *b = file->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::BF16);
  EXPECT_EQ(b->element(2), -1.0f);
  uint16_t bits;
  std::memcpy(&bits, b->data + 2, 2);
  EXPECT_EQ(bits, 0x4000);
  const TensorInfo *ids = file->find("ids");
  ASSERT_NE(ids, nullptr);
  int64_t id;
  std::memcpy(&id, ids->data + 8, 8);
  EXPECT_EQ(id, -9);
  EXPECT_EQ(file->find("empty")->elements, 0);
  EXPECT_EQ(file->find("__metadata__"), nullptr);
  EXPECT_EQ(file->find("c"), nullptr);
  EXPECT_EQ(file->metadata().at("format"), "pt");
}

TEST_F(SafeTensors, AcceptedDTypesAreNamed) {
  std::string path = dir.file("s.safetensors");
  ASSERT_TRUE(writeFile(path, sample()));
  std::unique_ptr<SafeTensorsFile> file =
      SafeTensorsFile::open(path, error, {DType::F32, DType::F16, DType::BF16});
  ASSERT_EQ(file, nullptr);
  EXPECT_NE(error.message.find("tensor 'ids': unsupported dtype 'I64' "
                               "(supported: F32, F16, BF16)"),
            std::string::npos)
      << error.message;
}

TEST_F(SafeTensors, QuantizedCheckpointTypesAreRead) {
  // A DeepSeek-V3 fp8 weight with its block scales, and gpt-oss MXFP4
  // blocks and scales stored as U8.
  SafeTensorsWriter w;
  uint8_t fp8[4] = {0x38, 0xb8, 0x7e, 0x01}; // 1, -1, 448, 2^-9
  w.add("w", "F8_E4M3", {2, 2}, fp8, 4);
  w.addF32("w_scale_inv", {1, 1}, {0.5f});
  uint8_t blocks[2] = {0x21, 0xf7}; // e2m1 pairs, low nibble first
  w.add("blocks", "U8", {2}, blocks, 2);
  uint8_t scale[1] = {128}; // e8m0: 2^1
  w.add("scales", "F8_E8M0", {1}, scale, 1);
  std::unique_ptr<SafeTensorsFile> file = openBytes(w.bytes());
  ASSERT_NE(file, nullptr) << error.message;
  const TensorInfo *weight = file->find("w");
  ASSERT_NE(weight, nullptr);
  EXPECT_EQ(weight->dtype, DType::F8E4M3);
  EXPECT_EQ(weight->element(0), 1.0f);
  EXPECT_EQ(weight->element(1), -1.0f);
  EXPECT_EQ(weight->element(2), 448.0f);
  EXPECT_EQ(weight->element(3), std::ldexp(1.0f, -9));
  EXPECT_EQ(file->find("blocks")->dtype, DType::U8);
  EXPECT_EQ(float4E2M1ToFloat(file->find("blocks")->data[0] & 0xf), 0.5f);
  EXPECT_EQ(float4E2M1ToFloat(file->find("blocks")->data[1] >> 4), -6.0f);
  EXPECT_EQ(file->find("scales")->element(0), 2.0f);
}

TEST_F(SafeTensors, WriterOutputIsReadBack) {
  std::string path = dir.file("out.safetensors");
  float a[3] = {1, 2, 3};
  uint16_t b[2] = {0x3c00, 0xc000};
  std::string message;
  ASSERT_TRUE(writeSafeTensors(path,
                               {{"b", DType::F16, {2}, b, sizeof b},
                                {"a", DType::F32, {3, 1}, a, sizeof a}},
                               {{"format", "pt"}}, message))
      << message;
  std::unique_ptr<SafeTensorsFile> file = SafeTensorsFile::open(path, error);
  ASSERT_NE(file, nullptr) << error.message;
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[0].name, "a"); // sorted by name, in data order
  EXPECT_EQ(file->find("a")->element(2), 3.0f);
  EXPECT_EQ(file->find("b")->element(1), -2.0f);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  // A size that does not match the shape is refused, and nothing is left.
  std::string bad = dir.file("bad.safetensors");
  EXPECT_FALSE(writeSafeTensors(bad, {{"a", DType::F32, {4}, a, sizeof a}}, {},
                                message));
  EXPECT_NE(message.find("tensor 'a': 12 bytes of data but shape [4] of F32 "
                         "needs 16"),
            std::string::npos)
      << message;
  EXPECT_NE(access(bad.c_str(), F_OK), 0);
}

// A FIFO, a device and a directory are refused at once: opening a FIFO
// does not wait for a writer (issue 20: --weights on one hung).
TEST_F(SafeTensors, NonRegularFilesAreRefusedAtOnce) {
  std::string fifo = dir.file("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string &path :
       {fifo, std::string("/dev/zero"), dir.file("")}) {
    EXPECT_EQ(SafeTensorsFile::open(path, error), nullptr) << path;
    EXPECT_EQ(error.kind, SafeTensorsError::Io);
    EXPECT_NE(error.message.find("not a regular file"), std::string::npos)
        << error.message;
  }
}

// A mapped file that shrinks while it is read ends the process with an
// error and status 1, not a crash (SIGBUS), once a tool asked for it.
TEST_F(SafeTensors, FileThatShrinksWhileMappedExitsWithAnError) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan handles SIGBUS itself";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "ASan handles SIGBUS itself";
#endif
#endif
  std::string path = dir.file("shrinks.safetensors");
  std::vector<float> values(64 * 1024, 1.0f);
  std::string message;
  ASSERT_TRUE(writeSafeTensors(path,
                               {{"w",
                                 DType::F32,
                                 {int64_t(values.size())},
                                 values.data(),
                                 values.size() * 4}},
                               {}, message))
      << message;
  EXPECT_EXIT(
      {
        SafeTensorsFile::exitOnMappedFileFault("moe-test");
        SafeTensorsError openError;
        std::unique_ptr<SafeTensorsFile> file =
            SafeTensorsFile::open(path, openError);
        if (!file || truncate(path.c_str(), 0) != 0)
          std::exit(2);
        const TensorInfo *w = file->find("w");
        volatile uint8_t last = w->data[w->bytes - 1];
        (void)last;
        std::exit(3);
      },
      ::testing::ExitedWithCode(1),
      "moe-test: error: a mapped file \\(weights or input\\) changed size "
      "while it was read");
}

TEST_F(SafeTensors, MissingFileIsAnIOError) {
  EXPECT_EQ(SafeTensorsFile::open(dir.file("absent.safetensors"), error),
            nullptr);
  EXPECT_EQ(error.kind, SafeTensorsError::Io);
  EXPECT_NE(error.message.find("absent.safetensors: cannot open"),
            std::string::npos);
  error = SafeTensorsError();
  EXPECT_EQ(SafeTensorsFile::open(dir.path(), error), nullptr); // a folder
  EXPECT_EQ(error.kind, SafeTensorsError::Io);
}

TEST_F(SafeTensors, TruncatedAtEveryLengthIsRefused) {
  std::string full = sample();
  for (size_t n = 0; n < full.size(); ++n) {
    ASSERT_EQ(openBytes(full.substr(0, n)), nullptr)
        << "a " << n << "-byte prefix was accepted";
    EXPECT_EQ(error.kind, SafeTensorsError::Format);
  }
  expectBad("", "file is 0 bytes, too short for the 8-byte header length");
  expectBad(full.substr(0, 7), "file is 7 bytes");
  expectBad(full.substr(0, 20), "runs past the end of the file (20 bytes)");
}

TEST_F(SafeTensors, LyingHeadersAreRefused) {
  std::string lengthOnly(8, '\xff'); // 2^64 - 1
  expectBad(lengthOnly + "{}", "header length 18446744073709551615 exceeds");
  expectBad(safetensorsBytes("{\"a\": ", ""),
            "header is not valid JSON: [json.exception.parse_error");
  expectBad(safetensorsBytes("[]", ""), "header is not a JSON object");
  expectBad(safetensorsBytes("{\"a\": 3}", ""),
            "tensor 'a': entry is not a JSON object");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F4\",\"shape\":[1],"
                             "\"data_offsets\":[0,1]}}",
                             "x"),
            "tensor 'a': unsupported dtype 'F4' (supported: F64, F32");
  expectBad(
      safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[0,8]}}",
                       "1234"),
      "tensor 'a': data_offsets [0, 8] end beyond the data block of 4 bytes");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],"
                             "\"data_offsets\":[0,8]}}",
                             "12345678"),
            "data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                             "\"data_offsets\":[8,0]}}",
                             "12345678"),
            "data_offsets [8, 0] begin after their end");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],"
                             "\"data_offsets\":[0,8]}}",
                             "12345678"),
            "shape is not an array of non-negative integers");
  expectBad(
      safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
                       "4294967296],\"data_offsets\":[0,8]}}",
                       "12345678"),
      "shape [4294967296, 4294967296] of F32 has a byte size that overflows");
  expectBad(
      safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", "12345678"),
      "tensor 'a': missing data_offsets");
  expectBad(safetensorsBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                             "\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F16\",\"shape\":[2],"
                             "\"data_offsets\":[6,10]}}",
                             "1234567890"),
            "tensors 'a' (data_offsets [0, 8]) and 'b' (data_offsets [6, 10]) "
            "overlap");
  // The element count fits in 64 bits, its byte size does not.
  expectBad(
      safetensorsBytes("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213"
                       "693952],\"data_offsets\":[0,0]}}",
                       ""),
      "of F64 has a byte size that overflows 64 bits");
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
      std::unique_ptr<SafeTensorsFile> file = openBytes(bytes);
      if (!file)
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
