//===- DType.h - Element types and float conversions ------------*- C++ -*-===//
//
// The manifest's buffer dtypes, their sizes and names, and the scalar
// conversions weight packing needs: f32 <-> f16 / bf16 with
// round-to-nearest-even, NaN kept a (quiet) NaN, overflow to infinity.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_DTYPE_H
#define MOERT_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace moert {

enum class DType { F32, F16, BF16, I32, I64 };

/// Parses a manifest dtype name ("f32", "f16", "bf16", "i32", "i64").
bool parseDType(const std::string &name, DType &out);
/// The manifest name of the dtype.
const char *dtypeName(DType dtype);
/// Bytes per element.
size_t dtypeSize(DType dtype);
/// True for f32, f16 and bf16.
bool isFloat(DType dtype);

float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);
uint16_t floatToHalf(float value);
uint16_t floatToBfloat16(float value);

} // namespace moert

#endif // MOERT_DTYPE_H
