//===- BufferCache.h - buffers the compiled layer reuses across calls -----===//
//
// The compiled layer allocates its intermediate buffers (the dispatched
// rows, gate_up's activations, the combine's sums, the result) on every
// call. Fresh large allocations come from mmap and are returned to the
// kernel on free, so every call touches new pages: at 4096 tokens the page
// faults took a fifth of the layer's time on this VM. The CPU pipeline's
// generic-allocation option makes memref.alloc/dealloc call
// _mlir_memref_to_llvm_alloc/_free, and the JIT binds those to a
// BufferCache, which keeps freed buffers for the next call of the same size,
// as a serving engine's caching allocator does.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNNER_BUFFERCACHE_H
#define MOE_RUNNER_BUFFERCACHE_H

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace moe {

/// A thread-safe cache of freed buffers by size. Every buffer is 64-byte
/// aligned and its size rounded up to 64 bytes, so the calls of one shape
/// ask for, and get back, the same sizes. Idle buffers beyond `idleLimit`
/// bytes go back to the system.
class BufferCache {
public:
  explicit BufferCache(size_t idleLimit = size_t(1) << 30)
      : idleLimit(idleLimit) {}
  ~BufferCache();
  BufferCache(const BufferCache &) = delete;
  BufferCache &operator=(const BufferCache &) = delete;

  /// A buffer of at least `bytes`, aligned to max(64, alignment) (a power
  /// of two); nullptr where the system has no memory for it.
  void *allocate(size_t bytes, size_t alignment = 64);
  /// Takes back a buffer from allocate() (nullptr is ignored).
  void release(void *buffer);

  /// Bytes held for reuse, and buffers handed out and not yet released.
  size_t idleBytes() const;
  size_t liveBuffers() const;

  /// The process's cache, which the JIT-compiled layers' generic
  /// allocation functions use.
  static BufferCache &process();

private:
  struct Block {
    size_t bytes;
    size_t alignment;
  };
  mutable std::mutex mutex;
  std::unordered_map<void *, Block> live;
  /// Idle buffers by (bytes, alignment).
  std::map<std::pair<size_t, size_t>, std::vector<void *>> idle;
  size_t idleTotal = 0;
  size_t idleLimit;
};

} // namespace moe

#endif // MOE_RUNNER_BUFFERCACHE_H
