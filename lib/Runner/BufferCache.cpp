//===- BufferCache.cpp - buffers the compiled layer reuses across calls ---===//

#include "moe/Runner/BufferCache.h"

#include "llvm/Support/ErrorHandling.h"

#include <cstdint>
#include <cstdlib>

using namespace moe;

namespace {

/// In front of every buffer, in the alignment padding before it: what
/// release() needs, without a lookup.
struct Header {
  void *block;
  size_t bytes, alignment;
  /// The owning cache's address mixed with kMagic: a buffer from elsewhere
  /// (or another cache) is refused.
  uintptr_t check;
};
constexpr uintptr_t kMagic = 0x6d6f652d62756621; // "moe-buf!"
static_assert(sizeof(Header) <= 64, "the header fits in the padding");

Header &headerOf(void *buffer) {
  return *reinterpret_cast<Header *>(static_cast<char *>(buffer) -
                                     sizeof(Header));
}

uintptr_t checkFor(const BufferCache *cache) {
  return reinterpret_cast<uintptr_t>(cache) ^ kMagic;
}

/// A thread's idle small buffers (64-byte aligned), by size in 64-byte
/// units, freed when the thread ends.
struct ThreadLists {
  static constexpr size_t kClasses = BufferCache::kSmallBytes / 64;
  std::vector<void *> lists[kClasses];
  size_t bytes = 0;
  ~ThreadLists() {
    for (auto &list : lists)
      for (void *buffer : list)
        std::free(headerOf(buffer).block);
  }
};
thread_local ThreadLists threadLists;

} // namespace

BufferCache::~BufferCache() {
  for (auto &[key, buffers] : idle)
    for (void *buffer : buffers)
      std::free(headerOf(buffer).block);
}

void *BufferCache::allocate(size_t bytes, size_t alignment) {
  alignment = alignment < 64 ? 64 : alignment;
  if (alignment & (alignment - 1))
    return nullptr;
  // Equal shapes ask for equal sizes; a multiple of the alignment, as
  // aligned_alloc wants for the block (the buffer and its padding).
  size_t rounded =
      bytes == 0 ? alignment : (bytes + alignment - 1) / alignment * alignment;
  if (rounded < bytes)
    return nullptr;
  void *buffer = nullptr;
  if (rounded <= kSmallBytes && alignment == 64) {
    auto &list = threadLists.lists[rounded / 64 - 1];
    if (!list.empty()) {
      buffer = list.back();
      list.pop_back();
      threadLists.bytes -= rounded;
    }
  } else {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = idle.find({rounded, alignment});
    if (it != idle.end() && !it->second.empty()) {
      buffer = it->second.back();
      it->second.pop_back();
      idleTotal -= rounded;
    }
  }
  if (!buffer) {
    // The header in an alignment's worth of padding before the buffer.
    if (rounded + alignment < rounded)
      return nullptr;
    void *block = std::aligned_alloc(alignment, rounded + alignment);
    if (!block)
      return nullptr;
    buffer = static_cast<char *>(block) + alignment;
    headerOf(buffer) = Header{block, rounded, alignment, 0};
  }
  headerOf(buffer).check = checkFor(this);
  ++live;
  return buffer;
}

void BufferCache::release(void *buffer) {
  if (!buffer)
    return;
  Header &header = headerOf(buffer);
  // A buffer the compiled code had from elsewhere is a bug in the
  // lowering; freeing it here would hide that.
  if (header.check != checkFor(this))
    llvm::report_fatal_error("BufferCache: released a buffer it did not "
                             "allocate");
  header.check = 0;
  --live;
  size_t rounded = header.bytes;
  if (rounded <= kSmallBytes && header.alignment == 64) {
    if (threadLists.bytes + rounded <= kThreadIdleBytes) {
      threadLists.lists[rounded / 64 - 1].push_back(buffer);
      threadLists.bytes += rounded;
      return;
    }
  } else {
    std::lock_guard<std::mutex> lock(mutex);
    if (idleTotal + rounded <= idleLimit) {
      idle[{rounded, header.alignment}].push_back(buffer);
      idleTotal += rounded;
      return;
    }
  }
  std::free(header.block);
}

size_t BufferCache::idleBytes() const {
  std::lock_guard<std::mutex> lock(mutex);
  return idleTotal;
}

BufferCache &BufferCache::process() {
  // Never destroyed: compiled code may still release buffers while static
  // destructors run.
  static BufferCache *cache = new BufferCache();
  return *cache;
}
