/*===- moert_emu_abi.h - The emulator library's contract --------*- C -*-===*\
|*                                                                            *|
|* `moe-translate --emit-kernels --emulator` builds each chip's NVVM module   *|
|* a second time for the host, as `<fn>.<chip>.emu.so`, with every NVVM       *|
|* operation turned into a call of the SIMT emulator in moert (the cuda-emu   *|
|* backend). This header is the one description of that contract: the        *|
|* compiler (lib/Emit/EmulatorLibrary.cpp, moe-nvvm-to-emulator) and the      *|
|* runtime (runtime/lib/Emulator.cpp) both include it.                        *|
|*                                                                            *|
|* The library calls the runtime only through a table of function pointers    *|
|* that it defines and the runtime fills after dlopen(), so it links against  *|
|* nothing and works with a static or shared moert alike.                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MOERT_MOERT_EMU_ABI_H
#define MOERT_MOERT_EMU_ABI_H

#include <stdint.h>

/* Bumped on any change below; the runtime refuses other versions. */
#define MOERT_EMU_ABI_VERSION 2

/* Symbols of an emulator library:
 *   uint32_t    __moe_emu_abi_version;          MOERT_EMU_ABI_VERSION
 *   void       *__moe_emu_api[MOERT_EMU_NUM_SLOTS];   filled by the runtime
 *   uint32_t    __moe_emu_num_sites;
 *   const char *__moe_emu_sites[];   "barrier0 #2 in <kernel> at file:line:col"
 *   void        __moe_emu_kernel_<symbol>(void **params);
 * A kernel entry runs one GPU thread: the runtime calls it once per thread,
 * each on its own fiber, with cuLaunchKernel's parameter array. */
#define MOERT_EMU_ABI_VERSION_SYMBOL "__moe_emu_abi_version"
#define MOERT_EMU_API_SYMBOL "__moe_emu_api"
#define MOERT_EMU_NUM_SITES_SYMBOL "__moe_emu_num_sites"
#define MOERT_EMU_SITES_SYMBOL "__moe_emu_sites"
#define MOERT_EMU_KERNEL_PREFIX "__moe_emu_kernel_"

/* The slots of __moe_emu_api and each function's C signature. `site`
 * indexes __moe_emu_sites (the operation's source location, for messages). */
enum moert_emu_slot {
  /* uint32_t (uint32_t which): a special register, moert_emu_sreg. */
  MOERT_EMU_SREG = 0,
  /* void (uint32_t site): nvvm.barrier0, all threads of the block. */
  MOERT_EMU_BARRIER = 1,
  /* void (uint32_t type, uint32_t site, const uint32_t a[4],
   *       const uint32_t b[2], const float c[4], float d[4]):
   * a warp-collective mma.sync row.col with f32 accumulators of the shape
   * `type` (moert_emu_mma_type) says: m16n8k16 for bf16 and f16, a/b
   * holding the lane's packed halves (the lower 16 bits are the even
   * element); m16n8k32 for e4m3, a/b holding four bytes each (the lowest
   * byte is the first element). */
  MOERT_EMU_MMA_M16N8K16 = 2,
  /* void (void *dst, const void *src, uint32_t bytes, uint32_t src_bytes,
   *       uint32_t site): nvvm.cp.async.shared.global; bytes past
   * src_bytes are zero-filled. */
  MOERT_EMU_CP_ASYNC = 3,
  /* void (void): nvvm.cp.async.commit.group. */
  MOERT_EMU_CP_ASYNC_COMMIT = 4,
  /* void (uint32_t n, uint32_t site): nvvm.cp.async.wait.group n. */
  MOERT_EMU_CP_ASYNC_WAIT = 5,
  /* void (uint32_t site): nvvm.memory.barrier and before each atomic: a
   * point where another block may run (--emulator-block-order=...). */
  MOERT_EMU_FENCE = 6,
  /* void *(void): the block's dynamic shared memory (1 KiB aligned). */
  MOERT_EMU_SHARED_BASE = 7,
  /* void (const void *p, uint64_t bytes, uint32_t flags, uint32_t site):
   * before every load, store and atomic of shared or global memory;
   * flags are moert_emu_access bits. */
  MOERT_EMU_CHECK_ACCESS = 8,
  MOERT_EMU_NUM_SLOTS = 9
};

/* MOERT_EMU_SREG's argument. */
enum moert_emu_sreg {
  MOERT_EMU_TID_X = 0,
  MOERT_EMU_TID_Y = 1,
  MOERT_EMU_TID_Z = 2,
  MOERT_EMU_NTID_X = 3,
  MOERT_EMU_NTID_Y = 4,
  MOERT_EMU_NTID_Z = 5,
  MOERT_EMU_CTAID_X = 6,
  MOERT_EMU_CTAID_Y = 7,
  MOERT_EMU_CTAID_Z = 8,
  MOERT_EMU_NCTAID_X = 9,
  MOERT_EMU_NCTAID_Y = 10,
  MOERT_EMU_NCTAID_Z = 11,
  MOERT_EMU_LANEID = 12,
  MOERT_EMU_WARPID = 13
};

enum moert_emu_mma_type {
  MOERT_EMU_MMA_BF16 = 0, /* m16n8k16 .bf16 x .bf16 */
  MOERT_EMU_MMA_F16 = 1,  /* m16n8k16 .f16 x .f16 */
  MOERT_EMU_MMA_E4M3 = 2  /* m16n8k32 .e4m3 x .e4m3 (sm_89+) */
};

/* The space bits say where the compiler traced the pointer to (shared
 * memory, or a kernel parameter); with neither, the runtime finds the space
 * from the address. */
enum moert_emu_access {
  MOERT_EMU_ACCESS_WRITE = 1,  /* a store (an atomic is read + write) */
  MOERT_EMU_ACCESS_READ = 2,   /* a load */
  MOERT_EMU_ACCESS_SHARED = 4, /* derived from the dynamic shared memory */
  MOERT_EMU_ACCESS_GLOBAL = 8  /* derived from a kernel parameter */
};

#endif /* MOERT_MOERT_EMU_ABI_H */
