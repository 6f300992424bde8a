//===- SafeTensorsTest.cpp - safetensors reading, writing, conversions ----===//

#include "moe/SafeTensors/SafeTensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace moe::safetensors;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

/// The file bytes for `header` (padded with spaces to a multiple of 8, as
/// writers do, unless `pad` is false) followed by `data`.
std::string fileBytes(std::string header, const std::string &data,
                      bool pad = true) {
  if (pad)
    header.append((8 - header.size() % 8) % 8, ' ');
  char length[8];
  llvm::support::endian::write64le(length, header.size());
  return std::string(length, 8) + header + data;
}

/// A file whose 8-byte length field says `length`, followed by `rest`.
std::string withLength(uint64_t length, const std::string &rest) {
  char bytes[8];
  llvm::support::endian::write64le(bytes, length);
  return std::string(bytes, 8) + rest;
}

llvm::Expected<File> parseBytes(const std::string &bytes) {
  return File::parse(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "x.safetensors"));
}

/// The message of the error `parseBytes(bytes)` must return; fails the test
/// (and returns "") if it succeeds instead.
std::string rejection(const std::string &bytes) {
  llvm::Expected<File> file = parseBytes(bytes);
  if (file) {
    ADD_FAILURE() << "accepted a file that should be rejected";
    return "";
  }
  std::string message = llvm::toString(file.takeError());
  EXPECT_THAT(message, StartsWith("x.safetensors: "));
  return message;
}

/// A one-tensor header `{"w": ENTRY}` with `dataSize` zero bytes of data.
std::string oneTensor(const std::string &entry, size_t dataSize) {
  return fileBytes("{\"w\":" + entry + "}", std::string(dataSize, '\0'));
}

std::string readWholeFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return "<unreadable>";
  return (*buffer)->getBuffer().str();
}

/// A fresh folder for files, removed with everything in it afterwards.
class SafeTensorsFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("moe-safetensors-test", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string pathOf(llvm::StringRef name) const {
    llvm::SmallString<128> path(dir);
    llvm::sys::path::append(path, name);
    return path.str().str();
  }

  /// The names of the entries of the folder, sorted.
  std::vector<std::string> folderEntries() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    EXPECT_FALSE(ec);
    std::sort(names.begin(), names.end());
    return names;
  }

  llvm::SmallString<128> dir;
};

//===----------------------------------------------------------------------===//
// Writing and reading back
//===----------------------------------------------------------------------===//

TEST(SafeTensorsTensor, MakeTensorEncodesLittleEndian) {
  OwnedTensor f32 = makeTensor("a", DType::F32, {2}, {1.0f, -2.5f});
  EXPECT_EQ(f32.name, "a");
  EXPECT_EQ(f32.dtype, DType::F32);
  EXPECT_EQ(f32.shape, std::vector<int64_t>{2});
  EXPECT_EQ(f32.data, (std::vector<uint8_t>{0x00, 0x00, 0x80, 0x3F, 0x00, 0x00,
                                            0x20, 0xC0}));
  OwnedTensor f16 = makeTensor("b", DType::F16, {2}, {1.0f, 65504.0f});
  EXPECT_EQ(f16.data, (std::vector<uint8_t>{0x00, 0x3C, 0xFF, 0x7B}));
  OwnedTensor bf16 = makeTensor("c", DType::BF16, {2}, {1.0f, 1.00390625f});
  EXPECT_EQ(bf16.data, (std::vector<uint8_t>{0x80, 0x3F, 0x80, 0x3F}));
}

TEST_F(SafeTensorsFileTest, RoundTripEveryDType) {
  std::vector<float> values = {1.0f,     -2.5f,   0.1f,        65504.0f,
                               70000.0f, 1e-8f,   -0.0f,       3.14159f,
                               1e30f,    -1e-30f, 1.00390625f, 0.333333f};
  std::vector<OwnedTensor> tensors = {
      makeTensor("f32", DType::F32, {3, 4}, values),
      makeTensor("f16", DType::F16, {2, 6}, values),
      makeTensor("bf16", DType::BF16, {12}, values),
  };
  std::string path = pathOf("model.safetensors");
  ASSERT_FALSE(llvm::errorToBool(write(path, tensors)));

  llvm::Expected<File> file = File::open(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->name(), path);
  EXPECT_TRUE(file->metadata().empty());
  ASSERT_EQ(file->tensors().size(), 3u);
  for (const OwnedTensor &written : tensors) {
    const TensorView *view = file->find(written.name);
    ASSERT_NE(view, nullptr) << written.name;
    EXPECT_EQ(view->name, written.name);
    EXPECT_EQ(view->dtype, written.dtype);
    EXPECT_EQ(view->shape, written.shape);
    EXPECT_EQ(view->numElements(), 12);
    EXPECT_EQ(std::vector<uint8_t>(view->bytes.begin(), view->bytes.end()),
              written.data);
    std::vector<float> read = view->toFloats();
    ASSERT_EQ(read.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      float expected = roundTo(written.dtype, values[i]);
      EXPECT_EQ(bitsOf(read[i]), bitsOf(expected))
          << written.name << "[" << i << "]";
      EXPECT_EQ(bitsOf(view->element(i)), bitsOf(expected));
    }
  }
  EXPECT_EQ(file->find("missing"), nullptr);
  // F32 keeps every bit; the narrow types keep what they can.
  EXPECT_EQ(file->find("f32")->element(2), 0.1f);
  EXPECT_EQ(file->find("f16")->element(3), 65504.0f);
  EXPECT_EQ(file->find("f16")->element(4),
            std::numeric_limits<float>::infinity());
  EXPECT_EQ(file->find("f16")->element(5), 0.0f);
  EXPECT_EQ(file->find("bf16")->element(10), 1.0f);
  EXPECT_TRUE(std::signbit(file->find("bf16")->element(6)));
}

TEST_F(SafeTensorsFileTest, MetadataRoundTrips) {
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"note", "quotes \" and \\ and\nnewlines, caf\xC3\xA9"},
      {"", "empty key"},
      {"empty value", ""}};
  std::string path = pathOf("meta.safetensors");
  ASSERT_FALSE(llvm::errorToBool(
      write(path, {makeTensor("w", DType::F32, {1}, {2.0f})}, metadata)));
  llvm::Expected<File> file = File::open(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->metadata(), metadata);
  ASSERT_NE(file->find("w"), nullptr);
  EXPECT_EQ(file->find("w")->element(0), 2.0f);
}

TEST_F(SafeTensorsFileTest, HeaderIsSortedPaddedAndCompact) {
  std::string path = pathOf("layout.safetensors");
  // Given out of order; names compare bytewise ('B' < '_' < 'a').
  std::vector<OwnedTensor> tensors = {
      makeTensor("b", DType::F16, {1}, {1.0f}),
      makeTensor("a", DType::F32, {1}, {1.0f}),
      makeTensor("B", DType::BF16, {1}, {1.0f}),
      makeTensor("_x", DType::F32, {0, 3}, {}),
  };
  ASSERT_FALSE(llvm::errorToBool(write(path, tensors, {{"format", "pt"}})));
  std::string bytes = readWholeFile(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t headerSize = llvm::support::endian::read64le(bytes.data());
  EXPECT_EQ(headerSize % 8, 0u);
  std::string expectedHeader =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"B\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]},"
      "\"_x\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[2,2]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]},"
      "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[6,8]}}";
  expectedHeader.append((8 - expectedHeader.size() % 8) % 8, ' ');
  ASSERT_EQ(headerSize, expectedHeader.size());
  EXPECT_EQ(bytes.substr(8, headerSize), expectedHeader);
  // Data in name order: BF16 1.0, (nothing), F32 1.0, F16 1.0.
  EXPECT_EQ(bytes.substr(8 + headerSize),
            std::string("\x80\x3F\x00\x00\x80\x3F\x00\x3C", 8));

  llvm::Expected<File> file = File::open(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  std::vector<std::string> order;
  for (const TensorView &view : file->tensors())
    order.push_back(view.name);
  EXPECT_EQ(order, (std::vector<std::string>{"B", "_x", "a", "b"}));
}

TEST_F(SafeTensorsFileTest, ZeroElementAndScalarTensors) {
  std::string path = pathOf("small.safetensors");
  ASSERT_FALSE(llvm::errorToBool(
      write(path, {makeTensor("empty", DType::BF16, {4, 0}, {}),
                   makeTensor("scalar", DType::F16, {}, {0.5f})})));
  llvm::Expected<File> file = File::open(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  const TensorView *empty = file->find("empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->numElements(), 0);
  EXPECT_TRUE(empty->bytes.empty());
  EXPECT_TRUE(empty->toFloats().empty());
  const TensorView *scalar = file->find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->numElements(), 1);
  EXPECT_EQ(scalar->toFloats(), std::vector<float>{0.5f});
}

TEST_F(SafeTensorsFileTest, NoTensorsAtAll) {
  std::string path = pathOf("none.safetensors");
  ASSERT_FALSE(llvm::errorToBool(write(path, {})));
  EXPECT_EQ(readWholeFile(path), fileBytes("{}", ""));
  llvm::Expected<File> file = File::open(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_TRUE(file->tensors().empty());
}

TEST_F(SafeTensorsFileTest, FileIsMovable) {
  std::string path = pathOf("move.safetensors");
  ASSERT_FALSE(llvm::errorToBool(
      write(path, {makeTensor("w", DType::F32, {2}, {1.0f, 2.0f})})));
  llvm::Expected<File> opened = File::open(path);
  ASSERT_TRUE(static_cast<bool>(opened)) << llvm::toString(opened.takeError());
  File moved = std::move(*opened);
  File assigned = std::move(moved);
  ASSERT_NE(assigned.find("w"), nullptr);
  EXPECT_EQ(assigned.find("w")->toFloats(), (std::vector<float>{1.0f, 2.0f}));
}

TEST(SafeTensorsRead, PythonWrittenFileParses) {
  // What `safetensors.torch.save_file({"a": torch.tensor([1.0, -2.0])})`
  // writes: compact JSON, space padding to 8 bytes, then the data.
  std::string header =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  EXPECT_EQ(header.size(), 54u);
  std::string bytes = std::string("\x38\0\0\0\0\0\0\0", 8) + header + "  " +
                      std::string("\x00\x00\x80\x3F\x00\x00\x00\xC0", 8);
  ASSERT_EQ(bytes.size(), 8u + 56u + 8u);
  llvm::Expected<File> file = parseBytes(bytes);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  ASSERT_EQ(file->tensors().size(), 1u);
  const TensorView &a = file->tensors()[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, std::vector<int64_t>{2});
  EXPECT_EQ(a.toFloats(), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_TRUE(file->metadata().empty());
}

TEST_F(SafeTensorsFileTest, WritesWhatPythonWrites) {
  std::string path = pathOf("python.safetensors");
  ASSERT_FALSE(llvm::errorToBool(
      write(path, {makeTensor("a", DType::F32, {2}, {1.0f, -2.0f})})));
  std::string expected =
      fileBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,"
                "8]}}",
                std::string("\x00\x00\x80\x3F\x00\x00\x00\xC0", 8));
  EXPECT_EQ(readWholeFile(path), expected);
}

TEST(SafeTensorsRead, UnalignedDataReadsCorrectly) {
  // A gap of one byte puts the F32 tensor at an odd address (the buffer copy
  // itself is aligned), and the BF16 tensor after it at an odd one too.
  std::string data = std::string("\xAA", 1) +
                     std::string("\x00\x00\xC0\x3F", 4) + // 1.5f
                     std::string("\x00\x00\x20\x40", 4) + // 2.5f
                     std::string("\x80\xBF", 2);          // bf16 -1.0
  std::string bytes = fileBytes(
      "{\"u\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]},"
      "\"v\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[9,11]}}",
      data);
  llvm::Expected<File> file = parseBytes(bytes);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  const TensorView *u = file->find("u");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(u->bytes.data()) % 2, 1u);
  EXPECT_EQ(u->toFloats(), (std::vector<float>{1.5f, 2.5f}));
  EXPECT_EQ(file->find("v")->element(0), -1.0f);
}

TEST(SafeTensorsRead, ExtraEntryKeysAndTrailingBytesAreTolerated) {
  std::string bytes = fileBytes("{\"w\":{\"dtype\":\"F16\",\"shape\":[1],"
                                "\"data_offsets\":[0,2],\"extra\":[1]}}",
                                std::string("\x00\x3C\xFF\xFF", 4));
  llvm::Expected<File> file = parseBytes(bytes);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->find("w")->toFloats(), std::vector<float>{1.0f});
}

TEST(SafeTensorsRead, EmptyRangesAndAdjacentRangesDoNotOverlap) {
  std::string bytes = fileBytes(
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
      "\"c\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]},"
      "\"d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]}}",
      std::string(8, '\0'));
  llvm::Expected<File> file = parseBytes(bytes);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  std::vector<std::string> order;
  for (const TensorView &view : file->tensors())
    order.push_back(view.name);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "c", "d", "b"}));
}

//===----------------------------------------------------------------------===//
// Rejected files
//===----------------------------------------------------------------------===//

TEST(SafeTensorsReject, ShorterThanTheLength) {
  for (size_t size = 0; size < 8; ++size)
    EXPECT_THAT(rejection(std::string(size, '\0')), HasSubstr("too short"))
        << size;
}

TEST(SafeTensorsReject, HeaderLengthPastTheEnd) {
  EXPECT_THAT(rejection(withLength(100, "{}")),
              HasSubstr("header length 100 runs past the end of the file"));
  EXPECT_THAT(rejection(withLength(1, "")), HasSubstr("runs past the end"));
}

TEST(SafeTensorsReject, AbsurdHeaderLength) {
  EXPECT_THAT(rejection(withLength(uint64_t(1) << 40, "{}")),
              HasSubstr("exceeds the limit"));
  EXPECT_THAT(rejection(withLength(UINT64_MAX, "{}")),
              HasSubstr("exceeds the limit"));
  EXPECT_THAT(rejection(withLength(UINT64_MAX - 7, "{}")),
              HasSubstr("exceeds the limit"));
}

TEST(SafeTensorsReject, HeaderNotJson) {
  EXPECT_THAT(rejection(fileBytes("{not json", "")),
              HasSubstr("header is not valid JSON"));
  EXPECT_THAT(rejection(fileBytes("", "")),
              HasSubstr("header is not valid JSON"));
  EXPECT_THAT(rejection(fileBytes("{} {}", "")),
              HasSubstr("header is not valid JSON"));
  // Invalid UTF-8 inside a string.
  EXPECT_THAT(rejection(fileBytes("{\"\xFF\":{}}", "")),
              HasSubstr("header is not valid JSON"));
  // A NUL byte in the header (e.g. zero padding instead of spaces).
  EXPECT_THAT(rejection(fileBytes(std::string("{}\0\0\0\0\0\0", 8), "",
                                  /*pad=*/false)),
              HasSubstr("header is not valid JSON: NUL byte at offset 2"));
  EXPECT_THAT(rejection(fileBytes(std::string("{}\0{\"a\":1}", 10), "")),
              HasSubstr("header is not valid JSON"));
}

TEST(SafeTensorsReject, HeaderNotAnObject) {
  EXPECT_THAT(rejection(fileBytes("[1,2]", "")),
              HasSubstr("header is not a JSON object"));
  EXPECT_THAT(rejection(fileBytes("\"text\"", "")),
              HasSubstr("header is not a JSON object"));
  EXPECT_THAT(rejection(fileBytes("null", "")),
              HasSubstr("header is not a JSON object"));
}

TEST(SafeTensorsReject, HeaderTooDeep) {
  std::string deep =
      "{\"w\":" + std::string(1000, '[') + std::string(1000, ']') + "}";
  EXPECT_THAT(rejection(fileBytes(deep, "")), HasSubstr("deeper than"));
}

TEST(SafeTensorsReject, DuplicateKeys) {
  std::string entry =
      "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  EXPECT_THAT(rejection(fileBytes("{\"w\":" + entry + ",\"w\":" + entry + "}",
                                  std::string(4, '\0'))),
              HasSubstr("header has the key 'w' twice"));
}

TEST(SafeTensorsReject, EntryNotAnObject) {
  EXPECT_THAT(rejection(oneTensor("[1]", 0)),
              HasSubstr("tensor 'w': entry is not a JSON object"));
  EXPECT_THAT(rejection(oneTensor("\"F32\"", 0)),
              HasSubstr("tensor 'w': entry is not a JSON object"));
}

TEST(SafeTensorsReject, BadDType) {
  std::string i64 = rejection(
      oneTensor("{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}", 8));
  EXPECT_THAT(i64, HasSubstr("tensor 'w': unsupported dtype 'I64'"));
  EXPECT_THAT(i64, HasSubstr("supported: F32, F16, BF16"));
  EXPECT_THAT(
      rejection(oneTensor(
          "{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[0,1]}", 1)),
      HasSubstr("unsupported dtype 'F8_E5M2'"));
  std::string missing =
      rejection(oneTensor("{\"shape\":[1],\"data_offsets\":[0,4]}", 4));
  EXPECT_THAT(missing, HasSubstr("tensor 'w': missing dtype"));
  EXPECT_THAT(missing, HasSubstr("supported: F32, F16, BF16"));
  EXPECT_THAT(rejection(oneTensor(
                  "{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}", 4)),
              HasSubstr("tensor 'w': dtype is not a string"));
}

TEST(SafeTensorsReject, BadShape) {
  for (const char *shape :
       {"[-1]", "[1.5]", "[2.0]", "\"3\"", "[2,\"a\"]", "[[2]]", "3", "null",
        "[true]", "[18446744073709551615]", "[9223372036854775808]"}) {
    std::string entry = std::string("{\"dtype\":\"F32\",\"shape\":") + shape +
                        ",\"data_offsets\":[0,4]}";
    EXPECT_THAT(rejection(oneTensor(entry, 4)),
                HasSubstr("tensor 'w': shape is not an array of non-negative "
                          "integers"))
        << shape;
  }
  EXPECT_THAT(
      rejection(oneTensor("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", 4)),
      HasSubstr("tensor 'w': missing shape"));
}

TEST(SafeTensorsReject, ShapeOverflow) {
  // 2^32 * 2^32 elements overflow the element count.
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"F32\",\"shape\":[4294967296,"
                                  "4294967296],\"data_offsets\":[0,4]}",
                                  4)),
              HasSubstr("tensor 'w': shape [4294967296, 4294967296] of F32 "
                        "has a byte size that overflows 64 bits"));
  // 2^62 elements fit, but not their 2^64 bytes.
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"F32\",\"shape\":["
                                  "4611686018427387904],\"data_offsets\":[0,"
                                  "4]}",
                                  4)),
              HasSubstr("overflows 64 bits"));
  // The running product overflows before a zero dimension is reached.
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"F16\",\"shape\":[4294967296,"
                                  "4294967296,0],\"data_offsets\":[0,0]}",
                                  0)),
              HasSubstr("overflows 64 bits"));
}

TEST(SafeTensorsReject, BadDataOffsets) {
  for (const char *offsets :
       {"[0]", "[0,4,8]", "[]", "[-1,4]", "[0,-4]", "[\"0\",4]", "[0,4.0]",
        "{\"begin\":0}", "4", "null", "[0,18446744073709551615]"}) {
    std::string entry = std::string("{\"dtype\":\"F32\",\"shape\":[1],"
                                    "\"data_offsets\":") +
                        offsets + "}";
    EXPECT_THAT(rejection(oneTensor(entry, 4)),
                HasSubstr("tensor 'w': data_offsets is not two non-negative "
                          "integers"))
        << offsets;
  }
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"F32\",\"shape\":[1]}", 4)),
              HasSubstr("tensor 'w': missing data_offsets"));
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"F32\",\"shape\":[1],"
                                  "\"data_offsets\":[8,4]}",
                                  8)),
              HasSubstr("tensor 'w': data_offsets [8, 4] begin after their "
                        "end"));
}

TEST(SafeTensorsReject, OffsetsBeyondTheDataBlock) {
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"F32\",\"shape\":[4],"
                                  "\"data_offsets\":[0,16]}",
                                  8)),
              HasSubstr("tensor 'w': data_offsets [0, 16] end beyond the data "
                        "block of 8 bytes"));
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"F32\",\"shape\":[0],"
                                  "\"data_offsets\":[9,9]}",
                                  8)),
              HasSubstr("end beyond the data block"));
  // An offset near 2^63 must not wrap around anything.
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"F32\",\"shape\":[1],"
                                  "\"data_offsets\":[9223372036854775803,"
                                  "9223372036854775807]}",
                                  8)),
              HasSubstr("end beyond the data block"));
}

TEST(SafeTensorsReject, ByteSizeMismatch) {
  std::string bytes = fileBytes(
      "{\"w1\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}",
      std::string(24, '\0'));
  EXPECT_EQ(rejection(bytes),
            "x.safetensors: tensor 'w1': data_offsets [0, 12] hold 12 bytes "
            "but shape [2, 3] of F32 needs 24");
  EXPECT_THAT(rejection(oneTensor("{\"dtype\":\"BF16\",\"shape\":[0],"
                                  "\"data_offsets\":[0,2]}",
                                  2)),
              HasSubstr("hold 2 bytes but shape [0] of BF16 needs 0"));
}

TEST(SafeTensorsReject, OverlappingTensors) {
  std::string message = rejection(fileBytes(
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
      std::string(12, '\0')));
  EXPECT_THAT(message, HasSubstr("tensors 'a' (data_offsets [0, 8]) and 'b' "
                                 "(data_offsets [4, 12]) overlap"));
  // The same range twice.
  EXPECT_THAT(rejection(fileBytes(
                  "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":["
                  "0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],"
                  "\"data_offsets\":[0,4]}}",
                  std::string(4, '\0'))),
              HasSubstr("overlap"));
  // A range inside a longer earlier one that a shorter range separates:
  // [0,16) contains [12,16) even though [4,8) ends before 12.
  EXPECT_THAT(rejection(fileBytes(
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":["
                  "0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
                  "\"data_offsets\":[4,8]},\"c\":{\"dtype\":\"F32\",\"shape\":"
                  "[1],\"data_offsets\":[12,16]}}",
                  std::string(16, '\0'))),
              HasSubstr("overlap"));
}

TEST(SafeTensorsReject, BadMetadata) {
  EXPECT_THAT(rejection(fileBytes("{\"__metadata__\":{\"k\":1}}", "")),
              HasSubstr("__metadata__ value of 'k' is not a string"));
  EXPECT_THAT(rejection(fileBytes("{\"__metadata__\":{\"k\":null}}", "")),
              HasSubstr("__metadata__ value of 'k' is not a string"));
  EXPECT_THAT(rejection(fileBytes("{\"__metadata__\":[\"k\"]}", "")),
              HasSubstr("__metadata__ is not a JSON object"));
  EXPECT_THAT(rejection(fileBytes("{\"__metadata__\":\"k\"}", "")),
              HasSubstr("__metadata__ is not a JSON object"));
}

TEST_F(SafeTensorsFileTest, TruncatedFilesAreAllRejected) {
  std::string path = pathOf("whole.safetensors");
  ASSERT_FALSE(llvm::errorToBool(
      write(path,
            {makeTensor("a", DType::F32, {2, 2}, {1, 2, 3, 4}),
             makeTensor("b", DType::F16, {3}, {1, 2, 3}),
             makeTensor("c", DType::BF16, {1}, {5})},
            {{"format", "pt"}})));
  std::string whole = readWholeFile(path);
  ASSERT_TRUE(static_cast<bool>(parseBytes(whole)));
  for (size_t size = 0; size < whole.size(); ++size) {
    llvm::Expected<File> file = parseBytes(whole.substr(0, size));
    EXPECT_FALSE(static_cast<bool>(file)) << "prefix of " << size << " bytes";
    if (!file) {
      EXPECT_THAT(llvm::toString(file.takeError()),
                  StartsWith("x.safetensors: "));
    }
  }
}

TEST_F(SafeTensorsFileTest, MutatedFilesNeverCrash) {
  std::string path = pathOf("fuzz.safetensors");
  ASSERT_FALSE(llvm::errorToBool(
      write(path,
            {makeTensor("a", DType::F32, {2, 2}, {1, 2, 3, 4}),
             makeTensor("b", DType::F16, {3}, {1, 2, 3}),
             makeTensor("c", DType::BF16, {1}, {5})},
            {{"format", "pt"}})));
  std::string whole = readWholeFile(path);
  std::mt19937 rng(7);
  const char interesting[] = "{}[],:\"0123456789-.e \\";
  for (int round = 0; round < 5000; ++round) {
    std::string bytes = whole;
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % bytes.size();
      switch (rng() % 3) {
      case 0:
        bytes[at] = static_cast<char>(rng());
        break;
      case 1:
        bytes[at] = interesting[rng() % (sizeof(interesting) - 1)];
        break;
      default:
        bytes.erase(at, 1 + rng() % 3);
        break;
      }
      if (bytes.empty())
        break;
    }
    llvm::Expected<File> file = parseBytes(bytes);
    if (!file) {
      llvm::consumeError(file.takeError());
      continue;
    }
    // Whatever parses must be self-consistent and inside the buffer.
    for (const TensorView &view : file->tensors()) {
      ASSERT_EQ(view.bytes.size(), static_cast<size_t>(view.numElements()) *
                                       elementSize(view.dtype));
      ASSERT_EQ(view.toFloats().size(),
                static_cast<size_t>(view.numElements()));
    }
  }
}

TEST(SafeTensorsOpen, MissingFile) {
  llvm::Expected<File> file = File::open("/nonexistent/dir/x.safetensors");
  ASSERT_FALSE(static_cast<bool>(file));
  EXPECT_THAT(llvm::toString(file.takeError()),
              StartsWith("/nonexistent/dir/x.safetensors: cannot open"));
}

TEST(SafeTensorsOpen, NullBuffer) {
  llvm::Expected<File> file = File::parse(nullptr);
  ASSERT_FALSE(static_cast<bool>(file));
  EXPECT_THAT(llvm::toString(file.takeError()), HasSubstr("no buffer"));
}

//===----------------------------------------------------------------------===//
// Write failures
//===----------------------------------------------------------------------===//

TEST_F(SafeTensorsFileTest, WriteIntoMissingFolderFails) {
  std::string path = pathOf("missing/sub/x.safetensors");
  llvm::Error error = write(path, {makeTensor("w", DType::F32, {1}, {1.0f})});
  ASSERT_TRUE(static_cast<bool>(error));
  EXPECT_THAT(llvm::toString(std::move(error)), StartsWith(path + ": "));
  EXPECT_FALSE(llvm::sys::fs::exists(pathOf("missing")));
  EXPECT_TRUE(folderEntries().empty());
}

TEST_F(SafeTensorsFileTest, WriteReplacesAnExistingFile) {
  std::string path = pathOf("w.safetensors");
  ASSERT_FALSE(llvm::errorToBool(
      write(path, {makeTensor("old", DType::F32, {3}, {1, 2, 3})})));
  ASSERT_FALSE(llvm::errorToBool(
      write(path, {makeTensor("new", DType::BF16, {1}, {4})})));
  llvm::Expected<File> file = File::open(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->find("old"), nullptr);
  ASSERT_NE(file->find("new"), nullptr);
  EXPECT_EQ(file->find("new")->toFloats(), std::vector<float>{4.0f});
  EXPECT_EQ(folderEntries(), std::vector<std::string>{"w.safetensors"});
}

TEST_F(SafeTensorsFileTest, FailedWriteKeepsTheOldFile) {
  std::string path = pathOf("w.safetensors");
  ASSERT_FALSE(llvm::errorToBool(
      write(path, {makeTensor("old", DType::F32, {3}, {1, 2, 3})})));
  std::string before = readWholeFile(path);

  llvm::Error duplicate = write(path, {makeTensor("x", DType::F32, {1}, {1}),
                                       makeTensor("y", DType::F32, {1}, {2}),
                                       makeTensor("x", DType::F16, {1}, {3})});
  ASSERT_TRUE(static_cast<bool>(duplicate));
  EXPECT_EQ(llvm::toString(std::move(duplicate)),
            path + ": tensor name 'x' is used twice");

  llvm::Error mismatch =
      write(path, {makeTensor("w", DType::F16, {2, 3}, {1, 2, 3})});
  ASSERT_TRUE(static_cast<bool>(mismatch));
  EXPECT_EQ(llvm::toString(std::move(mismatch)),
            path + ": tensor 'w': 6 bytes of data but shape [2, 3] of F16 "
                   "needs 12");

  EXPECT_EQ(readWholeFile(path), before);
  EXPECT_EQ(folderEntries(), std::vector<std::string>{"w.safetensors"});
}

TEST_F(SafeTensorsFileTest, WriteOverAFolderFailsAndCleansUp) {
  std::string path = pathOf("folder");
  ASSERT_FALSE(llvm::sys::fs::create_directory(path));
  llvm::Error error = write(path, {makeTensor("w", DType::F32, {1}, {1})});
  ASSERT_TRUE(static_cast<bool>(error));
  EXPECT_THAT(llvm::toString(std::move(error)), StartsWith(path + ": "));
  EXPECT_TRUE(llvm::sys::fs::is_directory(path));
  EXPECT_EQ(folderEntries(), std::vector<std::string>{"folder"});
}

TEST_F(SafeTensorsFileTest, WriteRejectsBadTensors) {
  std::string path = pathOf("bad.safetensors");
  auto messageOf = [&](std::vector<OwnedTensor> tensors,
                       std::map<std::string, std::string> metadata = {}) {
    llvm::Error error = write(path, tensors, metadata);
    EXPECT_TRUE(static_cast<bool>(error));
    return error ? llvm::toString(std::move(error)) : std::string();
  };
  EXPECT_THAT(messageOf({OwnedTensor{"n", DType::F32, {-1, 2}, {}}}),
              HasSubstr("tensor 'n': shape [-1, 2] has a negative dimension"));
  EXPECT_THAT(messageOf({makeTensor("__metadata__", DType::F32, {1}, {1})}),
              HasSubstr("tensor '__metadata__': name is reserved"));
  EXPECT_THAT(messageOf({makeTensor("bad\xFF", DType::F32, {1}, {1})}),
              HasSubstr("name is not valid UTF-8"));
  EXPECT_THAT(
      messageOf({makeTensor("w", DType::F32, {1}, {1})}, {{"k", "\xC3"}}),
      HasSubstr("metadata entry 'k' is not valid UTF-8"));
  EXPECT_THAT(
      messageOf({OwnedTensor{"big", DType::F32, {INT64_MAX / 2, 3}, {}}}),
      HasSubstr("tensor 'big': shape [4611686018427387903, 3] of F32 "
                "has a byte size that overflows 64 bits"));
  EXPECT_THAT(messageOf({makeTensor("w", DType::BF16, {4}, {1, 2, 3})}),
              HasSubstr("tensor 'w': 6 bytes of data but shape [4] of BF16 "
                        "needs 8"));
  EXPECT_TRUE(folderEntries().empty());
}

} // namespace
