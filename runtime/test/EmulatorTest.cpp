//===- EmulatorTest.cpp - The SIMT emulator on hand-written kernels -------===//
//
// EmuToyKernels.c is an emulator library written by hand; each test runs
// one of its kernels through the Emulator and checks the numbers, or that
// the emulator reports what a GPU would get wrong (a race, a barrier not
// every thread reaches, a warp short of lanes, a read before cp.async
// landed, an access out of bounds) instead of hanging or passing.
//
//===----------------------------------------------------------------------===//

#include "Emulator.h"
#include "EmuMma.h"

#include "TestUtil.h"

#include <cmath>
#include <cstring>

using namespace moert;
using moert_test::contains;

namespace {

const std::vector<std::string> kKernels = {"block_sum",
                                           "block_sum_racy",
                                           "divergent_exit",
                                           "divergent_sites",
                                           "global_overflow",
                                           "shared_overflow",
                                           "mma",
                                           "mma_short",
                                           "mma_e4m3",
                                           "stage",
                                           "ticket",
                                           "stage_overwrite",
                                           "shared_atomics",
                                           "access_patterns"};

size_t kernelIndex(const std::string &name) {
  for (size_t i = 0; i < kKernels.size(); ++i)
    if (kKernels[i] == name)
      return i;
  ADD_FAILURE() << "no toy kernel " << name;
  return 0;
}

class EmulatorTest : public ::testing::Test {
protected:
  void SetUp() override {
    Error e = library.load(MOERT_EMU_TOY_LIBRARY, kKernels);
    ASSERT_FALSE(e) << e.message();
  }

  template <typename T>
  EmulatedBuffer buffer(std::vector<T> &v, const char *name) {
    return {uint64_t(reinterpret_cast<uintptr_t>(v.data())),
            uint64_t(v.size() * sizeof(T)), name};
  }

  Error run(const std::string &kernel, std::array<uint32_t, 3> grid,
            uint32_t threads, uint32_t sharedBytes, std::vector<void *> params,
            std::vector<EmulatedBuffer> buffers,
            EmulatorOptions options = EmulatorOptions()) {
    Emulator emulator(options);
    Error e =
        emulator.launch(library, kernelIndex(kernel), kernel, grid,
                        {threads, 1, 1}, sharedBytes, params.data(), buffers);
    stats = emulator.stats();
    return e;
  }

  EmulatorLibrary library;
  EmulatorStats stats;
};

TEST_F(EmulatorTest, BarrierSynchronisesABlock) {
  std::vector<float> in(4 * 64), out(4, -1.0f);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = float(i % 7);
  float *pin = in.data(), *pout = out.data();
  Error e = run("block_sum", {4, 1, 1}, 64, 64 * 4, {&pin, &pout},
                {buffer(in, "in"), buffer(out, "out")});
  ASSERT_FALSE(e) << e.message();
  for (int b = 0; b < 4; ++b) {
    float want = 0;
    for (int i = 0; i < 64; ++i)
      want += in[b * 64 + i];
    EXPECT_EQ(out[b], want) << "block " << b;
  }
  EXPECT_EQ(stats.blocks, 4u);
  EXPECT_EQ(stats.threads, 256u);
  EXPECT_EQ(stats.barriers, 256u);
}

TEST_F(EmulatorTest, MissingBarrierIsARace) {
  std::vector<float> in(64, 1.0f), out(1);
  float *pin = in.data(), *pout = out.data();
  Error e = run("block_sum_racy", {1, 1, 1}, 64, 64 * 4, {&pin, &pout},
                {buffer(in, "in"), buffer(out, "out")});
  ASSERT_TRUE(e);
  // Thread 0 runs first, to its end: it reads thread 1's float (bytes
  // 4..7) before thread 1 has written it, with no barrier between.
  EXPECT_TRUE(contains(e.message(), "shared-memory race (write after read)"));
  EXPECT_TRUE(contains(e.message(), "kernel 'block_sum_racy' block (0,0,0)"));
  EXPECT_TRUE(contains(e.message(), "thread 1 writes byte offset 4"));
  EXPECT_TRUE(contains(e.message(), "that thread 0 read"));
}

TEST_F(EmulatorTest, UncheckedModeSkipsTheRaceCheck) {
  std::vector<float> in(64, 1.0f), out(1);
  float *pin = in.data(), *pout = out.data();
  EmulatorOptions options;
  options.checks = false;
  Error e = run("block_sum_racy", {1, 1, 1}, 64, 64 * 4, {&pin, &pout},
                {buffer(in, "in"), buffer(out, "out")}, options);
  EXPECT_FALSE(e) << e.message();
}

TEST_F(EmulatorTest, BarrierSomeThreadsSkipIsAnErrorNotAHang) {
  Error e = run("divergent_exit", {1, 1, 1}, 8, 0, {}, {});
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e.message(), "barrier reached by only some threads"));
  EXPECT_TRUE(contains(e.message(), "exited"));
  EXPECT_TRUE(contains(e.message(), "barrier0 A in toy"));
}

TEST_F(EmulatorTest, ThreadsAtDifferentBarriersAreDivergent) {
  Error e = run("divergent_sites", {1, 1, 1}, 8, 0, {}, {});
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e.message(), "wait at different barriers"));
  EXPECT_TRUE(contains(e.message(), "threads 0-6 step 2 at barrier0 A in toy"));
  EXPECT_TRUE(contains(e.message(), "threads 1-7 step 2 at barrier0 B in toy"));
}

TEST_F(EmulatorTest, GlobalAccessPastTheBufferIsReported) {
  std::vector<float> out(10);
  float *p = out.data();
  int64_t n = 10;
  Error e =
      run("global_overflow", {1, 1, 1}, 32, 0, {&p, &n}, {buffer(out, "out")});
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e.message(), "global-memory store out of bounds"));
  EXPECT_TRUE(contains(e.message(), "at offset 40 of buffer 'out' (40 bytes)"));
  EXPECT_TRUE(contains(e.message(), "thread 0"));
}

TEST_F(EmulatorTest, SharedAccessPastTheDynamicSizeIsReported) {
  int64_t bytes = 256;
  Error e = run("shared_overflow", {1, 1, 1}, 32, 256, {&bytes}, {});
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e.message(), "shared-memory load out of bounds"));
  EXPECT_TRUE(contains(e.message(), "offset 256 of 256 bytes"));
}

/// bf16 bits of small integers and halves: exact in both formats.
uint16_t bits(moert_emu_mma_type type, float f) {
  if (type == MOERT_EMU_MMA_BF16)
    return moert_test::exactBf16(f);
  // f16 of a value k / 4 with |k| < 64: exponent and mantissa by hand.
  if (f == 0)
    return 0;
  uint16_t sign = f < 0 ? 0x8000 : 0;
  float m = std::fabs(f);
  int e = 0;
  while (m >= 2) {
    m /= 2;
    ++e;
  }
  while (m < 1) {
    m *= 2;
    --e;
  }
  return uint16_t(sign | ((e + 15) << 10) | uint16_t((m - 1) * 1024));
}

TEST_F(EmulatorTest, MmaMatchesAPlainProductWithCuteLayouts) {
  for (moert_emu_mma_type type : {MOERT_EMU_MMA_BF16, MOERT_EMU_MMA_F16}) {
    std::vector<uint16_t> a(16 * 16), b(16 * 8);
    std::vector<float> av(a.size()), bv(b.size()), d(16 * 8, NAN);
    for (int m = 0; m < 16; ++m)
      for (int k = 0; k < 16; ++k)
        av[m * 16 + k] = float((m * 7 + k * 3) % 11 - 5) / 4;
    for (int k = 0; k < 16; ++k)
      for (int n = 0; n < 8; ++n)
        bv[k * 8 + n] = float((k * 5 + n * 9) % 13 - 6) / 2;
    for (size_t i = 0; i < a.size(); ++i)
      a[i] = bits(type, av[i]);
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = bits(type, bv[i]);
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_EQ(halfToFloat(type, a[i]), av[i]) << "element " << i;
    uint16_t *pa = a.data(), *pb = b.data();
    float *pd = d.data();
    int64_t t = type;
    Error e = run("mma", {1, 1, 1}, 64, 0, {&pa, &pb, &pd, &t}, {});
    ASSERT_FALSE(e) << e.message();
    EXPECT_EQ(stats.mmas, 2u); // One per warp.
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        float want = 0;
        for (int k = 0; k < 16; ++k)
          want += av[m * 16 + k] * bv[k * 8 + n];
        EXPECT_EQ(d[m * 8 + n], want)
            << "type " << type << " d[" << m << "][" << n << "]";
      }
  }
}

/// e4m3 bits of k / 8 for |k| <= 120 (exact: at most 4 significant bits
/// for |k| < 16 and multiples of 8 above), sign, exponent and mantissa by
/// hand; 0.125 = 2^-3 is normal (the smallest normal is 2^-6).
uint8_t e4m3Bits(int k) {
  if (k == 0)
    return 0;
  uint8_t sign = k < 0 ? 0x80 : 0;
  unsigned m = unsigned(k < 0 ? -k : k);
  int e = -3; // value = m * 2^-3
  while (m >= 16) {
    EXPECT_EQ(m % 2, 0u) << k << " / 8 is not exact in e4m3";
    m /= 2;
    ++e;
  }
  while (m < 8) {
    m *= 2;
    --e;
  }
  // value = (m / 8) * 2^(e + 3), m in 8..15.
  return uint8_t(sign | ((e + 3 + 7) << 3) | (m - 8));
}

TEST_F(EmulatorTest, E4M3DecodesEveryClass) {
  EXPECT_EQ(e4m3ToFloat(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(e4m3ToFloat(0x80)));
  EXPECT_EQ(e4m3ToFloat(0x01), std::ldexp(1.0f, -9)); // smallest subnormal
  EXPECT_EQ(e4m3ToFloat(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3ToFloat(0x08), std::ldexp(1.0f, -6)); // smallest normal
  EXPECT_EQ(e4m3ToFloat(0x38), 1.0f);
  EXPECT_EQ(e4m3ToFloat(0xB8), -1.0f);
  EXPECT_EQ(e4m3ToFloat(0x7E), 448.0f); // largest finite
  EXPECT_TRUE(std::isnan(e4m3ToFloat(0x7F)));
  EXPECT_TRUE(std::isnan(e4m3ToFloat(0xFF)));
  for (int k = -15; k <= 15; ++k)
    EXPECT_EQ(e4m3ToFloat(e4m3Bits(k)), float(k) / 8) << k;
}

TEST_F(EmulatorTest, E4M3MmaMatchesAPlainProductWithCuteLayouts) {
  std::vector<uint8_t> a(16 * 32), b(32 * 8);
  std::vector<float> av(a.size()), bv(b.size()), d(16 * 8, NAN);
  for (int m = 0; m < 16; ++m)
    for (int k = 0; k < 32; ++k) {
      int v = (m * 7 + k * 3) % 31 - 15;
      av[m * 32 + k] = float(v) / 8;
      a[m * 32 + k] = e4m3Bits(v);
    }
  for (int k = 0; k < 32; ++k)
    for (int n = 0; n < 8; ++n) {
      int v = ((k * 5 + n * 9) % 13 - 6) * 8;
      bv[k * 8 + n] = float(v) / 8;
      b[k * 8 + n] = e4m3Bits(v);
    }
  uint8_t *pa = a.data(), *pb = b.data();
  float *pd = d.data();
  EmulatorOptions options;
  options.profile = true;
  Error e = run("mma_e4m3", {1, 1, 1}, 64, 0, {&pa, &pb, &pd}, {}, options);
  ASSERT_FALSE(e) << e.message();
  EXPECT_EQ(stats.mmas, 2u); // One per warp.
  ASSERT_EQ(stats.kernels.size(), 1u);
  EXPECT_EQ(stats.kernels[0].fp8MmaCount, 2u);
  EXPECT_EQ(stats.kernels[0].mmaCount, 0u);
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      float want = 0;
      for (int k = 0; k < 32; ++k)
        want += av[m * 32 + k] * bv[k * 8 + n];
      EXPECT_EQ(d[m * 8 + n], want) << "d[" << m << "][" << n << "]";
    }
}

TEST_F(EmulatorTest, MmaWithMissingLanesIsAnError) {
  std::vector<uint16_t> a(256), b(128);
  std::vector<float> d(128);
  uint16_t *pa = a.data(), *pb = b.data();
  float *pd = d.data();
  int64_t t = MOERT_EMU_MMA_BF16;
  Error e = run("mma_short", {1, 1, 1}, 32, 0, {&pa, &pb, &pd, &t}, {});
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e.message(), "waits at mma.sync for lanes that never "
                                    "arrive"));
  EXPECT_TRUE(contains(e.message(), "threads 0-15 at mma in toy"));
  EXPECT_TRUE(contains(e.message(), "threads 16-31 exited"));
}

TEST_F(EmulatorTest, AsyncCopiesLandAtTheirWait) {
  // wait_group 0 lands both groups; wait_group 1 leaves the odd threads'
  // group in flight: unchecked, they read the 0xFF poison; checked, the
  // read is reported.
  for (int64_t wait : {0, 1})
    for (bool checks : {false, true}) {
      std::vector<float> in(8 * 4), out(8 * 4, 0.0f);
      for (size_t i = 0; i < in.size(); ++i)
        in[i] = float(i);
      float *pin = in.data(), *pout = out.data();
      EmulatorOptions options;
      options.checks = checks;
      Error e = run("stage", {1, 1, 1}, 8, 8 * 16, {&pin, &pout, &wait},
                    {buffer(in, "in"), buffer(out, "out")}, options);
      if (wait == 1 && checks) {
        ASSERT_TRUE(e);
        EXPECT_TRUE(contains(e.message(),
                             "shared-memory race (cp.async in flight) in "
                             "kernel 'stage' block (0,0,0): thread 1 reads "
                             "byte offset 16"));
        EXPECT_TRUE(contains(e.message(), "while a cp.async into it is in "
                                          "flight"));
        continue;
      }
      ASSERT_FALSE(e) << e.message();
      EXPECT_EQ(stats.asyncCopies, 8u);
      for (int tid = 0; tid < 8; ++tid)
        for (int i = 0; i < 4; ++i) {
          float v = out[tid * 4 + i];
          if (wait == 1 && tid % 2 == 1) {
            uint32_t raw;
            std::memcpy(&raw, &v, 4);
            EXPECT_EQ(raw, 0xFFFFFFFFu) << "thread " << tid << " read early";
          } else {
            EXPECT_EQ(v, in[tid * 4 + i])
                << "wait " << wait << " thread " << tid;
          }
        }
    }
}

TEST_F(EmulatorTest, AsyncCopyIntoBytesAnotherThreadReadIsARace) {
  std::vector<float> in(8, 1.0f);
  float *pin = in.data();
  Error e =
      run("stage_overwrite", {1, 1, 1}, 2, 64, {&pin}, {buffer(in, "in")});
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e.message(), "shared-memory race (write after read)"));
  EXPECT_TRUE(contains(e.message(), "thread 1 writes byte offset 16"));
  EXPECT_TRUE(contains(e.message(), "that thread 0 read"));
}

TEST_F(EmulatorTest, AnEmulatorRunsOnAfterAFailedLaunch) {
  // The failed launch abandons its threads mid-call; the next launch on
  // the same emulator reuses their stacks.
  Emulator emulator{EmulatorOptions()};
  std::vector<uint16_t> a(256), b(128);
  std::vector<float> d(128);
  uint16_t *pa = a.data(), *pb = b.data();
  float *pd = d.data();
  int64_t t = MOERT_EMU_MMA_BF16;
  std::vector<void *> mmaParams = {&pa, &pb, &pd, &t};
  Error e = emulator.launch(library, kernelIndex("mma_short"), "mma_short",
                            {1, 1, 1}, {64, 1, 1}, 0, mmaParams.data(), {});
  ASSERT_TRUE(e);
  std::vector<float> in(64, 2.0f), out(1);
  float *pin = in.data(), *pout = out.data();
  std::vector<void *> sumParams = {&pin, &pout};
  e = emulator.launch(library, kernelIndex("block_sum"), "block_sum", {1, 1, 1},
                      {64, 1, 1}, 256, sumParams.data(),
                      {buffer(in, "in"), buffer(out, "out")});
  ASSERT_FALSE(e) << e.message();
  EXPECT_EQ(out[0], 128.0f);
}

TEST_F(EmulatorTest, SharedAtomicsRaceOnlyWithPlainAccesses) {
  std::vector<float> out(1);
  float *pout = out.data();
  int64_t plain = 0;
  Error e = run("shared_atomics", {1, 1, 1}, 64, 16, {&pout, &plain},
                {buffer(out, "out")});
  ASSERT_FALSE(e) << e.message();
  EXPECT_EQ(out[0], 64.0f);
  plain = 1;
  e = run("shared_atomics", {1, 1, 1}, 64, 16, {&pout, &plain},
          {buffer(out, "out")});
  ASSERT_TRUE(e);
  // Thread 0 reads the word it updated atomically; thread 1 then updates it.
  EXPECT_TRUE(contains(e.message(), "shared-memory race (write after read)"));
  EXPECT_TRUE(contains(e.message(), "thread 1 updates byte offset 0"));
  EXPECT_TRUE(contains(e.message(), "that thread 0 read"));
}

TEST_F(EmulatorTest, TicketsFindTheLastBlockInEveryOrder) {
  const uint32_t blocks = 6;
  std::vector<uint32_t> winners;
  for (unsigned concurrent : {1u, 2u})
    for (uint64_t seed : {0u, 1u, 2u, 3u}) {
      std::vector<float> partial(blocks), out(2, -1.0f);
      std::vector<int32_t> counter(1, 0);
      float *pp = partial.data(), *po = out.data();
      int32_t *pc = counter.data();
      EmulatorOptions options;
      options.shuffle = seed != 0;
      options.seed = seed;
      options.concurrentBlocks = concurrent;
      Error e = run("ticket", {blocks, 1, 1}, 32, 16, {&pp, &pc, &po},
                    {buffer(partial, "partial"), buffer(counter, "counter"),
                     buffer(out, "out")},
                    options);
      ASSERT_FALSE(e) << e.message();
      EXPECT_EQ(out[0], float(blocks * (blocks + 1) / 2))
          << "seed " << seed << " concurrent " << concurrent;
      EXPECT_EQ(counter[0], int32_t(blocks));
      winners.push_back(uint32_t(out[1]));
    }
  // Grid order ends with the last block; some shuffle ends elsewhere.
  EXPECT_EQ(winners[0], blocks - 1);
  bool other = false;
  for (uint32_t w : winners)
    other |= w != blocks - 1;
  EXPECT_TRUE(other) << "no order made another block the last";
}

/// The profile of a launch whose accesses are known: coalesced and strided
/// global loads, a bank-conflicted shared store, a store, a barrier.
TEST_F(EmulatorTest, ProfileCountsWarpRequestsSectorsAndBankConflicts) {
  const int64_t threads = 64, stride = 8;
  // Sectors count from absolute addresses: both buffers 32-byte aligned,
  // as cudaMalloc's are.
  std::vector<float> inStore(threads * stride + 8, 1.0f), outStore(threads + 8);
  auto aligned = [](std::vector<float> &v) {
    uintptr_t p = reinterpret_cast<uintptr_t>(v.data());
    return reinterpret_cast<float *>((p + 31) / 32 * 32);
  };
  float *pin = aligned(inStore), *pout = aligned(outStore);
  int64_t s = stride;
  EmulatorOptions options;
  options.profile = true;
  EmulatedBuffer weights{uint64_t(reinterpret_cast<uintptr_t>(pin)),
                         uint64_t(threads * stride * 4), "in", true};
  EmulatedBuffer out{uint64_t(reinterpret_cast<uintptr_t>(pout)),
                     uint64_t(threads * 4), "out"};
  Error e = run("access_patterns", {3, 1, 1}, threads, threads * stride * 4,
                {&pin, &pout, &s}, {weights, out}, options);
  ASSERT_FALSE(e) << e.message();
  ASSERT_EQ(stats.kernels.size(), 1u);
  const KernelProfile &k = stats.kernels[0];
  EXPECT_EQ(k.name, "access_patterns");
  EXPECT_EQ(k.grid[0], 3u);
  EXPECT_EQ(k.dynamicSharedMemory, uint32_t(threads * stride * 4));
  EXPECT_EQ(k.workingBlocks, 3u);
  // Per block: 2 warps x 3 global sites = 6 requests; sectors per warp:
  // site 0: 4, site 1: 32 (one per lane), site 3: 4.
  EXPECT_EQ(k.globalRequests, 3u * 6);
  EXPECT_EQ(k.globalSectors, 3u * 2 * (4 + 32 + 4));
  EXPECT_EQ(k.loadSectors, 3u * 2 * (4 + 32));
  EXPECT_EQ(k.requestedLoadBytes, 3u * 2 * threads * 4);
  EXPECT_EQ(k.requestedGlobalBytes, 3u * 3 * threads * 4);
  // Stride 8 floats: lanes 0, 4, 8, ... share a bank, 8 words in each of 4
  // banks: 7 extra wavefronts per warp request.
  EXPECT_EQ(k.sharedRequests, 3u * 2);
  EXPECT_EQ(k.sharedBankConflicts, 3u * 2 * 7);
  // Distinct sectors over the launch: in[0..64) and the strided in[] (64
  // elements 32 bytes apart: 64 sectors, the first 8 shared with in[0..64)),
  // out[0..64): 8 sectors.
  EXPECT_EQ(k.dramBytes, 32u * (64 + 8));
  EXPECT_EQ(k.barriers, 3u);
  EXPECT_EQ(k.atomics, 0u);
  EXPECT_EQ(k.mmaCount, 0u);
}

TEST_F(EmulatorTest, ProfileOffCountsNothingPerLaunch) {
  const int64_t threads = 32;
  std::vector<float> in(threads * 8, 1.0f), out(threads);
  float *pin = in.data(), *pout = out.data();
  int64_t s = 1;
  Error e = run("access_patterns", {1, 1, 1}, threads, threads * 8 * 4,
                {&pin, &pout, &s}, {buffer(in, "in"), buffer(out, "out")});
  ASSERT_FALSE(e) << e.message();
  EXPECT_TRUE(stats.kernels.empty());
}

TEST_F(EmulatorTest, ProfileCountsWarpMmas) {
  EmulatorOptions options;
  options.profile = true;
  std::vector<uint16_t> a(16 * 16), b(16 * 8);
  std::vector<float> d(16 * 8);
  uint16_t *pa = a.data(), *pb = b.data();
  float *pd = d.data();
  int64_t type = MOERT_EMU_MMA_BF16;
  Error e = run("mma", {1, 1, 1}, 32, 0, {&pa, &pb, &pd, &type}, {}, options);
  ASSERT_FALSE(e) << e.message();
  ASSERT_EQ(stats.kernels.size(), 1u);
  EXPECT_EQ(stats.kernels[0].mmaCount, 1u);
}

TEST_F(EmulatorTest, LibraryWithoutTheAbiIsRefused) {
  EmulatorLibrary wrong;
  Error e = wrong.load(MOERT_TOY_LIBRARY, {});
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e.message(), "is not an emulator library"));
  EmulatorLibrary missing;
  e = missing.load(MOERT_EMU_TOY_LIBRARY, {"no_such_kernel"});
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e.message(), "__moe_emu_kernel_no_such_kernel"));
}

} // namespace
