//===- BufferCache.cpp - buffers the compiled layer reuses across calls ---===//

#include "moe/Runner/BufferCache.h"

#include "llvm/Support/ErrorHandling.h"

#include <cstdlib>

using namespace moe;

BufferCache::~BufferCache() {
  for (auto &[key, buffers] : idle)
    for (void *buffer : buffers)
      std::free(buffer);
}

void *BufferCache::allocate(size_t bytes, size_t alignment) {
  alignment = alignment < 64 ? 64 : alignment;
  if (alignment & (alignment - 1))
    return nullptr;
  // aligned_alloc wants a multiple of the alignment; equal shapes then ask
  // for equal keys.
  size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  if (rounded == 0)
    rounded = alignment;
  std::pair<size_t, size_t> key{rounded, alignment};
  std::lock_guard<std::mutex> lock(mutex);
  void *buffer = nullptr;
  auto it = idle.find(key);
  if (it != idle.end() && !it->second.empty()) {
    buffer = it->second.back();
    it->second.pop_back();
    idleTotal -= rounded;
  } else {
    buffer = std::aligned_alloc(alignment, rounded);
    if (!buffer)
      return nullptr;
  }
  live.emplace(buffer, Block{rounded, alignment});
  return buffer;
}

void BufferCache::release(void *buffer) {
  if (!buffer)
    return;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = live.find(buffer);
  // A buffer the compiled code had from elsewhere is a bug in the
  // lowering; freeing it here would hide that.
  if (it == live.end())
    llvm::report_fatal_error("BufferCache: released a buffer it did not "
                             "allocate");
  Block block = it->second;
  live.erase(it);
  if (idleTotal + block.bytes > idleLimit) {
    std::free(buffer);
    return;
  }
  idle[{block.bytes, block.alignment}].push_back(buffer);
  idleTotal += block.bytes;
}

size_t BufferCache::idleBytes() const {
  std::lock_guard<std::mutex> lock(mutex);
  return idleTotal;
}

size_t BufferCache::liveBuffers() const {
  std::lock_guard<std::mutex> lock(mutex);
  return live.size();
}

BufferCache &BufferCache::process() {
  // Never destroyed: compiled code may still release buffers while static
  // destructors run.
  static BufferCache *cache = new BufferCache();
  return *cache;
}
