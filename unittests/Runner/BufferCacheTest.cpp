//===- BufferCacheTest.cpp - the compiled layer's buffer cache ------------===//

#include "moe/Runner/BufferCache.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

using moe::BufferCache;

namespace {

bool alignedTo(void *p, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

TEST(BufferCache, ReusesAReleasedBufferOfTheSameSize) {
  BufferCache cache;
  void *first = cache.allocate(1000);
  ASSERT_NE(first, nullptr);
  std::memset(first, 1, 1000);
  EXPECT_EQ(cache.liveBuffers(), 1u);
  cache.release(first);
  EXPECT_EQ(cache.liveBuffers(), 0u);
  EXPECT_EQ(cache.idleBytes(), 1024u); // rounded up to 64 bytes
  // 1000 and 1020 round to the same 1024: the same buffer again.
  void *second = cache.allocate(1020);
  EXPECT_EQ(second, first);
  EXPECT_EQ(cache.idleBytes(), 0u);
  // Another size while it is live: a new buffer.
  void *third = cache.allocate(4096);
  EXPECT_NE(third, first);
  cache.release(second);
  cache.release(third);
  EXPECT_EQ(cache.idleBytes(), 1024u + 4096u);
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
  void *big = cache.allocate(100, 4096);
  EXPECT_TRUE(alignedTo(big, 4096));
  cache.release(big);
  // Not a power of two: refused.
  EXPECT_EQ(cache.allocate(100, 96), nullptr);
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
  BufferCache cache(/*idleLimit=*/8192);
  void *a = cache.allocate(4096), *b = cache.allocate(4096),
       *c = cache.allocate(4096);
  cache.release(a);
  cache.release(b);
  cache.release(c); // past the limit: freed
  EXPECT_EQ(cache.idleBytes(), 8192u);
  EXPECT_EQ(cache.liveBuffers(), 0u);
}

TEST(BufferCacheDeathTest, RefusesABufferItDidNotAllocate) {
  BufferCache cache;
  int local = 0;
  EXPECT_DEATH(cache.release(&local), "did not allocate");
}

} // namespace
