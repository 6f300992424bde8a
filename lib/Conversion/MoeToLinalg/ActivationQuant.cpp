//===- ActivationQuant.cpp - fp8 per-token activation groups (w8a8) -------===//
//
// DeepSeek-V3's fp8 inference quantizes each expert GEMM's input per token
// in groups of 128 (`act_quant`: s = amax / 448, x / s rounded to e4m3) and
// multiplies fp8 by fp8 with f32 accumulation. That equals the GEMM of
// x' = e4m3(x / s) * s with the dequantized weights, which is what the
// unfused lowering computes (buildFfn) when the FFN attribute asks for it.
//
// The e4m3 rounding is arithmetic on the f32 bits: arith.truncf to
// f8E4M3FN has no lowering to LLVM on the CPU.
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
Value f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value i32Constant(OpBuilder &b, Location loc, int32_t value) {
  return arith::ConstantIntOp::create(b, loc, b.getI32Type(), value);
}

/// `v` (|v| <= 448) rounded to the nearest e4m3fn value, ties to even: the
/// spacing at v is 2^(max(e, -6) - 3) for v's binary exponent e (-6 is
/// e4m3's smallest normal exponent; below it the spacing of subnormals).
Value roundToE4M3(OpBuilder &b, Location loc, Value v) {
  Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), v);
  Value exponent = arith::SubIOp::create(
      b, loc,
      arith::AndIOp::create(
          b, loc, arith::ShRUIOp::create(b, loc, bits, i32Constant(b, loc, 23)),
          i32Constant(b, loc, 0xff)),
      i32Constant(b, loc, 127));
  exponent = arith::MaxSIOp::create(b, loc, exponent, i32Constant(b, loc, -6));
  Value spacingBits = arith::ShLIOp::create(
      b, loc, arith::AddIOp::create(b, loc, exponent, i32Constant(b, loc, 124)),
      i32Constant(b, loc, 23));
  Value spacing = arith::BitcastOp::create(b, loc, b.getF32Type(), spacingBits);
  Value steps = math::RoundEvenOp::create(
      b, loc, arith::DivFOp::create(b, loc, v, spacing));
  return arith::MulFOp::create(b, loc, steps, spacing);
}
} // namespace

Value mlir::moe::buildFp8GroupScale(OpBuilder &b, Location loc, Value amax,
                                    bool pow2Scales) {
  Value scale = arith::DivFOp::create(b, loc, amax, f32Constant(b, loc, 448));
  if (!pow2Scales)
    return scale;
  // 2^ceil(log2(s)) on the bits, exact: s's exponent, one higher when its
  // mantissa is not zero (0 stays 0; a subnormal s, from amax below 6e-36,
  // becomes 2^-126; a NaN or infinite s, from a NaN or infinite input,
  // stays as it is, so that it shows in the result).
  Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), scale);
  Value exponent =
      arith::AndIOp::create(b, loc, bits, i32Constant(b, loc, 0x7f800000));
  Value mantissa =
      arith::AndIOp::create(b, loc, bits, i32Constant(b, loc, 0x007fffff));
  Value exact = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                      mantissa, i32Constant(b, loc, 0));
  Value rounded = arith::SelectOp::create(
      b, loc, exact, exponent,
      arith::AddIOp::create(b, loc, exponent, i32Constant(b, loc, 1 << 23)));
  Value special =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, exponent,
                            i32Constant(b, loc, 0x7f800000));
  rounded = arith::SelectOp::create(b, loc, special, bits, rounded);
  return arith::BitcastOp::create(b, loc, b.getF32Type(), rounded);
}

Value mlir::moe::buildE4M3Quantized(OpBuilder &b, Location loc, Value value,
                                    Value scale) {
  Value scaled = arith::DivFOp::create(b, loc, value, scale);
  scaled = arith::MinimumFOp::create(
      b, loc,
      arith::MaximumFOp::create(b, loc, scaled, f32Constant(b, loc, -448)),
      f32Constant(b, loc, 448));
  Value zero = f32Constant(b, loc, 0.0f);
  Value empty =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, scale, zero);
  return arith::SelectOp::create(b, loc, empty, zero,
                                 roundToE4M3(b, loc, scaled))
      .getResult();
}

Value mlir::moe::buildE4M3Bits(OpBuilder &b, Location loc, Value value) {
  // |v| >= 2^-6 is normal: e4m3's exponent is f32's rebiased (127 -> 7),
  // its 3 mantissa bits f32's top 3. Below, a subnormal m * 2^-9: m is
  // |v| * 512, exact.
  Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), value);
  Value sign = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, i32Constant(b, loc, 24)),
      i32Constant(b, loc, 0x80));
  Value magnitude =
      arith::AndIOp::create(b, loc, bits, i32Constant(b, loc, 0x7fffffff));
  Value exponent = arith::SubIOp::create(
      b, loc,
      arith::ShRUIOp::create(b, loc, magnitude, i32Constant(b, loc, 23)),
      i32Constant(b, loc, 120));
  Value mantissa = arith::AndIOp::create(
      b, loc,
      arith::ShRUIOp::create(b, loc, magnitude, i32Constant(b, loc, 20)),
      i32Constant(b, loc, 7));
  Value normal = arith::OrIOp::create(
      b, loc, arith::ShLIOp::create(b, loc, exponent, i32Constant(b, loc, 3)),
      mantissa);
  Value absolute = arith::BitcastOp::create(b, loc, b.getF32Type(), magnitude);
  Value subnormal = arith::FPToUIOp::create(
      b, loc, b.getI32Type(),
      arith::MulFOp::create(b, loc, absolute, f32Constant(b, loc, 512.0f)));
  Value isNormal =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, magnitude,
                            i32Constant(b, loc, 0x3c800000));
  Value isNan =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, magnitude,
                            i32Constant(b, loc, 0x7f800000));
  Value code = arith::SelectOp::create(
      b, loc, isNan, i32Constant(b, loc, 0x7f),
      arith::SelectOp::create(b, loc, isNormal, normal, subnormal));
  Value byte = arith::TruncIOp::create(
      b, loc, b.getI8Type(), arith::OrIOp::create(b, loc, code, sign));
  return arith::BitcastOp::create(b, loc, Float8E4M3FNType::get(b.getContext()),
                                  byte);
}

Value mlir::moe::buildFp8ActivationGroups(OpBuilder &b, Location loc, Value x,
                                          int64_t group, bool pow2Scales) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t k = type.getDimSize(1);
  int64_t groups = llvm::divideCeil(k, group);
  SmallVector<Value> rowCount;
  if (type.isDynamicDim(0))
    rowCount.push_back(buildDim(b, loc, x, 0));
  Type f32 = b.getF32Type();

  // amax[i, g] over columns g * group .. min(k, (g + 1) * group).
  auto amaxType = RankedTensorType::get({type.getDimSize(0), groups}, f32);
  Value amax =
      linalg::GenericOp::create(
          b, loc, amaxType, ValueRange{},
          ValueRange{buildEmpty(b, loc, amaxType, rowCount)},
          {b.getMultiDimIdentityMap(2)},
          {utils::IteratorType::parallel, utils::IteratorType::parallel},
          [&](OpBuilder &nb, Location nloc, ValueRange) {
            Value i = linalg::IndexOp::create(nb, nloc, 0);
            Value g = linalg::IndexOp::create(nb, nloc, 1);
            auto c = [&](int64_t v) -> Value {
              return arith::ConstantIndexOp::create(nb, nloc, v);
            };
            Value first = arith::MulIOp::create(nb, nloc, g, c(group));
            Value last = arith::MinSIOp::create(
                nb, nloc, arith::AddIOp::create(nb, nloc, first, c(group)),
                c(k));
            auto loop = scf::ForOp::create(
                nb, nloc, first, last, c(1),
                ValueRange{f32Constant(nb, nloc, 0.0f)},
                [&](OpBuilder &lb, Location lloc, Value j, ValueRange acc) {
                  Value v = toF32(
                      lb, lloc,
                      tensor::ExtractOp::create(lb, lloc, x, ValueRange{i, j}));
                  Value m = arith::MaximumFOp::create(
                      lb, lloc, acc[0], math::AbsFOp::create(lb, lloc, v));
                  scf::YieldOp::create(lb, lloc, m);
                });
            linalg::YieldOp::create(nb, nloc, loop.getResult(0));
          })
          .getResult(0);

  // x' = e4m3(x / s) * s, s = amax / 448; an all-zero group stays zero.
  return buildMap(
      b, loc, x, f32, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value i = linalg::IndexOp::create(nb, nloc, 0);
        Value g = arith::DivUIOp::create(
            nb, nloc, linalg::IndexOp::create(nb, nloc, 1),
            arith::ConstantIndexOp::create(nb, nloc, group));
        Value s = buildFp8GroupScale(
            nb, nloc,
            tensor::ExtractOp::create(nb, nloc, amax, ValueRange{i, g}),
            pow2Scales);
        Value q = buildE4M3Quantized(nb, nloc, toF32(nb, nloc, args[0]), s);
        return arith::MulFOp::create(nb, nloc, q, s).getResult();
      });
}
