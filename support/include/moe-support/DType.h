//===- DType.h - Element types and scalar conversions -----------*- C++ -*-===//
//
// The one list of element types of the project: every type a safetensors
// file can hold (including the fp8 and the 8-bit storage of e2m1 / e8m0
// blocks that quantized checkpoints use), their names in the safetensors
// header ("F8_E4M3") and in the kernel manifest ("f32"), their sizes, and
// the scalar conversions to and from float.
//
// Part of the dependency-free support library (support/): plain C++17, no
// LLVM, MLIR or exceptions, linked by the compiler, the runtime and the GPU
// benchmark alike.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_SUPPORT_DTYPE_H
#define MOE_SUPPORT_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace moe::support {

enum class DType : uint8_t {
  F64,
  F32,
  F16,
  BF16,
  F8E4M3, ///< fp8 e4m3fn: no infinity, max 448, one NaN pattern per sign.
  F8E5M2, ///< fp8 e5m2: the upper byte of an IEEE half.
  F8E8M0, ///< A power-of-two scale 2^(bits-127); 0xFF is NaN (OCP MX).
  I64,
  I32,
  I16,
  I8,
  U64,
  U32,
  U16,
  U8,
  Bool,
};

/// Bytes per element.
size_t elementSize(DType dtype);

/// The safetensors header's name: "F32", "BF16", "F8_E4M3", "U8", ...
const char *safeTensorsName(DType dtype);
/// The DType of a safetensors header name (exact, case-sensitive).
std::optional<DType> parseSafeTensorsName(std::string_view name);

/// The kernel manifest's name ("f32", "f16", "bf16", "i32", "i64", and for
/// quantized weights "f8e4m3", "f8e8m0", "i8"), or nullptr for a type the
/// manifest does not use.
const char *manifestName(DType dtype);
/// The DType of a manifest name; only the eight above are accepted.
std::optional<DType> parseManifestName(std::string_view name);

/// True for the types the kernels compute in and take weights as: F32, F16
/// and BF16.
bool isComputeFloat(DType dtype);

/// The types a kernel weight buffer may have: the compute floats and the
/// quantized storage (F8E4M3 values, F8E8M0 scales, I8 bytes of two e2m1).
bool isWeightStorage(DType dtype);

/// Whether a checkpoint tensor of `srcType` packs into a weight buffer of
/// `dstType`: compute floats convert into each other; quantized storage is
/// copied byte for byte from its own type or, for F8E8M0 and I8, from U8
/// (how checkpoints store e8m0 scales and packed e2m1).
bool canPack(DType srcType, DType dstType);

/// Widening conversions; exact.
float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);
float float8E4M3ToFloat(uint8_t bits);
float float8E5M2ToFloat(uint8_t bits);
float float8E8M0ToFloat(uint8_t bits);
/// One e2m1 (fp4) value from the low four bits of `nibble`: 0, 0.5, 1, 1.5,
/// 2, 3, 4, 6 and their negatives. MXFP4 packs two per byte, low nibble first.
float float4E2M1ToFloat(uint8_t nibble);

/// Narrowing conversions: round to nearest, ties to even; NaN stays a
/// (quiet) NaN, the sign of zero is kept, overflow gives infinity.
uint16_t floatToHalf(float value);
uint16_t floatToBfloat16(float value);

/// fp8 e4m3fn by round to nearest, ties to even; magnitudes beyond 448
/// saturate to +-448 (the format has no infinity), NaN gives 0x7f.
uint8_t floatToFloat8E4M3(float value);
/// The e2m1 nibble nearest to `value` (ties to the even encoding), magnitudes
/// beyond 6 saturating to +-6.
uint8_t floatToFloat4E2M1(float value);
/// The e8m0 scale 2^(bits-127) that is `value` exactly, or 0xff (NaN) when
/// `value` is not a power of two in [2^-127, 2^127].
uint8_t floatToFloat8E8M0(float value);

/// `value` rounded to the nearest value of F32 (itself), F16, BF16 or
/// F8E4M3 (as floatToFloat8E4M3).
float roundTo(DType dtype, float value);

/// Stores `value` as element `index` of little-endian `data` of `dtype`
/// (F32, F16, BF16 or F8E4M3 rounding as above; F8E8M0 as
/// floatToFloat8E8M0; U8 and I8 the value converted to a byte, which the
/// caller keeps in 0..255 or -128..127); `data` need not be aligned.
void storeFromFloat(DType dtype, void *data, size_t index, float value);

/// Element `index` of little-endian `data` of `dtype`, as float. Defined for
/// the float types (F32, F16, BF16, F8*) and for U8 (the byte's value);
/// `data` need not be aligned.
float loadAsFloat(DType dtype, const void *data, size_t index);

} // namespace moe::support

#endif // MOE_SUPPORT_DTYPE_H
