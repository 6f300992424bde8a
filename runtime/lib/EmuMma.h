//===- EmuMma.h - mma.sync as a warp-collective op --------------*- C++ -*-===//
//
// The emulator gathers the fragment registers of all 32 lanes of a warp and
// computes D = A * B + C the way the tensor core sees the operands: each
// lane's registers are placed in the 16x16 A, 16x8 B and 16x8 C tiles by the
// PTX ISA's fragment layouts (the section "Matrix Fragments for
// mma.m16n8k16 with floating point type" under "Warp-level Matrix Multiply-
// Accumulate Instructions"), for .bf16 and .f16 inputs with .f32
// accumulators, A row-major and B column-major (.row.col); and mma.m16n8k32
// for .e4m3 inputs (sm_89+, "Matrix Fragments for mma.m16n8k32"), whose
// registers hold four bytes where m16n8k16's hold two halves.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_EMUMMA_H
#define MOERT_EMUMMA_H

#include "moert/moert_emu_abi.h"

#include <cstdint>

namespace moert {

/// One lane's operands: A's 8 halves in 4 registers, B's 4 in 2 (the even
/// element in the lower 16 bits), C's 4 f32; for e4m3, A's 16 bytes and
/// B's 8 (the first element in the lowest byte).
struct MmaLaneOperands {
  uint32_t a[4];
  uint32_t b[2];
  float c[4];
};

/// Where a lane's fragment element lands, per the ISA's layouts.
/// g = lane / 4 (groupID), t = lane % 4 (threadID_in_group).
struct MmaFragmentLayout {
  /// A element i (0..7) of `lane`: row g (+8 for i in {2,3,6,7}), column
  /// 2t + (i & 1) (+8 for i >= 4).
  static void a(unsigned lane, unsigned i, unsigned &row, unsigned &col);
  /// B element i (0..3): row (k) 2t + (i & 1) (+8 for i >= 2), column g.
  static void b(unsigned lane, unsigned i, unsigned &row, unsigned &col);
  /// C/D element i (0..3): row g (+8 for i >= 2), column 2t + (i & 1).
  static void c(unsigned lane, unsigned i, unsigned &row, unsigned &col);
  /// m16n8k32 (e4m3): A byte i (0..15): row g (+8 for i in 4..7, 12..15),
  /// column 4t + (i & 3) (+16 for i >= 8); B byte i (0..7): row (k)
  /// 4t + (i & 3) (+16 for i >= 4), column g. C as m16n8k16's.
  static void a32(unsigned lane, unsigned i, unsigned &row, unsigned &col);
  static void b32(unsigned lane, unsigned i, unsigned &row, unsigned &col);
};

/// D of every lane from the operands of every lane, products and sums in
/// f32, summed over k in increasing order (the hardware's order is not
/// specified; our tolerance is bf16's).
void mmaM16N8K16(moert_emu_mma_type type, const MmaLaneOperands lanes[32],
                 float d[32][4]);

/// mma.m16n8k32 .e4m3 x .e4m3 + f32: the products (exact in f32) summed
/// in f32 over k in increasing order. Hopper's fp8 tensor cores keep fewer
/// bits in their sums (about 14, DeepGEMM's reason to promote every few
/// chunks into f32); the kernels promote each chunk, so the difference is
/// within a chunk's sum.
void mmaM16N8K32E4M3(const MmaLaneOperands lanes[32], float d[32][4]);

/// An fp8 e4m3 (e4m3fn: bias 7, no infinities, S.1111.111 NaN) as f32.
float e4m3ToFloat(uint8_t bits);

/// A 16-bit float (bf16 or f16) as f32.
float halfToFloat(moert_emu_mma_type type, uint16_t bits);

} // namespace moert

#endif // MOERT_EMUMMA_H
