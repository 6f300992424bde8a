//===- BufferCache.h - buffers the compiled layer reuses across calls -----===//
//
// The compiled layer allocates its intermediate buffers (the dispatched
// rows, gate_up's activations, the combine's sums, the result) on every
// call, and every block of its kernels its own temporaries (thousands of
// small ones per call at decode). Fresh large allocations come from mmap
// and are returned to the kernel on free, so every call touched new pages:
// at 4096 tokens the page faults took a fifth of the layer's time on this
// VM; and the blocks' small allocations, on several threads, contended for
// one lock. The CPU pipeline's generic-allocation option makes
// memref.alloc/dealloc call _mlir_memref_to_llvm_alloc/_free, and the JIT
// binds those to a BufferCache, which keeps freed buffers for the next
// call of the same size, as a serving engine's caching allocator does:
// small ones in lists of the thread that freed them (no lock), large ones
// in lists shared under a lock.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNNER_BUFFERCACHE_H
#define MOE_RUNNER_BUFFERCACHE_H

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

namespace moe {

/// A thread-safe cache of freed buffers by size. Every buffer is aligned to
/// at least 64 bytes and its size rounded up to a multiple of its
/// alignment, so the calls of one shape ask for, and get back, the same
/// sizes. Buffers of up to kSmallBytes with 64-byte alignment are kept,
/// once freed, by the thread that freed them (up to kThreadIdleBytes per
/// thread; any BufferCache of that thread may reuse them); larger ones by
/// the cache, up to `idleLimit` bytes. The rest go back to the system.
class BufferCache {
public:
  static constexpr size_t kSmallBytes = 64 * 1024;
  static constexpr size_t kThreadIdleBytes = 16 << 20;

  explicit BufferCache(size_t idleLimit = size_t(1) << 30)
      : idleLimit(idleLimit) {}
  ~BufferCache();
  BufferCache(const BufferCache &) = delete;
  BufferCache &operator=(const BufferCache &) = delete;

  /// A buffer of at least `bytes`, aligned to max(64, alignment) (a power
  /// of two); nullptr where the system has no memory for it.
  void *allocate(size_t bytes, size_t alignment = 64);
  /// Takes back a buffer from allocate() (nullptr is ignored); a buffer
  /// from elsewhere is a fatal error.
  void release(void *buffer);

  /// Bytes of large buffers held for reuse, and buffers handed out and not
  /// yet released.
  size_t idleBytes() const;
  size_t liveBuffers() const { return live.load(); }

  /// The process's cache, which the JIT-compiled layers' generic
  /// allocation functions use.
  static BufferCache &process();

private:
  mutable std::mutex mutex;
  /// Idle large buffers by (bytes, alignment).
  std::map<std::pair<size_t, size_t>, std::vector<void *>> idle;
  size_t idleTotal = 0;
  size_t idleLimit;
  std::atomic<size_t> live{0};
};

} // namespace moe

#endif // MOE_RUNNER_BUFFERCACHE_H
