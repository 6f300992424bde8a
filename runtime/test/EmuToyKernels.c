/*===- EmuToyKernels.c - A hand-written emulator library for tests ---------===*\
|*                                                                            *|
|* Kernels in the emulator library ABI (moert_emu_abi.h) written by hand, so  *|
|* the emulator's scheduling, barriers, warp collectives, cp.async groups,    *|
|* atomics and checks are tested apart from the compiler that emits such      *|
|* libraries. Each kernel runs one GPU thread per call.                       *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "moert/moert_emu_abi.h"

#include <stdint.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT void *__moe_emu_api[MOERT_EMU_NUM_SLOTS];
EXPORT const uint32_t __moe_emu_abi_version = MOERT_EMU_ABI_VERSION;
EXPORT const uint32_t __moe_emu_num_sites = 4;
EXPORT const char *const __moe_emu_sites[] = {
    "load in toy", "barrier0 A in toy", "barrier0 B in toy", "mma in toy"};

static uint32_t sreg(uint32_t which) {
  return ((uint32_t(*)(uint32_t))__moe_emu_api[MOERT_EMU_SREG])(which);
}
static void barrier(uint32_t site) {
  ((void (*)(uint32_t))__moe_emu_api[MOERT_EMU_BARRIER])(site);
}
static void check(const void *p, uint64_t bytes, uint32_t flags) {
  ((void (*)(const void *, uint64_t, uint32_t,
             uint32_t))__moe_emu_api[MOERT_EMU_CHECK_ACCESS])(p, bytes, flags,
                                                              0);
}
static float *shared(void) {
  return (float *)((void *(*)(void))__moe_emu_api[MOERT_EMU_SHARED_BASE])();
}
static void fence(void) {
  ((void (*)(uint32_t))__moe_emu_api[MOERT_EMU_FENCE])(0);
}
static float loadGlobal(const float *p) {
  check(p, 4, MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_GLOBAL);
  return *p;
}
static void storeGlobal(float *p, float v) {
  check(p, 4, MOERT_EMU_ACCESS_WRITE | MOERT_EMU_ACCESS_GLOBAL);
  *p = v;
}
static float loadShared(const float *p) {
  check(p, 4, MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_SHARED);
  return *p;
}
static void storeShared(float *p, float v) {
  check(p, 4, MOERT_EMU_ACCESS_WRITE | MOERT_EMU_ACCESS_SHARED);
  *p = v;
}

/* Block sums: out[b] = sum of in[b * ntid .. b * ntid + ntid). With
 * `withBarrier` 0 thread 0 reads its neighbours' writes unsynchronised. */
static void blockSum(void **params, int withBarrier) {
  const float *in = *(const float **)params[0];
  float *out = *(float **)params[1];
  uint32_t tid = sreg(MOERT_EMU_TID_X), ntid = sreg(MOERT_EMU_NTID_X);
  uint32_t block = sreg(MOERT_EMU_CTAID_X);
  float *s = shared();
  storeShared(&s[tid], loadGlobal(&in[block * ntid + tid]));
  if (withBarrier)
    barrier(1);
  if (tid == 0) {
    float sum = 0;
    for (uint32_t i = 0; i < ntid; ++i)
      sum += loadShared(&s[i]);
    storeGlobal(&out[block], sum);
  }
}
EXPORT void __moe_emu_kernel_block_sum(void **params) { blockSum(params, 1); }
EXPORT void __moe_emu_kernel_block_sum_racy(void **params) {
  blockSum(params, 0);
}

/* Odd threads skip the barrier: they exit (`sites` 0) or wait at another
 * barrier (`sites` 1). */
EXPORT void __moe_emu_kernel_divergent_exit(void **params) {
  (void)params;
  if (sreg(MOERT_EMU_TID_X) % 2 == 0)
    barrier(1);
}
EXPORT void __moe_emu_kernel_divergent_sites(void **params) {
  (void)params;
  barrier(sreg(MOERT_EMU_TID_X) % 2 == 0 ? 1 : 2);
}

/* Out-of-bounds accesses: out[n] for a buffer of n floats; shared memory
 * one float past the dynamic size (params[1] points at that size). */
EXPORT void __moe_emu_kernel_global_overflow(void **params) {
  float *out = *(float **)params[0];
  int64_t n = *(const int64_t *)params[1];
  if (sreg(MOERT_EMU_TID_X) == 0)
    storeGlobal(&out[n], 1.0f);
}
EXPORT void __moe_emu_kernel_shared_overflow(void **params) {
  int64_t bytes = *(const int64_t *)params[0];
  if (sreg(MOERT_EMU_TID_X) == 0)
    (void)loadShared(&shared()[bytes / 4]);
}

/* mma.sync m16n8k16 with fragments placed by CuTe's MMA_Traits for
 * SM80_16x8x16_F32BF16BF16F32_TN (an encoding of the PTX ISA's layouts
 * written independently of the emulator's): lane = t0 + 4 * t1,
 *   A (M x K, column-major index m + 16 k): ((4,8),(2,2,2)) : ((32,1),(16,8,128))
 *   B (N x K, index n + 8 k):               ((4,8),(2,2))   : ((16,1),(8,64))
 *   C (M x N, index m + 16 n):              ((4,8),(2,2))   : ((32,1),(16,8))
 * params: a [16*16] u16 row-major (m, k), b [16*8] u16 (k, n) row-major,
 * d [16*8] f32 row-major; `lanes` lanes take part (32 for a correct run). */
static void mmaKernel(void **params, uint32_t lanes) {
  const uint16_t *a = *(const uint16_t **)params[0];
  const uint16_t *b = *(const uint16_t **)params[1];
  float *d = *(float **)params[2];
  uint32_t type = (uint32_t) * (const int64_t *)params[3];
  uint32_t lane = sreg(MOERT_EMU_LANEID);
  if (lane >= lanes)
    return;
  uint32_t t0 = lane % 4, t1 = lane / 4;
  uint32_t ra[4] = {0, 0, 0, 0}, rb[2] = {0, 0};
  float rc[4] = {0, 0, 0, 0}, rd[4];
  for (uint32_t v = 0; v < 8; ++v) {
    uint32_t idx = t0 * 32 + t1 * 1 + (v & 1) * 16 + ((v >> 1) & 1) * 8 +
                   (v >> 2) * 128;
    uint32_t m = idx % 16, k = idx / 16;
    ra[v / 2] |= (uint32_t)a[m * 16 + k] << (16 * (v & 1));
  }
  for (uint32_t v = 0; v < 4; ++v) {
    uint32_t idx = t0 * 16 + t1 * 1 + (v & 1) * 8 + (v >> 1) * 64;
    uint32_t n = idx % 8, k = idx / 8;
    rb[v / 2] |= (uint32_t)b[k * 8 + n] << (16 * (v & 1));
  }
  for (uint32_t v = 0; v < 4; ++v)
    rc[v] = (float)v; /* C = 0, 1, 2, 3 per lane, added as given */
  ((void (*)(uint32_t, uint32_t, const uint32_t *, const uint32_t *,
             const float *, float *))__moe_emu_api[MOERT_EMU_MMA_M16N8K16])(
      type, 3, ra, rb, rc, rd);
  for (uint32_t v = 0; v < 4; ++v) {
    uint32_t idx = t0 * 32 + t1 * 1 + (v & 1) * 16 + (v >> 1) * 8;
    uint32_t m = idx % 16, n = idx / 16;
    d[m * 8 + n] = rd[v] - (float)v;
  }
}
EXPORT void __moe_emu_kernel_mma(void **params) { mmaKernel(params, 32); }

/* mma.sync m16n8k32 e4m3 with fragments placed by CuTe's MMA_Traits for
 * SM89_16x8x32_F32E4M3E4M3F32_TN (those of SM80_16x8x32_S32S8S8S32_TN):
 *   A (M x K, index m + 16 k): ((4,8),(4,2,2)) : ((64,1),(16,8,256))
 *   B (N x K, index n + 8 k):  ((4,8),(4,2))   : ((32,1),(8,128))
 *   C as for m16n8k16.
 * params: a [16*32] e4m3 bytes row-major (m, k), b [32*8] bytes (k, n)
 * row-major, d [16*8] f32 row-major. */
EXPORT void __moe_emu_kernel_mma_e4m3(void **params) {
  const uint8_t *a = *(const uint8_t **)params[0];
  const uint8_t *b = *(const uint8_t **)params[1];
  float *d = *(float **)params[2];
  uint32_t lane = sreg(MOERT_EMU_LANEID);
  uint32_t t0 = lane % 4, t1 = lane / 4;
  uint32_t ra[4] = {0, 0, 0, 0}, rb[2] = {0, 0};
  float rc[4] = {0, 0, 0, 0}, rd[4];
  for (uint32_t v = 0; v < 16; ++v) {
    uint32_t idx =
        t0 * 64 + t1 * 1 + (v & 3) * 16 + ((v >> 2) & 1) * 8 + (v >> 3) * 256;
    uint32_t m = idx % 16, k = idx / 16;
    ra[v / 4] |= (uint32_t)a[m * 32 + k] << (8 * (v & 3));
  }
  for (uint32_t v = 0; v < 8; ++v) {
    uint32_t idx = t0 * 32 + t1 * 1 + (v & 3) * 8 + (v >> 2) * 128;
    uint32_t n = idx % 8, k = idx / 8;
    rb[v / 4] |= (uint32_t)b[k * 8 + n] << (8 * (v & 3));
  }
  ((void (*)(uint32_t, uint32_t, const uint32_t *, const uint32_t *,
             const float *, float *))__moe_emu_api[MOERT_EMU_MMA_M16N8K16])(
      MOERT_EMU_MMA_E4M3, 3, ra, rb, rc, rd);
  for (uint32_t v = 0; v < 4; ++v) {
    uint32_t idx = t0 * 32 + t1 * 1 + (v & 1) * 16 + (v >> 1) * 8;
    uint32_t m = idx % 16, n = idx / 16;
    d[m * 8 + n] = rd[v];
  }
}
EXPORT void __moe_emu_kernel_mma_short(void **params) {
  mmaKernel(params, 16);
}

/* cp.async: thread i stages in[i*4 .. i*4+4) (16 bytes) into shared memory
 * in two commit groups (even threads' first), waits with `wait_group`
 * params[2], meets at a barrier and writes shared memory out in order:
 * with wait 0 a copy of `in`; with wait 1 the odd threads' group has not
 * landed and their part of out is the 0xFF poison. */
EXPORT void __moe_emu_kernel_stage(void **params) {
  const float *in = *(const float **)params[0];
  float *out = *(float **)params[1];
  uint32_t wait = (uint32_t) * (const int64_t *)params[2];
  uint32_t tid = sreg(MOERT_EMU_TID_X);
  float *s = shared();
  void (*copy)(void *, const void *, uint32_t, uint32_t, uint32_t) =
      (void (*)(void *, const void *, uint32_t, uint32_t,
                uint32_t))__moe_emu_api[MOERT_EMU_CP_ASYNC];
  void (*commit)(void) = (void (*)(void))__moe_emu_api[MOERT_EMU_CP_ASYNC_COMMIT];
  void (*waitGroup)(uint32_t, uint32_t) =
      (void (*)(uint32_t, uint32_t))__moe_emu_api[MOERT_EMU_CP_ASYNC_WAIT];
  if (tid % 2 == 0)
    copy(&s[tid * 4], &in[tid * 4], 16, 16, 0);
  commit();
  if (tid % 2 == 1)
    copy(&s[tid * 4], &in[tid * 4], 16, 16, 0);
  commit();
  waitGroup(wait, 0);
  barrier(1);
  for (uint32_t i = 0; i < 4; ++i)
    storeGlobal(&out[tid * 4 + i], loadShared(&s[tid * 4 + i]));
}

/* What the profiler counts, one pattern per site (site = the check's last
 * argument): params in [n] f32 (a weight buffer), out [n] f32, stride (i64).
 * Site 0: thread i loads in[i] (a warp reads 128 consecutive bytes: 4
 * sectors); site 1: thread i loads in[i * stride] (stride 8: one sector
 * per lane, 32); site 2: thread i stores s[i * stride] to shared memory
 * (stride 8: 4 lanes per bank, 3 extra wavefronts); site 3: thread i
 * stores out[i]. Warps are 32 threads; a block of 64 threads is 2 warps. */
static void checkAt(const void *p, uint64_t bytes, uint32_t flags,
                    uint32_t site) {
  ((void (*)(const void *, uint64_t, uint32_t,
             uint32_t))__moe_emu_api[MOERT_EMU_CHECK_ACCESS])(p, bytes, flags,
                                                              site);
}
EXPORT void __moe_emu_kernel_access_patterns(void **params) {
  const float *in = *(const float **)params[0];
  float *out = *(float **)params[1];
  int64_t stride = *(const int64_t *)params[2];
  uint32_t tid = sreg(MOERT_EMU_TID_X);
  float *s = shared();
  checkAt(&in[tid], 4, MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_GLOBAL, 0);
  float v = in[tid];
  checkAt(&in[tid * stride], 4,
          MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_GLOBAL, 1);
  v += in[tid * stride];
  checkAt(&s[tid * stride], 4,
          MOERT_EMU_ACCESS_WRITE | MOERT_EMU_ACCESS_SHARED, 2);
  s[tid * stride] = v;
  checkAt(&out[tid], 4, MOERT_EMU_ACCESS_WRITE | MOERT_EMU_ACCESS_GLOBAL, 3);
  out[tid] = v;
  barrier(1);
}

/* The "last block to finish" ticket: each block writes its partial (its
 * index + 1), thread 0 takes a ticket between fences, and the block that
 * draws the last one writes the sum of all partials to out[0] and its own
 * index to out[1]. params: partial [grid], counter [1] i32 zeroed, out [2]. */
EXPORT void __moe_emu_kernel_ticket(void **params) {
  float *partial = *(float **)params[0];
  int32_t *counter = *(int32_t **)params[1];
  float *out = *(float **)params[2];
  uint32_t tid = sreg(MOERT_EMU_TID_X), block = sreg(MOERT_EMU_CTAID_X);
  uint32_t blocks = sreg(MOERT_EMU_NCTAID_X);
  float *s = shared();
  if (tid == 0) {
    storeGlobal(&partial[block], (float)(block + 1));
    fence();
    check(counter, 4,
          MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_WRITE |
              MOERT_EMU_ACCESS_GLOBAL);
    int32_t ticket = __atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST);
    fence();
    storeShared(&s[0], ticket == (int32_t)blocks - 1 ? 1.0f : 0.0f);
  }
  barrier(1);
  if (loadShared(&s[0]) == 1.0f && tid == 0) {
    float sum = 0;
    for (uint32_t i = 0; i < blocks; ++i)
      sum += loadGlobal(&partial[i]);
    storeGlobal(&out[0], sum);
    storeGlobal(&out[1], (float)block);
  }
}

/* ToyKernels.c's layer (ToyLayer.h) as GPU threads, for the cuda-emu
 * backend's tests; same float operation order as its reference. */
EXPORT void __moe_emu_kernel_toy_count(void **params) {
  int32_t *counter = *(int32_t **)params[0];
  check(counter, 4, MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_WRITE |
                        MOERT_EMU_ACCESS_GLOBAL);
  counter[0] += 1;
}

/* Blocks of 16 tokens, 8 threads per token (one per h); thread h = 0 adds
 * the row's products to rowsum in order after a barrier. */
EXPORT void __moe_emu_kernel_toy_scale(void **params) {
  const float *x = *(const float **)params[0];
  const float *scale = *(const float **)params[1];
  float *tmp = *(float **)params[2];
  float *rowsum = *(float **)params[3];
  int64_t tokens = *(const int64_t *)params[4];
  uint32_t tid = sreg(MOERT_EMU_TID_X);
  int64_t t = (int64_t)sreg(MOERT_EMU_CTAID_X) * 16 + tid / 8;
  uint32_t h = tid % 8;
  if (t < tokens)
    storeGlobal(&tmp[t * 8 + h], loadGlobal(&x[t * 8 + h]) *
                                     loadGlobal(&scale[h]));
  barrier(1);
  if (t < tokens && h == 0) {
    float sum = loadGlobal(&rowsum[t]);
    for (int i = 0; i < 8; ++i)
      sum += loadGlobal(&tmp[t * 8 + i]);
    storeGlobal(&rowsum[t], sum);
  }
}

/* Blocks of 4 tokens (grid.y is redundant: its second row returns), one
 * thread per (token, j) among the block's first 32. */
EXPORT void __moe_emu_kernel_toy_accumulate(void **params) {
  const float *tmp = *(const float **)params[0];
  const float *proj = *(const float **)params[1];
  const float *rowsum = *(const float **)params[2];
  const int32_t *counter = *(const int32_t **)params[3];
  float *y = *(float **)params[4];
  int64_t tokens = *(const int64_t *)params[5];
  uint32_t local = sreg(MOERT_EMU_TID_X) + 64 * sreg(MOERT_EMU_TID_Y);
  int64_t t = (int64_t)sreg(MOERT_EMU_CTAID_X) * 4 + local / 8;
  uint32_t j = local % 8;
  if (sreg(MOERT_EMU_CTAID_Y) != 0 || local >= 32 || t >= tokens)
    return;
  check(counter, 4, MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_GLOBAL);
  float acc = loadGlobal(&rowsum[t]) + (float)counter[0];
  for (int h = 0; h < 8; ++h)
    acc += loadGlobal(&tmp[t * 8 + h]) * loadGlobal(&proj[h * 8 + j]);
  storeGlobal(&y[t * 8 + j], acc);
}

/* A pipeline stage overwritten too early: thread 0 reads thread 1's chunk
 * of shared memory, then (no barrier between) thread 1 issues a cp.async
 * into it, waits and meets thread 0 at a barrier. */
EXPORT void __moe_emu_kernel_stage_overwrite(void **params) {
  const float *in = *(const float **)params[0];
  uint32_t tid = sreg(MOERT_EMU_TID_X);
  float *s = shared();
  if (tid == 0)
    (void)loadShared(&s[4]);
  if (tid == 1) {
    ((void (*)(void *, const void *, uint32_t, uint32_t,
               uint32_t))__moe_emu_api[MOERT_EMU_CP_ASYNC])(&s[4], &in[4], 16,
                                                           16, 0);
    ((void (*)(void))__moe_emu_api[MOERT_EMU_CP_ASYNC_COMMIT])();
    ((void (*)(uint32_t, uint32_t))__moe_emu_api[MOERT_EMU_CP_ASYNC_WAIT])(0,
                                                                         0);
  }
  barrier(1);
}

/* Shared-memory atomics: every thread adds 1 to one shared word; thread 0
 * zeroes it first and reads it after the barrier (params: out [1], and
 * `plain` 1 to have thread 0 also read it before the barrier: a race). */
EXPORT void __moe_emu_kernel_shared_atomics(void **params) {
  float *out = *(float **)params[0];
  int64_t plain = *(const int64_t *)params[1];
  uint32_t tid = sreg(MOERT_EMU_TID_X);
  int32_t *word = (int32_t *)shared();
  if (tid == 0) {
    check(word, 4, MOERT_EMU_ACCESS_WRITE | MOERT_EMU_ACCESS_SHARED);
    *word = 0;
  }
  barrier(1);
  check(word, 4,
        MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_WRITE |
            MOERT_EMU_ACCESS_SHARED);
  __atomic_fetch_add(word, 1, __ATOMIC_RELAXED);
  if (plain && tid == 0) {
    check(word, 4, MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_SHARED);
    (void)*(volatile int32_t *)word;
  }
  barrier(2);
  if (tid == 0) {
    check(word, 4, MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_SHARED);
    storeGlobal(&out[0], (float)*word);
  }
}
