//===- CpuGemm.cpp - expert GEMM tiles in the CPU's vector form ----------===//

#include "CpuGemm.h"

#include "moe/Conversion/MoeToLinalg/Builders.h"
#include "moe/Dialect/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

bool isVectorElement(Type type) {
  return type.isF32() || type.isBF16() || type.isF16();
}

/// Whether the product of two elements of these types is exact in f32 (but
/// for bf16 products below f32's normal range, 2^-126): the multiply-add
/// may then be one fused operation with the same result.
bool exactProduct(Type row, Type weight) {
  return row.getIntOrFloatBitWidth() == 16 &&
         weight.getIntOrFloatBitWidth() == 16;
}

/// One GEMM's loop nest: `rowTile` x `columnTile` outputs at a time.
struct CpuLinearBuilder {
  OpBuilder &b;
  Location loc;
  Value weight;
  int64_t lanes, hidden;
  bool bf16Pairs;
  function_ref<CpuGemmRow(OpBuilder &, Location, Value)> rowAt;

  /// Reduction elements per step: a vector of lanes, or of lane pairs.
  int64_t stepSize() const { return bf16Pairs ? 2 * lanes : lanes; }

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// Elements k .. k + stepSize() of row `row` of `source`, in f32 (as
  /// they are with bf16 pairs); past the reduction's end (`inBounds` false)
  /// zeros.
  Value read(Value source, Value row, Value k, bool inBounds) {
    Type element = getElementTypeOrSelf(source.getType());
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(element));
    Value v = vector::TransferReadOp::create(
        b, loc, VectorType::get({stepSize()}, element), source,
        ValueRange{row, k}, zero, ArrayRef<bool>{inBounds});
    if (!element.isF32() && !bf16Pairs)
      v = arith::ExtFOp::create(b, loc,
                                VectorType::get({lanes}, b.getF32Type()), v);
    return v;
  }

  /// One step of the reduction at `k`: every accumulator (row-major over
  /// the tile) plus its row's and column's product, as the scalar form
  /// computes it (the row element times its scale, times the weight).
  SmallVector<Value> step(ArrayRef<CpuGemmRow> rows, Value column0,
                          int64_t columns, Value k, ValueRange accs,
                          bool inBounds) {
    SmallVector<Value> xs, ws;
    for (const CpuGemmRow &row : rows) {
      Value x = read(row.source, row.index, k, inBounds);
      if (row.scale)
        x = arith::MulFOp::create(
            b, loc, x,
            vector::BroadcastOp::create(b, loc, x.getType(), row.scale));
      xs.push_back(x);
    }
    for (int64_t c = 0; c < columns; ++c)
      ws.push_back(read(weight,
                        arith::AddIOp::create(b, loc, column0, index(c)), k,
                        inBounds));
    SmallVector<Value> next;
    // Lane i adds the products of pairs 2i and 2i + 1 (vdpbf16ps).
    if (bf16Pairs) {
      for (size_t r = 0; r < xs.size(); ++r)
        for (int64_t c = 0; c < columns; ++c)
          next.push_back(x86vector::DotBF16Op::create(
              b, loc, accs[r * columns + c], xs[r], ws[c]));
      return next;
    }
    // bf16 and f16 products are exact in f32 (at most 11 x 11 significant
    // bits; a bf16 product may underflow f32's normal range, where fused
    // and apart differ in a denormal's last bits), so LLVM may fuse each
    // multiply and add (contract) where the CPU has FMA; a scaled row's or
    // an f32 product is rounded, and stays apart.
    Type weightElement = getElementTypeOrSelf(weight.getType());
    for (size_t r = 0; r < xs.size(); ++r) {
      auto flags =
          !rows[r].scale &&
                  exactProduct(getElementTypeOrSelf(rows[r].source.getType()),
                               weightElement)
              ? arith::FastMathFlags::contract
              : arith::FastMathFlags::none;
      for (int64_t c = 0; c < columns; ++c)
        next.push_back(arith::AddFOp::create(
            b, loc, accs[r * columns + c],
            arith::MulFOp::create(b, loc, xs[r], ws[c], flags), flags));
    }
    return next;
  }

  /// The lanes summed by halving: the same order on every target.
  Value sumLanes(Value v) {
    for (int64_t n = lanes / 2; n >= 1; n /= 2) {
      Value low =
          vector::ExtractStridedSliceOp::create(b, loc, v, {0}, {n}, {1});
      Value high =
          vector::ExtractStridedSliceOp::create(b, loc, v, {n}, {n}, {1});
      v = arith::AddFOp::create(b, loc, low, high);
    }
    return vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{0});
  }

  /// sumLanes of `lanes` accumulators at once, lane i of the result
  /// accumulator i's: at each halving, two vectors that each hold groups
  /// of the same width (one group per accumulator) are shuffled into their
  /// groups' low halves and high halves and added, so one vector add does
  /// the work of several, and every output adds the same pairs in the same
  /// order as sumLanes (bitwise the same sums).
  Value sumLanesTogether(ArrayRef<Value> accs) {
    SmallVector<Value> vs(accs.begin(), accs.end());
    for (int64_t width = lanes; width > 1; width /= 2) {
      int64_t groups = lanes / width, half = width / 2;
      SmallVector<int64_t> lowMask, highMask;
      for (int64_t from : {int64_t(0), lanes})
        for (int64_t g = 0; g < groups; ++g)
          for (int64_t j = 0; j < half; ++j) {
            lowMask.push_back(from + g * width + j);
            highMask.push_back(from + g * width + half + j);
          }
      SmallVector<Value> next;
      for (size_t i = 0; i + 1 < vs.size(); i += 2)
        next.push_back(arith::AddFOp::create(
            b, loc,
            vector::ShuffleOp::create(b, loc, vs[i], vs[i + 1], lowMask),
            vector::ShuffleOp::create(b, loc, vs[i], vs[i + 1], highMask)));
      vs = std::move(next);
    }
    return vs.front();
  }

  /// Outputs rows `row0 .. + rowTile` by columns `column0 .. + columns`
  /// into `out`.
  Value tile(int64_t rowTile, int64_t columns, Value row0, Value column0,
             Value out) {
    SmallVector<CpuGemmRow> rows;
    for (int64_t r = 0; r < rowTile; ++r)
      rows.push_back(
          rowAt(b, loc, arith::AddIOp::create(b, loc, row0, index(r))));
    auto accType = VectorType::get({lanes}, b.getF32Type());
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.0f)));
    SmallVector<Value> init(rowTile * columns, zero);
    int64_t whole = hidden / stepSize() * stepSize();
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(whole), index(stepSize()), init,
        [&](OpBuilder &lb, Location, Value k, ValueRange accs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(lb.getInsertionBlock());
          scf::YieldOp::create(b, loc,
                               step(rows, column0, columns, k, accs,
                                    /*inBounds=*/true));
        });
    SmallVector<Value> accs = loop.getResults();
    // The reduction's tail, read masked.
    if (whole != hidden)
      accs = step(rows, column0, columns, index(whole), accs,
                  /*inBounds=*/false);
    // As many outputs as lanes: summed together, a row's outputs written
    // as one vector.
    if (static_cast<int64_t>(accs.size()) == lanes) {
      Value sums = sumLanesTogether(accs);
      for (int64_t r = 0; r < rowTile; ++r)
        out = vector::TransferWriteOp::create(
                  b, loc,
                  vector::ExtractStridedSliceOp::create(
                      b, loc, sums, {r * columns}, {columns}, {1}),
                  out,
                  ValueRange{arith::AddIOp::create(b, loc, row0, index(r)),
                             column0},
                  ArrayRef<bool>{true})
                  .getResult();
      return out;
    }
    for (int64_t r = 0; r < rowTile; ++r)
      for (int64_t c = 0; c < columns; ++c)
        out = tensor::InsertOp::create(
            b, loc, sumLanes(accs[r * columns + c]), out,
            ValueRange{arith::AddIOp::create(b, loc, row0, index(r)),
                       arith::AddIOp::create(b, loc, column0, index(c))});
    return out;
  }

  /// `body(start, out)` for start = from, from + stepSize, ... below `to`.
  Value loop(Value from, Value to, int64_t stepSize, Value out,
             function_ref<Value(Value, Value)> body) {
    return scf::ForOp::create(
               b, loc, from, to, index(stepSize), ValueRange{out},
               [&](OpBuilder &lb, Location, Value iv, ValueRange iter) {
                 OpBuilder::InsertionGuard guard(b);
                 b.setInsertionPointToStart(lb.getInsertionBlock());
                 scf::YieldOp::create(b, loc, body(iv, iter[0]));
               })
        .getResult(0);
  }

  /// [from, to) split into whole steps of `size` and the rest one by one:
  /// `body(size or 1, start, out)`.
  Value split(Value from, Value to, int64_t size, Value out,
              function_ref<Value(int64_t, Value, Value)> body) {
    Value count = arith::SubIOp::create(b, loc, to, from);
    Value whole = arith::AddIOp::create(
        b, loc, from,
        arith::SubIOp::create(
            b, loc, count, arith::RemUIOp::create(b, loc, count, index(size))));
    if (size > 1)
      out = loop(from, whole, size, out,
                 [&](Value at, Value o) { return body(size, at, o); });
    return loop(size > 1 ? whole : from, to, 1, out,
                [&](Value at, Value o) { return body(1, at, o); });
  }
};

} // namespace

bool mlir::moe::canTakeCpuForm(Value weight, Type rowElement) {
  return !weight.getDefiningOp<DequantizeOp>() &&
         isVectorElement(getElementTypeOrSelf(weight.getType())) &&
         isVectorElement(rowElement);
}

bool mlir::moe::takesBf16Pairs(Value weight, Type rowElement, bool scaledRows) {
  return !scaledRows && rowElement.isBF16() &&
         getElementTypeOrSelf(weight.getType()).isBF16();
}

Value mlir::moe::buildCpuLinear(
    OpBuilder &b, Location loc, Value count, Value weight, int64_t lanes,
    bool bf16Pairs,
    function_ref<CpuGemmRow(OpBuilder &, Location, Value row)> rowAt) {
  auto weightType = cast<RankedTensorType>(weight.getType());
  CpuLinearBuilder builder{
      b, loc, weight, lanes, weightType.getDimSize(1), bf16Pairs, rowAt};
  // Accumulators in registers: 16 of them where a vector of `lanes` f32 is
  // one AVX-512 register (4 rows by 4 columns: 8 loads feed 16
  // multiply-adds), 8 with narrower vectors.
  int64_t rowTile = lanes >= 16 ? 4 : 2, columnTile = 4;
  Value width = buildDim(b, loc, weight, 0);
  auto outType = RankedTensorType::get(
      {ShapedType::kDynamic, weightType.getDimSize(0)}, b.getF32Type());
  SmallVector<Value> sizes = {count};
  if (outType.isDynamicDim(1))
    sizes.push_back(width);
  Value out = buildEmpty(b, loc, outType, sizes);
  Value zero = builder.index(0);
  return builder.split(
      zero, count, rowTile, out, [&](int64_t rows, Value row0, Value o) {
        return builder.split(zero, width, columnTile, o,
                             [&](int64_t columns, Value column0, Value o2) {
                               return builder.tile(rows, columns, row0, column0,
                                                   o2);
                             });
      });
}
