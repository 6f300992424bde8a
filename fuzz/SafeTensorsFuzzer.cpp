//===- SafeTensorsFuzzer.cpp - libFuzzer target: the safetensors reader ---===//
//
// The input is a whole .safetensors file. File::parse must refuse it with an
// llvm::Error or hand out views that stay inside the buffer and agree with
// their shapes (ASan catches a read past them). A file it accepts is also
// written back with safetensors::write and read again: the copy must hold
// the same tensors and metadata, since moe-run writes what it reads.
// A broken invariant aborts with "==moe-fuzz== invariant broken".
//
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"
#include "Mutators.h"

#include "moe/SafeTensors/SafeTensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace st = moe::safetensors;

static std::string describe(const st::TensorView &t) {
  std::string text = "'" + t.name + "' " + st::dtypeName(t.dtype).str() + " [";
  for (size_t i = 0; i < t.shape.size(); ++i)
    text += (i ? "," : "") + std::to_string(t.shape[i]);
  return text + "] " + std::to_string(t.bytes.size()) + " bytes";
}

static void checkViews(const st::File &file, llvm::ArrayRef<uint8_t> input) {
  const uint8_t *begin = input.data(), *end = input.data() + input.size();
  for (const st::TensorView &t : file.tensors()) {
    // Shape, dtype and byte count agree (computed without overflow here).
    // A zero dimension makes the tensor empty however large the others
    // are, so only a product without zeros can overflow.
    bool empty = llvm::is_contained(t.shape, 0);
    unsigned __int128 expected = st::elementSize(t.dtype);
    for (int64_t dim : t.shape) {
      if (dim < 0)
        moefuzz::fail("negative dimension accepted", describe(t));
      expected = empty ? 0 : expected * static_cast<uint64_t>(dim);
      if (expected > (static_cast<unsigned __int128>(1) << 64))
        moefuzz::fail("byte size overflow accepted", describe(t));
    }
    if (expected != t.bytes.size())
      moefuzz::fail("view size differs from shape * element size", describe(t));
    if (t.numElements() * static_cast<int64_t>(st::elementSize(t.dtype)) !=
        static_cast<int64_t>(t.bytes.size()))
      moefuzz::fail("numElements() disagrees with the view", describe(t));
    // The view lies in the copy File::parse was given, not in `input`; it
    // must at least not alias the fuzzer's own buffer.
    if (!t.bytes.empty() && t.bytes.data() >= begin && t.bytes.data() < end)
      moefuzz::fail("view points into the caller's buffer", describe(t));
    // Reads every element (ASan checks the bounds).
    std::vector<float> values = t.toFloats();
    if (static_cast<int64_t>(values.size()) != t.numElements())
      moefuzz::fail("toFloats() returns the wrong count", describe(t));
    if (file.find(t.name) != &t)
      moefuzz::fail("find() does not return the tensor", describe(t));
  }
}

/// The file to write the round trip to, one per process.
static const std::string &scratchPath() {
  static const std::string path = [] {
    llvm::SmallString<256> dir;
    llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/true, dir);
    llvm::sys::path::append(
        dir, "moe-fuzz-safetensors-" +
                 std::to_string(llvm::sys::Process::getProcessId()) +
                 ".safetensors");
    return std::string(dir);
  }();
  return path;
}

static void checkRoundTrip(const st::File &file) {
  std::vector<st::OwnedTensor> tensors;
  for (const st::TensorView &t : file.tensors())
    tensors.push_back(
        st::OwnedTensor{t.name, t.dtype, t.shape,
                        std::vector<uint8_t>(t.bytes.begin(), t.bytes.end())});
  const std::string &path = scratchPath();
  if (llvm::Error error = st::write(path, tensors, file.metadata()))
    moefuzz::fail("write() refuses what parse() accepted",
                  llvm::toString(std::move(error)));
  llvm::Expected<st::File> copy = st::File::open(path);
  if (!copy)
    moefuzz::fail("the written file does not read back",
                  llvm::toString(copy.takeError()));
  if (copy->metadata() != file.metadata())
    moefuzz::fail("metadata changed in the round trip");
  if (copy->tensors().size() != file.tensors().size())
    moefuzz::fail("tensor count changed in the round trip");
  for (const st::TensorView &t : file.tensors()) {
    const st::TensorView *c = copy->find(t.name);
    if (!c || c->dtype != t.dtype || c->shape != t.shape || c->bytes != t.bytes)
      moefuzz::fail("tensor changed in the round trip", describe(t));
  }
}

namespace {
/// A buffer holding exactly the input's bytes in its own allocation, with no
/// terminator after them, so ASan flags a read even one byte past the end
/// (MemoryBuffer's own copies add a terminating NUL).
class ExactBuffer : public llvm::MemoryBuffer {
public:
  ExactBuffer(const uint8_t *data, size_t size) : storage(new char[size]) {
    if (size)
      std::memcpy(storage.get(), data, size);
    init(storage.get(), storage.get() + size,
         /*RequiresNullTerminator=*/false);
  }
  llvm::StringRef getBufferIdentifier() const override {
    return "fuzz.safetensors";
  }
  BufferKind getBufferKind() const override { return MemoryBuffer_Malloc; }

private:
  std::unique_ptr<char[]> storage;
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::ArrayRef<uint8_t> input(data, size);
  llvm::Expected<st::File> file =
      st::File::parse(std::make_unique<ExactBuffer>(data, size));
  if (!file) {
    std::string message = llvm::toString(file.takeError());
    if (moefuzz::verbose())
      llvm::errs() << message << "\n";
    if (!llvm::StringRef(message).starts_with("fuzz.safetensors: "))
      moefuzz::fail("error message does not start with the file name", message);
    return 0;
  }
  checkViews(*file, input);
  checkRoundTrip(*file);
  return 0;
}

/// Half of the mutations keep the file's layout: they mutate the JSON header
/// alone (a number of it, or libFuzzer's mutations) and rewrite the 8-byte
/// length in front of it, which byte-level mutations almost always break.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                          size_t maxSize, unsigned seed) {
  std::minstd_rand rng(seed);
  if (size >= 8 && rng() % 2 == 0) {
    uint64_t headerSize = llvm::support::endian::read64le(data);
    if (headerSize <= size - 8 && size <= maxSize) {
      std::vector<uint8_t> tail(data + 8 + headerSize, data + size);
      size_t maxHeader = maxSize - 8 - tail.size();
      std::vector<uint8_t> header(std::max<size_t>(maxHeader, 1));
      if (headerSize)
        std::memcpy(header.data(), data + 8, headerSize);
      size_t newSize = 0;
      if (rng() % 3 == 0)
        newSize =
            moefuzz::mutateNumber(header.data(), headerSize, maxHeader, rng);
      if (newSize == 0 && maxHeader > 0)
        newSize = LLVMFuzzerMutate(header.data(), headerSize, maxHeader);
      if (newSize > 0 && newSize <= maxHeader) {
        llvm::support::endian::write64le(data, newSize);
        std::memcpy(data + 8, header.data(), newSize);
        if (!tail.empty())
          std::memcpy(data + 8 + newSize, tail.data(), tail.size());
        return 8 + newSize + tail.size();
      }
    }
  }
  return LLVMFuzzerMutate(data, size, maxSize);
}
