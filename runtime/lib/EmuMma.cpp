//===- EmuMma.cpp - mma.sync as a warp-collective op ----------------------===//

#include "EmuMma.h"

#include <cmath>
#include <cstring>

namespace moert {

void MmaFragmentLayout::a(unsigned lane, unsigned i, unsigned &row,
                          unsigned &col) {
  unsigned g = lane >> 2, t = lane & 3;
  row = g + ((i & 2) ? 8 : 0);
  col = 2 * t + (i & 1) + (i >= 4 ? 8 : 0);
}

void MmaFragmentLayout::b(unsigned lane, unsigned i, unsigned &row,
                          unsigned &col) {
  unsigned g = lane >> 2, t = lane & 3;
  row = 2 * t + (i & 1) + (i >= 2 ? 8 : 0);
  col = g;
}

void MmaFragmentLayout::c(unsigned lane, unsigned i, unsigned &row,
                          unsigned &col) {
  unsigned g = lane >> 2, t = lane & 3;
  row = g + (i >= 2 ? 8 : 0);
  col = 2 * t + (i & 1);
}

void MmaFragmentLayout::a32(unsigned lane, unsigned i, unsigned &row,
                            unsigned &col) {
  unsigned g = lane >> 2, t = lane & 3;
  row = g + ((i & 4) ? 8 : 0);
  col = 4 * t + (i & 3) + (i >= 8 ? 16 : 0);
}

void MmaFragmentLayout::b32(unsigned lane, unsigned i, unsigned &row,
                            unsigned &col) {
  unsigned g = lane >> 2, t = lane & 3;
  row = 4 * t + (i & 3) + (i >= 4 ? 16 : 0);
  col = g;
}

float e4m3ToFloat(uint8_t bits) {
  float sign = (bits & 0x80) ? -1.0f : 1.0f;
  unsigned exponent = (bits >> 3) & 0xF, mantissa = bits & 7;
  if (exponent == 0xF && mantissa == 7)
    return std::nanf("");
  if (exponent == 0) // Subnormal: m * 2^-9.
    return sign * std::ldexp(float(mantissa), -9);
  return sign * std::ldexp(float(8 + mantissa), int(exponent) - 7 - 3);
}

float halfToFloat(moert_emu_mma_type type, uint16_t bits) {
  uint32_t out;
  if (type == MOERT_EMU_MMA_BF16) {
    out = uint32_t(bits) << 16;
  } else {
    uint32_t sign = uint32_t(bits & 0x8000) << 16;
    uint32_t exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF;
    if (exponent == 0x1F) { // Inf, NaN
      out = sign | 0x7F800000 | (mantissa << 13);
    } else if (exponent != 0) {
      out = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
      out = sign;
    } else { // Subnormal: normalise.
      int e = -1;
      do {
        ++e;
        mantissa <<= 1;
      } while (!(mantissa & 0x400));
      out = sign | (uint32_t(112 - e) << 23) | ((mantissa & 0x3FF) << 13);
    }
  }
  float f;
  std::memcpy(&f, &out, sizeof f);
  return f;
}

namespace {

/// D = A * B + C of the m16n8kK tile the 32 lanes hold: each lane's
/// registers are placed by `aAt`/`bAt` (C by MmaFragmentLayout::c), K / 8
/// elements per 32-bit register (the first in the low bits), each turned
/// into f32 by `decode`; products and sums in f32, over k in increasing
/// order.
template <unsigned K, typename Decode>
void mmaTile(const MmaLaneOperands lanes[32], float d[32][4],
             void (*aAt)(unsigned, unsigned, unsigned &, unsigned &),
             void (*bAt)(unsigned, unsigned, unsigned &, unsigned &),
             Decode decode) {
  constexpr unsigned perRegister = K / 8, bits = 32 / perRegister;
  auto element = [&](const uint32_t *registers, unsigned i) {
    return decode(registers[i / perRegister] >> (bits * (i % perRegister)));
  };
  float a[16][K], b[K][8], c[16][8];
  for (unsigned lane = 0; lane < 32; ++lane) {
    unsigned row, col;
    for (unsigned i = 0; i < 4 * perRegister; ++i) {
      aAt(lane, i, row, col);
      a[row][col] = element(lanes[lane].a, i);
    }
    for (unsigned i = 0; i < 2 * perRegister; ++i) {
      bAt(lane, i, row, col);
      b[row][col] = element(lanes[lane].b, i);
    }
    for (unsigned i = 0; i < 4; ++i) {
      MmaFragmentLayout::c(lane, i, row, col);
      c[row][col] = lanes[lane].c[i];
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    for (unsigned i = 0; i < 4; ++i) {
      unsigned row, col;
      MmaFragmentLayout::c(lane, i, row, col);
      float sum = c[row][col];
      for (unsigned k = 0; k < K; ++k)
        sum += a[row][k] * b[k][col];
      d[lane][i] = sum;
    }
  }
}

} // namespace

void mmaM16N8K16(moert_emu_mma_type type, const MmaLaneOperands lanes[32],
                 float d[32][4]) {
  mmaTile<16>(lanes, d, MmaFragmentLayout::a, MmaFragmentLayout::b,
              [&](uint32_t bits) { return halfToFloat(type, uint16_t(bits)); });
}

void mmaM16N8K32E4M3(const MmaLaneOperands lanes[32], float d[32][4]) {
  mmaTile<32>(lanes, d, MmaFragmentLayout::a32, MmaFragmentLayout::b32,
              [](uint32_t bits) { return e4m3ToFloat(uint8_t(bits)); });
}

} // namespace moert
