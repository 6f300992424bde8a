//===- Builders.cpp - linalg building blocks for the moe lowering ---------===//

#include "moe/Conversion/MoeToLinalg/Builders.h"
#include "moe/Dialect/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/AffineMap.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;

Value mlir::moe::buildEmpty(OpBuilder &b, Location loc, RankedTensorType type,
                            ValueRange dynamicSizes) {
  return tensor::EmptyOp::create(b, loc, type, dynamicSizes);
}

Value mlir::moe::buildFilled(OpBuilder &b, Location loc, RankedTensorType type,
                             ValueRange dynamicSizes, Attribute value) {
  Value empty = buildEmpty(b, loc, type, dynamicSizes);
  Value scalar = arith::ConstantOp::create(b, loc, cast<TypedAttr>(value));
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

Value mlir::moe::buildDim(OpBuilder &b, Location loc, Value tensor,
                          int64_t dim) {
  return tensor::DimOp::create(b, loc, tensor, dim);
}

Value mlir::moe::toF32(OpBuilder &b, Location loc, Value scalar) {
  Type f32 = b.getF32Type();
  if (scalar.getType() == f32)
    return scalar;
  // arith.extf from e4m3 has no lowering to LLVM (buildE4M3Value).
  if (isa<Float8E4M3FNType>(scalar.getType()))
    return buildE4M3Value(b, loc, scalar);
  return arith::ExtFOp::create(b, loc, f32, scalar);
}

/// The dynamic sizes of `tensor`, for an empty tensor of the same shape.
static SmallVector<Value> dynamicSizesOf(OpBuilder &b, Location loc,
                                         Value tensor) {
  SmallVector<Value> sizes;
  auto type = cast<RankedTensorType>(tensor.getType());
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(buildDim(b, loc, tensor, i));
  return sizes;
}

/// The zero f32 accumulator [M, N] of a linear layer on `weight` [N, K]: M
/// is `rows`, whose value is `dynamicRows` when it is dynamic.
static Value buildLinearAccumulator(OpBuilder &b, Location loc, int64_t rows,
                                    Value dynamicRows, Value weight) {
  auto weightType = cast<RankedTensorType>(weight.getType());
  auto type =
      RankedTensorType::get({rows, weightType.getDimSize(0)}, b.getF32Type());
  SmallVector<Value> sizes;
  if (type.isDynamicDim(0))
    sizes.push_back(dynamicRows);
  if (type.isDynamicDim(1))
    sizes.push_back(buildDim(b, loc, weight, 0));
  return buildFilled(b, loc, type, sizes, b.getF32FloatAttr(0.0));
}

Value mlir::moe::buildLinear(OpBuilder &b, Location loc, Value input,
                             Value weight, Value accumulator,
                             Type dequantizedElement) {
  int64_t rows = cast<RankedTensorType>(input.getType()).getDimSize(0);
  Value init = accumulator
                   ? accumulator
                   : buildLinearAccumulator(b, loc, rows,
                                            ShapedType::isDynamic(rows)
                                                ? buildDim(b, loc, input, 0)
                                                : Value(),
                                            weight);
  // (m, n, k): A(m, k) * B(n, k) -> C(m, n). Written as a generic rather
  // than linalg.matmul so the widening of bf16/f16 operands to the f32
  // accumulator is explicit in the body.
  MLIRContext *ctx = b.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {m, k}, ctx),
                                 AffineMap::get(3, 0, {n, k}, ctx),
                                 AffineMap::get(3, 0, {m, n}, ctx)};
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  // A whole dequantized weight is read in the body, stored values and
  // scales, not as an operand.
  auto dequantize = weight.getDefiningOp<DequantizeOp>();
  SmallVector<Value> inputs = {input};
  if (dequantize)
    maps.erase(maps.begin() + 1);
  else
    inputs.push_back(weight);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value w = dequantize ? buildDequantizedElement(
                                   nb, nloc, dequantize,
                                   {linalg::IndexOp::create(nb, nloc, 1),
                                    linalg::IndexOp::create(nb, nloc, 2)},
                                   dequantizedElement)
                             : args[1];
        Value product = arith::MulFOp::create(
            nb, nloc, toF32(nb, nloc, args[0]), toF32(nb, nloc, w));
        Value sum = arith::AddFOp::create(nb, nloc, args.back(), product);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return generic.getResult(0);
}

int64_t mlir::moe::routerLanes(int64_t hidden) {
  int64_t lanes = 32;
  while (lanes > 1 && hidden % lanes != 0)
    lanes /= 2;
  return lanes;
}

int64_t mlir::moe::routerPartialWords(int64_t lanes) {
  return lanes > 1 ? lanes + 1 : lanes;
}

Value mlir::moe::buildLaneSplitLinear(OpBuilder &b, Location loc, Value input,
                                      Value weight, int64_t lanes) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto weightType = cast<RankedTensorType>(weight.getType());
  int64_t k = inputType.getDimSize(1);
  assert(lanes >= 1 && k % lanes == 0 && "lanes must divide the reduction");
  // [rows, K] -> [rows, K / lanes, lanes]: element i * lanes + j at (i, j).
  auto split = [&](Value matrix, RankedTensorType type) -> Value {
    SmallVector<OpFoldResult> shape = {
        type.isDynamicDim(0) ? OpFoldResult(buildDim(b, loc, matrix, 0))
                             : OpFoldResult(b.getIndexAttr(type.getDimSize(0))),
        b.getIndexAttr(k / lanes), b.getIndexAttr(lanes)};
    auto splitType = RankedTensorType::get(
        {type.getDimSize(0), k / lanes, lanes}, type.getElementType());
    return tensor::ExpandShapeOp::create(
        b, loc, splitType, matrix,
        SmallVector<ReassociationIndices>{{0}, {1, 2}}, shape);
  };
  Value a = split(input, inputType), w = split(weight, weightType);
  int64_t rows = inputType.getDimSize(0), columns = weightType.getDimSize(0);
  SmallVector<Value> rowSizes;
  if (ShapedType::isDynamic(rows))
    rowSizes.push_back(buildDim(b, loc, input, 0));
  // The partial sums are a [rows, columns, lanes] slice of a tensor with
  // one more lane: each thread of the lanes' sum then reads its lanes
  // lanes + 1 words past its neighbour's, in another shared-memory bank
  // (lanes words apart, 32 threads of a warp would share one).
  int64_t paddedLanes = routerPartialWords(lanes);
  Value paddedPartial = buildEmpty(
      b, loc,
      RankedTensorType::get({rows, columns, paddedLanes}, b.getF32Type()),
      rowSizes);
  SmallVector<OpFoldResult> partialSizes = {
      rowSizes.empty() ? OpFoldResult(b.getIndexAttr(rows))
                       : OpFoldResult(rowSizes.front()),
      b.getIndexAttr(columns), b.getIndexAttr(lanes)};
  Value partialSlice = tensor::ExtractSliceOp::create(
      b, loc, paddedPartial, SmallVector<OpFoldResult>(3, b.getIndexAttr(0)),
      partialSizes, SmallVector<OpFoldResult>(3, b.getIndexAttr(1)));
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  Value partial =
      linalg::FillOp::create(b, loc, zero, partialSlice).getResult(0);
  MLIRContext *ctx = b.getContext();
  // (m, n, j, i): the lanes j parallel and innermost among the parallel
  // loops (moe-distribute-threads deals the last fastest to the threads).
  AffineExpr m, n, j, i;
  bindDims(ctx, m, n, j, i);
  auto products = linalg::GenericOp::create(
      b, loc, partial.getType(), ValueRange{a, w}, ValueRange{partial},
      {AffineMap::get(4, 0, {m, i, j}, ctx),
       AffineMap::get(4, 0, {n, i, j}, ctx),
       AffineMap::get(4, 0, {m, n, j}, ctx)},
      {utils::IteratorType::parallel, utils::IteratorType::parallel,
       utils::IteratorType::parallel, utils::IteratorType::reduction},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value product = arith::MulFOp::create(
            nb, nloc, toF32(nb, nloc, args[0]), toF32(nb, nloc, args[1]));
        Value sum = arith::AddFOp::create(nb, nloc, args[2], product);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  Value result = buildFilled(
      b, loc, RankedTensorType::get({rows, columns}, b.getF32Type()), rowSizes,
      b.getF32FloatAttr(0.0));
  AffineExpr m2, n2, j2;
  bindDims(ctx, m2, n2, j2);
  auto lanesSum = linalg::GenericOp::create(
      b, loc, result.getType(), products.getResult(0), result,
      {AffineMap::get(3, 0, {m2, n2, j2}, ctx),
       AffineMap::get(3, 0, {m2, n2}, ctx)},
      {utils::IteratorType::parallel, utils::IteratorType::parallel,
       utils::IteratorType::reduction},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value sum = arith::AddFOp::create(nb, nloc, args[1], args[0]);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return lanesSum.getResult(0);
}

Value mlir::moe::buildAddRowBias(OpBuilder &b, Location loc, Value matrix,
                                 Value bias, bool inPlace) {
  MLIRContext *ctx = b.getContext();
  AffineExpr m, n;
  bindDims(ctx, m, n);
  SmallVector<AffineMap> maps = {AffineMap::get(2, 0, {m, n}, ctx),
                                 AffineMap::get(2, 0, {n}, ctx),
                                 AffineMap::get(2, 0, {m, n}, ctx)};
  auto type = cast<RankedTensorType>(matrix.getType());
  Value init = inPlace
                   ? matrix
                   : buildEmpty(b, loc, type, dynamicSizesOf(b, loc, matrix));
  auto generic = linalg::GenericOp::create(
      b, loc, type, ValueRange{matrix, bias}, ValueRange{init}, maps,
      {utils::IteratorType::parallel, utils::IteratorType::parallel},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value sum =
            arith::AddFOp::create(nb, nloc, args[0], toF32(nb, nloc, args[1]));
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return generic.getResult(0);
}

Value mlir::moe::buildMap(
    OpBuilder &b, Location loc, ValueRange inputs, Type resultElementType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body, Value init) {
  auto firstType = cast<RankedTensorType>(inputs.front().getType());
  auto resultType = firstType.clone(resultElementType);
  if (!init)
    init =
        buildEmpty(b, loc, resultType, dynamicSizesOf(b, loc, inputs.front()));
  AffineMap identity = b.getMultiDimIdentityMap(firstType.getRank());
  SmallVector<AffineMap> maps(inputs.size() + 1, identity);
  SmallVector<utils::IteratorType> iterators(firstType.getRank(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args.drop_back()));
      });
  return generic.getResult(0);
}

Value mlir::moe::buildScalarConvert(OpBuilder &b, Location loc, Value value,
                                    Type type) {
  Type from = value.getType();
  if (from == type)
    return value;
  if (from.getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, type, value);
  return arith::TruncFOp::create(b, loc, type, value);
}

Value mlir::moe::buildConvert(OpBuilder &b, Location loc, Value tensor,
                              Type elementType) {
  if (getElementTypeOrSelf(tensor.getType()) == elementType)
    return tensor;
  return buildMap(b, loc, tensor, elementType,
                  [&](OpBuilder &nb, Location nloc, ValueRange args) {
                    return buildScalarConvert(nb, nloc, args[0], elementType);
                  });
}

Value mlir::moe::buildResult(OpBuilder &b, Location loc, Value f32Tensor,
                             RankedTensorType resultType) {
  Value result = buildConvert(b, loc, f32Tensor, resultType.getElementType());
  if (result.getType() != resultType)
    result = tensor::CastOp::create(b, loc, resultType, result);
  return result;
}

static Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value mlir::moe::buildSigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = f32Constant(b, loc, 1.0);
  Value negated = arith::NegFOp::create(b, loc, x);
  Value exp = math::ExpOp::create(b, loc, negated);
  Value denominator = arith::AddFOp::create(b, loc, one, exp);
  return arith::DivFOp::create(b, loc, one, denominator);
}

Value mlir::moe::buildActivation(OpBuilder &b, Location loc, FfnAttr ffn,
                                 Value gate, Value up) {
  switch (ffn.getActivation()) {
  case Activation::silu_glu: {
    Value silu =
        arith::MulFOp::create(b, loc, gate, buildSigmoid(b, loc, gate));
    return arith::MulFOp::create(b, loc, silu, up);
  }
  case Activation::gelu_glu: {
    // Exact GELU: 0.5 * g * (1 + erf(g / sqrt(2))).
    Value scaled =
        arith::MulFOp::create(b, loc, gate, f32Constant(b, loc, M_SQRT1_2));
    Value erf = math::ErfOp::create(b, loc, scaled);
    Value onePlus =
        arith::AddFOp::create(b, loc, f32Constant(b, loc, 1.0), erf);
    Value half = arith::MulFOp::create(b, loc, gate, f32Constant(b, loc, 0.5));
    Value gelu = arith::MulFOp::create(b, loc, half, onePlus);
    return arith::MulFOp::create(b, loc, gelu, up);
  }
  case Activation::swiglu_oai: {
    // gpt-oss: g = min(g, limit); u = clamp(u, -limit, limit);
    // (u + 1) * g * sigmoid(alpha * g).
    double limit = ffn.getLimit().convertToDouble();
    double alpha = ffn.getAlpha().convertToDouble();
    Value limitValue = f32Constant(b, loc, limit);
    Value g = arith::MinimumFOp::create(b, loc, gate, limitValue);
    Value u = arith::MaximumFOp::create(
        b, loc, arith::MinimumFOp::create(b, loc, up, limitValue),
        f32Constant(b, loc, -limit));
    Value glu = arith::MulFOp::create(
        b, loc, g,
        buildSigmoid(
            b, loc,
            arith::MulFOp::create(b, loc, g, f32Constant(b, loc, alpha))));
    Value upPlusOne =
        arith::AddFOp::create(b, loc, u, f32Constant(b, loc, 1.0));
    return arith::MulFOp::create(b, loc, upPlusOne, glu);
  }
  case Activation::relu:
    return arith::MaximumFOp::create(b, loc, up, f32Constant(b, loc, 0.0));
  }
  llvm_unreachable("unknown activation");
}

/// Columns `offset .. offset + size` of every row of a [M, N] tensor.
static Value columnBlock(OpBuilder &b, Location loc, Value matrix,
                         int64_t offset, int64_t size) {
  auto type = cast<RankedTensorType>(matrix.getType());
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                       b.getIndexAttr(offset)};
  SmallVector<OpFoldResult> sizes = {
      type.isDynamicDim(0) ? OpFoldResult(buildDim(b, loc, matrix, 0))
                           : OpFoldResult(b.getIndexAttr(type.getDimSize(0))),
      b.getIndexAttr(size)};
  SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
  return tensor::ExtractSliceOp::create(b, loc, matrix, offsets, sizes,
                                        strides);
}

Value mlir::moe::buildFfn(OpBuilder &b, Location loc, FfnAttr ffn, Value input,
                          Value gateUp, Value down, Value gateUpBias,
                          Value downBias) {
  // w8a8: each GEMM's input quantized per token (fp8_activation_group),
  // times the weights exactly (f32: the fp8 GEMM multiplies the stored
  // values and applies the scales in f32).
  int64_t group = ffn.getFp8ActivationGroup();
  bool pow2 = ffn.getFp8Pow2Scales();
  Type exact = group ? b.getF32Type() : Type();
  if (group)
    input = buildFp8ActivationGroups(b, loc, input, group, pow2);
  Value hidden = buildLinear(b, loc, input, gateUp, Value(), exact);
  if (gateUpBias)
    hidden = buildAddRowBias(b, loc, hidden, gateUpBias);
  int64_t inter = cast<RankedTensorType>(down.getType()).getDimSize(1);
  Value activated;
  if (ffn.isGated()) {
    Value gate = columnBlock(b, loc, hidden, 0, inter);
    Value up = columnBlock(b, loc, hidden, inter, inter);
    activated =
        buildMap(b, loc, {gate, up}, b.getF32Type(),
                 [&](OpBuilder &nb, Location nloc, ValueRange args) {
                   return buildActivation(nb, nloc, ffn, args[0], args[1]);
                 });
  } else {
    activated =
        buildMap(b, loc, hidden, b.getF32Type(),
                 [&](OpBuilder &nb, Location nloc, ValueRange args) {
                   return buildActivation(nb, nloc, ffn, Value(), args[0]);
                 });
  }
  if (group)
    activated = buildFp8ActivationGroups(b, loc, activated, group, pow2);
  Value output = buildLinear(b, loc, activated, down, Value(), exact);
  if (downBias)
    output = buildAddRowBias(b, loc, output, downBias);
  return output;
}

/// The slot s = permutation[start + i] of dispatched row start + i.
static Value dispatchedSlot(OpBuilder &b, Location loc, Value permutation,
                            Value start, Value i) {
  return arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      tensor::ExtractOp::create(
          b, loc, permutation,
          ValueRange{arith::AddIOp::create(b, loc, start, i)}));
}

Value mlir::moe::buildDispatchedToken(OpBuilder &b, Location loc,
                                      Value permutation, Value start, Value i,
                                      int64_t topK) {
  return arith::DivUIOp::create(b, loc,
                                dispatchedSlot(b, loc, permutation, start, i),
                                arith::ConstantIndexOp::create(b, loc, topK));
}

Value mlir::moe::buildDispatchedRowScale(OpBuilder &b, Location loc,
                                         Value permutation, Value rowScale,
                                         Value start, Value i, int64_t topK) {
  Value slot = dispatchedSlot(b, loc, permutation, start, i);
  Value k = arith::ConstantIndexOp::create(b, loc, topK);
  Value token = arith::DivUIOp::create(b, loc, slot, k);
  Value choice = arith::RemUIOp::create(b, loc, slot, k);
  return tensor::ExtractOp::create(b, loc, rowScale, ValueRange{token, choice});
}

Value mlir::moe::buildGatheredElement(OpBuilder &b, Location loc, Value input,
                                      Value permutation, Value rowScale,
                                      Value start, Value i, Value h,
                                      int64_t topK) {
  Value token = buildDispatchedToken(b, loc, permutation, start, i, topK);
  Value value = toF32(
      b, loc, tensor::ExtractOp::create(b, loc, input, ValueRange{token, h}));
  if (rowScale)
    value = arith::MulFOp::create(
        b, loc, value,
        buildDispatchedRowScale(b, loc, permutation, rowScale, start, i, topK));
  return value;
}

Value mlir::moe::buildGatherRows(OpBuilder &b, Location loc, Value input,
                                 Value permutation, Value rowScale, Value start,
                                 Value count, int64_t topK) {
  int64_t hidden = cast<RankedTensorType>(input.getType()).getDimSize(1);
  auto type =
      RankedTensorType::get({ShapedType::kDynamic, hidden}, b.getF32Type());
  Value init = buildEmpty(b, loc, type, count);
  auto generic = linalg::GenericOp::create(
      b, loc, type, ValueRange{}, ValueRange{init},
      {b.getMultiDimIdentityMap(2)},
      {utils::IteratorType::parallel, utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        Value i = linalg::IndexOp::create(nb, nloc, 0);
        Value h = linalg::IndexOp::create(nb, nloc, 1);
        linalg::YieldOp::create(nb, nloc,
                                buildGatheredElement(nb, nloc, input,
                                                     permutation, rowScale,
                                                     start, i, h, topK));
      });
  return generic.getResult(0);
}

Value mlir::moe::buildGatheredLinear(OpBuilder &b, Location loc, Value input,
                                     Value permutation, Value rowScale,
                                     Value start, Value count, int64_t topK,
                                     Value weight) {
  // The rows are read through the permutation in the body, so no gathered
  // copy is stored.
  return buildLinearOfElements(
      b, loc, count, weight,
      [&](OpBuilder &nb, Location nloc, Value i, Value k) {
        return buildGatheredElement(nb, nloc, input, permutation, rowScale,
                                    start, i, k, topK);
      });
}

Value mlir::moe::buildLinearOfElements(
    OpBuilder &b, Location loc, Value count, Value weight,
    function_ref<Value(OpBuilder &, Location, Value i, Value k)> element) {
  Value init =
      buildLinearAccumulator(b, loc, ShapedType::kDynamic, count, weight);
  // (m, n, k): element(m, k) * B(n, k) -> C(m, n).
  MLIRContext *ctx = b.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {n, k}, ctx),
                                 AffineMap::get(3, 0, {m, n}, ctx)};
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{weight}, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value a = element(nb, nloc, linalg::IndexOp::create(nb, nloc, 0),
                          linalg::IndexOp::create(nb, nloc, 2));
        Value product =
            arith::MulFOp::create(nb, nloc, a, toF32(nb, nloc, args[0]));
        Value sum = arith::AddFOp::create(nb, nloc, args[1], product);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return generic.getResult(0);
}

Value mlir::moe::buildInversePermutation(OpBuilder &b, Location loc,
                                         Value permutation, Value rowCount) {
  auto type = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  Value init = buildEmpty(b, loc, type, rowCount);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, zero, rowCount, one, ValueRange{init},
      [&](OpBuilder &nb, Location nloc, Value r, ValueRange iter) {
        Value slot = arith::IndexCastOp::create(
            nb, nloc, nb.getIndexType(),
            tensor::ExtractOp::create(nb, nloc, permutation, r));
        Value rI32 = arith::IndexCastOp::create(nb, nloc, nb.getI32Type(), r);
        Value next = tensor::InsertOp::create(nb, nloc, rI32, iter[0], slot);
        scf::YieldOp::create(nb, nloc, next);
      });
  return loop.getResult(0);
}

Value mlir::moe::buildCombineRows(OpBuilder &b, Location loc, Value rows,
                                  Value inverse, Value weights, Value first,
                                  Value count, int64_t topK) {
  MLIRContext *ctx = b.getContext();
  int64_t hidden = cast<RankedTensorType>(rows.getType()).getDimSize(1);
  auto accType =
      RankedTensorType::get({ShapedType::kDynamic, hidden}, b.getF32Type());
  Value acc = buildFilled(b, loc, accType, count, b.getF32FloatAttr(0.0));
  // The [count, K] input gives k its extent; without weights it is an
  // unused empty tensor.
  Value perChoice =
      weights ? weights
              : buildEmpty(b, loc,
                           RankedTensorType::get({ShapedType::kDynamic, topK},
                                                 b.getF32Type()),
                           count);
  // (t, h, k) with k innermost: the sum runs over k in order, so results
  // are the same on every run.
  AffineExpr t, h, k;
  bindDims(ctx, t, h, k);
  auto generic = linalg::GenericOp::create(
      b, loc, accType, ValueRange{perChoice}, ValueRange{acc},
      {AffineMap::get(3, 0, {t, k}, ctx), AffineMap::get(3, 0, {t, h}, ctx)},
      {utils::IteratorType::parallel, utils::IteratorType::parallel,
       utils::IteratorType::reduction},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value token = arith::AddIOp::create(
            nb, nloc, first, linalg::IndexOp::create(nb, nloc, 0));
        Value column = linalg::IndexOp::create(nb, nloc, 1);
        Value choice = linalg::IndexOp::create(nb, nloc, 2);
        Value routed = arith::AddIOp::create(
            nb, nloc,
            arith::MulIOp::create(
                nb, nloc, token,
                arith::ConstantIndexOp::create(nb, nloc, topK)),
            choice);
        Value row = arith::IndexCastOp::create(
            nb, nloc, nb.getIndexType(),
            tensor::ExtractOp::create(nb, nloc, inverse, routed));
        Value value =
            tensor::ExtractOp::create(nb, nloc, rows, ValueRange{row, column});
        if (weights)
          value = arith::MulFOp::create(nb, nloc, args[0], value);
        linalg::YieldOp::create(
            nb, nloc,
            arith::AddFOp::create(nb, nloc, args[1], value).getResult());
      });
  return generic.getResult(0);
}

/// isMultipleOf of a value, at most 8 ops deep: a longer chain is reported
/// as unknown, never as a multiple.
static bool isMultipleOfValue(Value v, int64_t n, int depth) {
  if (depth > 8)
    return false;
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return *c % n == 0;
  auto multiple = [&](Value x) { return isMultipleOfValue(x, n, depth + 1); };
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    // Null while the loop is being built (its body builder's arguments).
    auto loop = dyn_cast_or_null<scf::ForOp>(arg.getOwner()->getParentOp());
    return loop && loop.getInductionVar() == v &&
           multiple(loop.getLowerBound()) && multiple(loop.getStep());
  }
  Operation *def = v.getDefiningOp();
  if (auto mul = dyn_cast_or_null<arith::MulIOp>(def))
    return multiple(mul.getLhs()) || multiple(mul.getRhs());
  if (isa_and_nonnull<arith::AddIOp, arith::SubIOp, arith::MinSIOp,
                      arith::MaxSIOp, arith::MinUIOp, arith::MaxUIOp>(def))
    return multiple(def->getOperand(0)) && multiple(def->getOperand(1));
  return false;
}

bool mlir::moe::isMultipleOf(OpFoldResult v, int64_t n) {
  if (!v)
    return false;
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return *c % n == 0;
  return isMultipleOfValue(cast<Value>(v), n, 0);
}
