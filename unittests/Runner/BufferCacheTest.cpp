//===- BufferCacheTest.cpp - the compiled layer's buffer cache ------------===//

#include "moe/Runner/BufferCache.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>

using moe::BufferCache;

namespace {

bool alignedTo(void *p, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

constexpr size_t kLarge = BufferCache::kSmallBytes + 1000;

TEST(BufferCache, ReusesASmallBufferOnItsThread) {
  BufferCache cache;
  void *first = cache.allocate(1000);
  ASSERT_NE(first, nullptr);
  std::memset(first, 1, 1000);
  EXPECT_EQ(cache.liveBuffers(), 1u);
  cache.release(first);
  EXPECT_EQ(cache.liveBuffers(), 0u);
  // 1000 and 1020 round to the same 1024: the same buffer again.
  void *second = cache.allocate(1020);
  EXPECT_EQ(second, first);
  // Another size while it is live: a new buffer.
  void *third = cache.allocate(4096);
  EXPECT_NE(third, first);
  cache.release(second);
  cache.release(third);
  // Small buffers wait in the thread's lists, not the cache's.
  EXPECT_EQ(cache.idleBytes(), 0u);
}

TEST(BufferCache, SharesALargeBufferAmongThreads) {
  BufferCache cache;
  void *first = cache.allocate(kLarge);
  ASSERT_NE(first, nullptr);
  std::memset(first, 1, kLarge);
  cache.release(first);
  size_t rounded = (kLarge + 63) / 64 * 64;
  EXPECT_EQ(cache.idleBytes(), rounded);
  void *again = nullptr;
  std::thread([&] { again = cache.allocate(kLarge); }).join();
  EXPECT_EQ(again, first);
  EXPECT_EQ(cache.idleBytes(), 0u);
  // Released on another thread than the one that allocated it.
  std::thread([&] { cache.release(again); }).join();
  EXPECT_EQ(cache.idleBytes(), rounded);
  EXPECT_EQ(cache.liveBuffers(), 0u);
}

TEST(BufferCache, HonoursAlignment) {
  BufferCache cache;
  for (size_t alignment : {1, 16, 64, 256, 4096}) {
    void *p = cache.allocate(100, alignment);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(alignedTo(p, alignment < 64 ? 64 : alignment)) << alignment;
    cache.release(p);
  }
  // A 64-byte aligned buffer is not handed out for a 4096-aligned request.
  void *small = cache.allocate(4096);
  cache.release(small);
  void *big = cache.allocate(4096, 4096);
  EXPECT_TRUE(alignedTo(big, 4096));
  cache.release(big);
  // Not a power of two: refused.
  EXPECT_EQ(cache.allocate(100, 96), nullptr);
  // Past what a size_t holds once rounded: refused, not wrapped.
  EXPECT_EQ(cache.allocate(SIZE_MAX - 10), nullptr);
}

TEST(BufferCache, ZeroBytesIsABuffer) {
  BufferCache cache;
  void *p = cache.allocate(0);
  EXPECT_NE(p, nullptr);
  cache.release(p);
  cache.release(nullptr); // ignored
  EXPECT_EQ(cache.liveBuffers(), 0u);
}

TEST(BufferCache, KeepsNoMoreThanItsIdleLimit) {
  size_t rounded = (kLarge + 63) / 64 * 64;
  BufferCache cache(/*idleLimit=*/2 * rounded);
  void *a = cache.allocate(kLarge), *b = cache.allocate(kLarge),
       *c = cache.allocate(kLarge);
  cache.release(a);
  cache.release(b);
  cache.release(c); // past the limit: freed
  EXPECT_EQ(cache.idleBytes(), 2 * rounded);
  EXPECT_EQ(cache.liveBuffers(), 0u);
}

TEST(BufferCacheDeathTest, RefusesABufferItDidNotAllocate) {
  BufferCache cache;
  alignas(64) char local[128] = {};
  EXPECT_DEATH(cache.release(local + 64), "did not allocate");
  BufferCache other;
  void *theirs = other.allocate(100);
  EXPECT_DEATH(cache.release(theirs), "did not allocate");
  other.release(theirs);
  // Released twice.
  void *once = cache.allocate(100);
  cache.release(once);
  EXPECT_DEATH(cache.release(once), "did not allocate");
}

} // namespace
