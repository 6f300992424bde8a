//===- DequantizeToLinalg.cpp - moe.dequantize, whole or one tile ---------===//
//
// A quantized weight is widened only where it is read: the experts'
// lowerings ask for one expert (or one tile of its rows) through
// buildWeightSlice, which dequantizes just that slice, so the stored fp8 or
// e2m1 values stay in memory as they are. A moe.dequantize still used as a
// whole (the shared expert of the unfused lowering) becomes one
// linalg.generic.
//
// The element decoding is written out in arith: MLIR lowers arith.extf from
// f8E4M3FN and f4E2M1FN for AMD GPUs only (not for LLVM on the CPU nor for
// NVVM), and the bit placements below are exact for every finite value.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "moe/Dialect/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include "llvm/ADT/SmallBitVector.h"

using namespace mlir;
using namespace mlir::moe;

namespace {
Value i16Constant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIntOp::create(b, loc, b.getI16Type(), value);
}

/// A small float format in the low bits of `bits` (i8), `mantissaBits`
/// wide with `exponentBits` above them and the sign above those, as f32:
/// its exponent and mantissa are placed at the top of an f16's (so its
/// subnormals land on f16 subnormals), then the difference of the biases,
/// `scale` = 2^(15 - bias), is multiplied back. Exact for every finite
/// value.
Value decodeSmallFloat(OpBuilder &b, Location loc, Value bits, int exponentBits,
                       int mantissaBits, float scale) {
  Value w = arith::ExtUIOp::create(b, loc, b.getI16Type(), bits);
  int magnitudeBits = exponentBits + mantissaBits;
  int shift = 10 - mantissaBits; // f16 has 10 mantissa bits
  Value magnitude = arith::ShLIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc, w,
                            i16Constant(b, loc, (1 << magnitudeBits) - 1)),
      i16Constant(b, loc, shift));
  Value sign = arith::ShLIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc, w, i16Constant(b, loc, 1 << magnitudeBits)),
      i16Constant(b, loc, 15 - magnitudeBits));
  Value half = arith::BitcastOp::create(
      b, loc, b.getF16Type(), arith::OrIOp::create(b, loc, magnitude, sign));
  Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), half);
  return arith::MulFOp::create(
      b, loc, wide,
      arith::ConstantOp::create(b, loc, b.getF32FloatAttr(scale)));
}

/// fp8 e4m3fn (bias 7): 2^8 times its f16 placement.
Value decodeE4M3(OpBuilder &b, Location loc, Value bits) {
  return decodeSmallFloat(b, loc, bits, 4, 3, 256.0f);
}

/// e2m1 (bias 1) in the low nibble: 2^14 times its f16 placement.
Value decodeE2M1(OpBuilder &b, Location loc, Value nibble) {
  return decodeSmallFloat(b, loc, nibble, 2, 1, 16384.0f);
}

/// A scale as f32: e8m0 2^(bits - 127) (2^-127 is the f32 subnormal
/// 0x00400000), bf16 widened, f32 itself.
Value decodeScale(OpBuilder &b, Location loc, Value scale) {
  Type type = scale.getType();
  if (!isa<Float8E8M0FNUType>(type))
    return buildScalarConvert(b, loc, scale, b.getF32Type());
  Value bits = arith::BitcastOp::create(b, loc, b.getI8Type(), scale);
  Value w = arith::ExtUIOp::create(b, loc, b.getI32Type(), bits);
  Value zero = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 0);
  Value shifted = arith::ShLIOp::create(
      b, loc, w, arith::ConstantIntOp::create(b, loc, b.getI32Type(), 23));
  Value smallest =
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), 0x00400000);
  Value isZero =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, w, zero);
  Value f32Bits = arith::SelectOp::create(b, loc, isZero, smallest, shifted);
  return arith::BitcastOp::create(b, loc, b.getF32Type(), f32Bits);
}

/// Element `indices` (of the dequantized tensor) of `op`'s result, as f32;
/// `scale` is its block's scale where the caller has it (null: read here).
Value dequantizeElement(OpBuilder &b, Location loc, DequantizeOp op,
                        SmallVector<Value> indices, Value scale) {
  size_t rank = indices.size();
  Value col = indices[rank - 1];
  // A packed e2m1 pair's byte holds columns 2m and 2m + 1.
  SmallVector<Value> at = indices;
  if (op.isPackedE2M1())
    at[rank - 1] = arith::DivUIOp::create(
        b, loc, col, arith::ConstantIndexOp::create(b, loc, 2));
  Value stored = tensor::ExtractOp::create(b, loc, op.getQuantized(), at);
  Value value = buildStoredValue(b, loc, op, stored, col);
  if (!scale)
    scale = buildDequantizeScale(b, loc, op, indices);
  return arith::MulFOp::create(b, loc, value, scale);
}

} // namespace

Value mlir::moe::buildUniformScale(OpBuilder &b, Location loc, DequantizeOp op,
                                   ArrayRef<OpFoldResult> offsets,
                                   ArrayRef<OpFoldResult> sizes) {
  auto shape = op.getResult().getType().getShape();
  size_t rank = shape.size();
  ArrayRef<int64_t> block = op.getBlock();
  int64_t partRows = shape[rank - 2] / op.getStacked();
  for (size_t d = 0; d < rank; ++d) {
    std::optional<int64_t> size = getConstantIntValue(sizes[d]);
    if (!size)
      return Value();
    if (*size == 1)
      continue;
    if (d + 2 < rank)
      return Value();
    bool rows = d == rank - 2;
    int64_t extent = block[rows ? 0 : 1];
    if (extent % *size != 0 || (rows && partRows % *size != 0) ||
        !isMultipleOf(offsets[d], *size))
      return Value();
  }
  SmallVector<Value> at;
  for (OpFoldResult offset : offsets)
    at.push_back(getValueOrCreateConstantIndexOp(b, loc, offset));
  return buildDequantizeScale(b, loc, op, at);
}

namespace {

struct DequantizeToLinalg : OpRewritePattern<DequantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DequantizeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = op.getResult().getType();
    SmallVector<OpFoldResult> offsets(type.getRank(), rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes;
    for (int64_t size : type.getShape())
      sizes.push_back(rewriter.getIndexAttr(size));
    rewriter.replaceOp(op, buildWeightSlice(rewriter, op.getLoc(),
                                            op.getResult(), offsets, sizes,
                                            /*droppedDims=*/0));
    return success();
  }
};

/// `a + b` of two indices, folded when both are constants.
OpFoldResult addIndex(OpBuilder &b, Location loc, OpFoldResult x,
                      OpFoldResult y) {
  std::optional<int64_t> cx = getConstantIntValue(x),
                         cy = getConstantIntValue(y);
  if (cx && cy)
    return b.getIndexAttr(*cx + *cy);
  if (cx == 0)
    return y;
  if (cy == 0)
    return x;
  return arith::AddIOp::create(b, loc,
                               getValueOrCreateConstantIndexOp(b, loc, x),
                               getValueOrCreateConstantIndexOp(b, loc, y))
      .getResult();
}

/// The slice `offsets`/`sizes` (dropping `droppedDims` leading unit dims)
/// of `slice`'s result, as offsets and sizes into its source when `slice`
/// has unit strides and drops only leading dimensions.
std::optional<
    std::tuple<SmallVector<OpFoldResult>, SmallVector<OpFoldResult>, int64_t>>
composeSlice(OpBuilder &b, Location loc, tensor::ExtractSliceOp slice,
             ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes,
             int64_t droppedDims) {
  if (!slice.hasUnitStride())
    return std::nullopt;
  llvm::SmallBitVector dropped = slice.getDroppedDims();
  int64_t sourceDropped = dropped.count();
  for (int64_t d = 0; d < sourceDropped; ++d)
    if (!dropped.test(d))
      return std::nullopt;
  SmallVector<OpFoldResult> sourceOffsets, sourceSizes;
  for (auto [d, offset] : llvm::enumerate(slice.getMixedOffsets())) {
    int64_t j = int64_t(d) - sourceDropped;
    sourceOffsets.push_back(j < 0 ? offset
                                  : addIndex(b, loc, offset, offsets[j]));
    sourceSizes.push_back(j < 0 ? b.getIndexAttr(1) : sizes[j]);
  }
  return std::make_tuple(sourceOffsets, sourceSizes,
                         sourceDropped + droppedDims);
}
} // namespace

Value mlir::moe::buildE4M3Value(OpBuilder &b, Location loc, Value bits) {
  if (!bits.getType().isInteger(8))
    bits = arith::BitcastOp::create(b, loc, b.getI8Type(), bits);
  return decodeE4M3(b, loc, bits);
}

SmallVector<Value> mlir::moe::buildScaleIndices(OpBuilder &b, Location loc,
                                                DequantizeOp op,
                                                ValueRange indices) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto shape = op.getResult().getType().getShape();
  size_t rank = shape.size();
  Value row = indices[rank - 2], col = indices[rank - 1];
  // The scale of the block: each stacked part has its own grid of rows.
  ArrayRef<int64_t> block = op.getBlock();
  int64_t partRows = shape[rank - 2] / op.getStacked();
  int64_t gridRows = llvm::divideCeil(partRows, block[0]);
  SmallVector<Value> at(indices);
  Value part = arith::DivUIOp::create(b, loc, row, index(partRows));
  Value inPart = arith::RemUIOp::create(b, loc, row, index(partRows));
  at[rank - 2] = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, part, index(gridRows)),
      arith::DivUIOp::create(b, loc, inPart, index(block[0])));
  at[rank - 1] = arith::DivUIOp::create(b, loc, col, index(block[1]));
  return at;
}

Value mlir::moe::buildScaleValue(OpBuilder &b, Location loc, Value scale) {
  return decodeScale(b, loc, scale);
}

Value mlir::moe::buildStoredValue(OpBuilder &b, Location loc, DequantizeOp op,
                                  Value stored, Value column) {
  if (!op.isPackedE2M1())
    return decodeE4M3(b, loc,
                      arith::BitcastOp::create(b, loc, b.getI8Type(), stored));
  // The low nibble for even columns.
  Value odd = arith::RemUIOp::create(b, loc, column,
                                     arith::ConstantIndexOp::create(b, loc, 2));
  Value shift = arith::IndexCastOp::create(
      b, loc, b.getI8Type(),
      arith::MulIOp::create(b, loc, odd,
                            arith::ConstantIndexOp::create(b, loc, 4))
          .getResult());
  return decodeE2M1(b, loc, arith::ShRUIOp::create(b, loc, stored, shift));
}

Value mlir::moe::buildDequantizeScale(OpBuilder &b, Location loc,
                                      DequantizeOp op, ValueRange indices) {
  Value scale = tensor::ExtractOp::create(
      b, loc, op.getScale(), buildScaleIndices(b, loc, op, indices));
  return decodeScale(b, loc, scale);
}

Value mlir::moe::buildDequantizedElement(OpBuilder &b, Location loc,
                                         DequantizeOp op, ValueRange indices,
                                         Type element, Value scale) {
  Value value = dequantizeElement(b, loc, op, llvm::to_vector(indices), scale);
  return buildScalarConvert(
      b, loc, value,
      element ? element : op.getResult().getType().getElementType());
}

bool mlir::moe::isDequantized(Value weight) {
  while (auto slice = weight.getDefiningOp<tensor::ExtractSliceOp>())
    weight = slice.getSource();
  return static_cast<bool>(weight.getDefiningOp<DequantizeOp>());
}

Value mlir::moe::buildWeightSlice(OpBuilder &b, Location loc, Value weight,
                                  ArrayRef<OpFoldResult> offsets,
                                  ArrayRef<OpFoldResult> sizes,
                                  int64_t droppedDims, Value init,
                                  Type element) {
  // A slice of a slice of a dequantized weight reads the stored values.
  if (auto slice = weight.getDefiningOp<tensor::ExtractSliceOp>();
      slice && isDequantized(weight))
    if (auto composed =
            composeSlice(b, loc, slice, offsets, sizes, droppedDims))
      return buildWeightSlice(b, loc, slice.getSource(), std::get<0>(*composed),
                              std::get<1>(*composed), std::get<2>(*composed),
                              init, element);
  auto type = cast<RankedTensorType>(weight.getType());
  SmallVector<int64_t> shape;
  for (OpFoldResult size : sizes.drop_front(droppedDims))
    shape.push_back(getConstantIntValue(size).value_or(ShapedType::kDynamic));
  auto dequantize = weight.getDefiningOp<DequantizeOp>();
  auto sliceType = RankedTensorType::get(
      shape, dequantize && element ? element : type.getElementType());
  if (!dequantize) {
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, sliceType, weight, offsets,
                                          sizes, strides);
  }
  SmallVector<Value> dynamicSizes;
  for (OpFoldResult size : sizes.drop_front(droppedDims))
    if (auto value = dyn_cast<Value>(size))
      dynamicSizes.push_back(value);
  if (!init)
    init = buildEmpty(b, loc, sliceType, dynamicSizes);
  SmallVector<utils::IteratorType> iterators(sliceType.getRank(),
                                             utils::IteratorType::parallel);
  Value scale = buildUniformScale(b, loc, dequantize, offsets, sizes);
  auto generic = linalg::GenericOp::create(
      b, loc, sliceType, ValueRange{}, ValueRange{init},
      {b.getMultiDimIdentityMap(sliceType.getRank())}, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        SmallVector<Value> indices;
        for (auto [d, offset] : llvm::enumerate(offsets)) {
          Value at = getValueOrCreateConstantIndexOp(nb, nloc, offset);
          if (static_cast<int64_t>(d) >= droppedDims)
            at = arith::AddIOp::create(
                nb, nloc, at,
                linalg::IndexOp::create(nb, nloc, d - droppedDims));
          indices.push_back(at);
        }
        linalg::YieldOp::create(nb, nloc,
                                buildDequantizedElement(nb, nloc, dequantize,
                                                        indices, element,
                                                        scale));
      });
  return generic.getResult(0);
}

Value mlir::moe::buildDequantizedTile(OpBuilder &b, Location loc, Value tile,
                                      Type element) {
  auto slice = tile.getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice || !isDequantized(tile))
    return tile;
  // The slice's own sizes, without the dimensions it drops.
  llvm::SmallBitVector dropped = slice.getDroppedDims();
  SmallVector<OpFoldResult> sizes;
  for (auto [d, size] : llvm::enumerate(slice.getMixedSizes()))
    if (!dropped.test(d))
      sizes.push_back(size);
  SmallVector<OpFoldResult> offsets(sizes.size(), b.getIndexAttr(0));
  return buildWeightSlice(b, loc, tile, offsets, sizes, /*droppedDims=*/0,
                          /*init=*/Value(), element);
}

void mlir::moe::populateDequantizeToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DequantizeToLinalg>(patterns.getContext());
}
