//===- TensorCoreTiles.cpp - expert GEMM tiles in tensor-core form --------===//
//
// The mma.sync instructions multiply full 16 x 8 x 16 tiles, so the block's
// ragged rows are padded to blockRows and the reduction walks
// chunks whose staged rows fit in shared memory whatever the hidden size
// (a whole [16, 7168] bf16 row block would not). Built on tensors with
// upstream ops; the padding and staging are explicit here because upstream
// tensor.pad would pad the whole reduction at once.
//
//===----------------------------------------------------------------------===//

#include "TensorCoreTiles.h"
#include "ActivationGroups.h"

#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "moe/Dialect/MoeDialect.h"
#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::moe;

int64_t mlir::moe::tensorCoreChunk(int64_t k) {
  for (int64_t chunk : {64, 32, 16})
    if (k > 0 && k % chunk == 0)
      return chunk;
  return 0;
}

/// Whether a block of `blockRows` rows is whole mma.sync tiles: multiples
/// of 16, or 8 in the swapped form (the tokens as the 8-column side).
static bool mmaRows(int64_t blockRows) {
  return nvidia::isSwappedMma(blockRows) ||
         (blockRows > 0 && blockRows % 16 == 0);
}

TensorCorePlan
mlir::moe::planTensorCores(Type storage, Type weightType, int64_t blockRows,
                           int64_t columns, int64_t width, int64_t k,
                           int64_t weights, int64_t wanted,
                           QuantizedStorage quantized, int64_t activationGroup,
                           int64_t e4m3WeightBlock, bool e4m3Mma) {
  bool dequantized = bool(quantized);
  int64_t chunk = tensorCoreChunk(k);
  wanted = std::max<int64_t>(wanted, 1);
  // w8a8 of e4m3 weights: the stored values staged (8-bit with e4m3
  // mma.sync, else 16-bit), the f32 accumulators and product tiles, the
  // rows' scales; or no tensor cores.
  if (e4m3WeightBlock && activationGroup) {
    bool e4m3Tiles = e4m3Mma && chunk >= 32;
    if (chunk == 0 || activationGroup % chunk != 0 ||
        e4m3WeightBlock % chunk != 0 || !mmaRows(blockRows) ||
        width % 32 != 0 || columns % width != 0 ||
        !(e4m3Tiles || weightType.isBF16() || weightType.isF16()))
      return {};
    int64_t rowBytes = chunk * (e4m3Tiles ? 1 : 2) + kStagedRowPaddingBytes;
    for (int64_t stages = wanted; stages >= 1; --stages) {
      int64_t bytes = accumulatorBytes(2 * weights, blockRows, width) +
                      blockRows * llvm::divideCeil(k, activationGroup) * 4 +
                      stages * (blockRows + weights * width) * rowBytes;
      if (bytes <= kKernelSharedMemoryBudget)
        return {stages, /*stageWeights=*/true, /*storedE4M3=*/true, e4m3Tiles};
    }
    return {};
  }
  if (!(storage.isBF16() || storage.isF16()) || storage != weightType ||
      chunk == 0 || !mmaRows(blockRows) || width % 32 != 0 ||
      columns % width != 0 || (activationGroup && activationGroup % chunk != 0))
    return {};
  int64_t rowLength = chunk + kStagedRowPaddingBytes / 2;
  // w8a16: the stored values of a chunk are whole 16-byte runs (cp.async),
  // and its scales one block's (read once per chunk) or, where the tile's
  // rows span several scale blocks (MXFP4's 1 x 32, fp8's 128-row blocks
  // under a wider tile), the blocks' scale rows, kept for the block.
  int64_t storedRowBytes = chunk * quantized.bits / 8;
  int64_t scaleRows = scaleRowsOfTile(quantized, width);
  bool w8a16 = dequantized && !activationGroup && quantized.bits;
  bool stageable = w8a16 && storedRowBytes % 16 == 0 &&
                   (scaleRows || (quantized.blockRows % width == 0 &&
                                  quantized.blockColumns % chunk == 0));
  int64_t scaleRowBytes = llvm::alignTo(
      llvm::divideCeil(k, std::max<int64_t>(quantized.blockColumns, 1)) *
          quantized.scaleBytes,
      4);
  // The block keeps its weight rows' scales (buildScaleRows) staged, and
  // unstaged under several whole fp8 blocks (MXFP4's rows' scales only
  // staged).
  auto keepsScaleRows = [&](bool stageStored) {
    return w8a16 && scaleRows > 0 && (stageStored || quantized.blockRows > 1);
  };
  auto fits = [&](int64_t stages, bool stageWeights, bool stageStored = false) {
    int64_t bytes = accumulatorBytes(weights, blockRows, width) +
                    stages * blockRows * rowLength * 2;
    // A quantized weight's chunk, dequantized for the tensor cores; a plain
    // one's, staged beside the rows in each stage.
    if (dequantized)
      bytes += weights * width * rowLength * 2;
    if (stageWeights)
      bytes += stages * weights * width * rowLength * 2;
    if (stageStored)
      bytes +=
          stages * weights * width * (storedRowBytes + kStagedRowPaddingBytes);
    if (keepsScaleRows(stageStored))
      bytes += weights * scaleRows * scaleRowBytes;
    // w8a8: the rows' scales and a product tile per weight.
    if (activationGroup)
      bytes += blockRows * llvm::divideCeil(k, activationGroup) * 4 +
               accumulatorBytes(weights, blockRows, width);
    return bytes <= kKernelSharedMemoryBudget;
  };
  // Plain weights staged with the rows, in a pipeline of two stages or
  // more where one was asked for; else read where they are (a wide tile
  // of many rows may leave no room for them).
  if (!dequantized)
    for (int64_t stages = wanted; stages >= std::min<int64_t>(wanted, 2);
         --stages)
      if (fits(stages, true))
        return {stages, true};
  if (stageable)
    for (int64_t stages = wanted; stages >= std::min<int64_t>(wanted, 2);
         --stages)
      if (fits(stages, false, true))
        return {stages,
                false,
                false,
                false,
                /*stageStored=*/true,
                keepsScaleRows(true)};
  for (int64_t stages = wanted; stages >= 1; --stages)
    if (fits(stages, false))
      return {stages, false, false, false, false, keepsScaleRows(false)};
  return {};
}

int64_t mlir::moe::scaleRowsOfTile(QuantizedStorage quantized, int64_t width) {
  if (!quantized || quantized.blockRows <= 0)
    return 0;
  if (quantized.blockRows == 1)
    return width;
  if (quantized.blockRows < width && width % quantized.blockRows == 0)
    return width / quantized.blockRows;
  return 0;
}

QuantizedStorage mlir::moe::quantizedStorage(Value weight) {
  while (auto slice = weight.getDefiningOp<tensor::ExtractSliceOp>())
    weight = slice.getSource();
  auto dequantize = weight.getDefiningOp<DequantizeOp>();
  if (!dequantize)
    return {};
  QuantizedStorage storage;
  storage.dequantized = true;
  Type stored = getElementTypeOrSelf(dequantize.getQuantized());
  if (dequantize.isPackedE2M1())
    storage.bits = 4;
  else if (isa<Float8E4M3FNType>(stored))
    storage.bits = 8;
  storage.blockRows = dequantize.getBlock()[0];
  storage.blockColumns = dequantize.getBlock()[1];
  storage.scaleBytes =
      getElementTypeOrSelf(dequantize.getScale()).getIntOrFloatBitWidth() / 8;
  return storage;
}

namespace {

/// The tensor-core form of one block's expert GEMMs (buildTensorCoreLinears):
/// f32 accumulators, `stages` stages of staging tiles (the rows' chunks and
/// those of the plain weights, or in the stored-e4m3 form of every weight's
/// stored values) and the software pipeline over the reduction's chunks.
class TensorCorePipeline {
public:
  TensorCorePipeline(Location loc, int64_t blockRows, Value count,
                     ValueRange weights, Type storage, TensorCorePlan plan,
                     RowElement rows, int64_t group, bool pow2Scales,
                     bool rowsCopied)
      : loc(loc), blockRows(blockRows), count(count), weights(weights),
        stages(plan.stages), rows(std::move(rows)),
        rowsAsync(rowsCopied && !group), group(group), pow2Scales(pow2Scales),
        stored(plan.storedE4M3), e4m3(plan.e4m3Mma),
        stageStored(plan.stageStored), keepScaleRows(plan.keepScaleRows),
        quantized(quantizedStorage(weights.front())) {
    auto firstType = cast<RankedTensorType>(weights.front().getType());
    columns = firstType.getDimSize(0);
    k = firstType.getDimSize(1);
    chunk = tensorCoreChunk(k);
    stagedType = RankedTensorType::get(
        {blockRows, chunk},
        e4m3 ? Float8E4M3FNType::get(storage.getContext()) : storage);
    for (auto [i, weight] : llvm::enumerate(weights))
      if ((plan.stageWeights && (stored || !isDequantized(weight))) ||
          (stageStored && isDequantized(weight)))
        stagedWeights.push_back(i);
    perStage = 1 + stagedWeights.size();
    storedChunk = chunk * quantized.bits / 8;
  }

  /// The [blockRows, columns] products, sliced to [count, width].
  SmallVector<Value> build(OpBuilder &b, Value width) {
    // alloc_tensor, not tensor.empty: CSE would merge the accumulators'
    // (and the staging tiles') empty tensors and fills, and bufferization
    // then copy them apart.
    // The rows the products take: the block's rows rounded up to whole
    // mma.sync tiles of 16. Past them a tile of blockRows is padding, which
    // the tensor cores need not multiply (each expert's last tile of rows
    // is partly padding; at prefill with many experts, a tenth of the
    // products). The accumulators (and w8a8's product tiles) are those
    // rows of [blockRows, columns] tiles, a dynamic count with a constant
    // bound.
    if (blockRows > 16) {
      Value tiles16 = arith::MinSIOp::create(
          b, loc, arith::CeilDivUIOp::create(b, loc, count, index(b, 16)),
          index(b, blockRows / 16));
      usedRows = arith::MulIOp::create(b, loc, tiles16, index(b, 16));
    }
    // Each a slice of a tile whose rows are padded
    // (accumulatorRowPaddingBytes), for the banks of the mma.sync C
    // fragments' accesses.
    auto accType = RankedTensorType::get(
        {blockRows, columns + accumulatorRowPaddingBytes(blockRows) / 4},
        b.getF32Type());
    auto accTile = [&]() -> Value {
      Value tile =
          bufferization::AllocTensorOp::create(b, loc, accType, ValueRange{});
      return leading(b, loc, tile, multipliedRows(b), columns);
    };
    Value zeroF32 = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
    SmallVector<Value> accs;
    for (size_t i = 0; i < weights.size(); ++i)
      accs.push_back(
          linalg::FillOp::create(b, loc, zeroF32, accTile()).getResult(0));
    // The stored-e4m3 form and w8a16's staging stage the weights' stored
    // values (the same slice of the moe.dequantize's operand).
    if (stored || stageStored || keepScaleRows)
      for (Value weight : weights)
        storedWeights.push_back(storedValues(b, weight));
    // A quantized weight's chunks are dequantized into one tile per weight,
    // allocated at the block's top like the staging tiles and padded like
    // them (the fragment loads of its rows would conflict otherwise).
    for (Value weight : weights)
      chunkTiles.push_back(isDequantized(weight) && !stored
                               ? bufferization::AllocTensorOp::create(
                                     b, loc, paddedType(columns), ValueRange{})
                                     .getResult()
                               : Value());
    // w8a8: the rows' scales, and a product tile per weight that each
    // chunk's mma.sync starts from zero in, carried by the loop after the
    // accumulators (so that each is bufferized once, at the block's top).
    SmallVector<Value> state(accs);
    if (group) {
      scales = buildActivationScales(b, loc, blockRows, count, k, group,
                                     pow2Scales, rows);
      for (size_t i = 0; i < weights.size(); ++i)
        state.push_back(accTile());
    }
    // Per stage, a staging tile of the rows and one of each staged weight's
    // chunk, each bufferized once at the block's top. Their rows are
    // padded by kStagedRowPaddingBytes (16 bytes): a row then starts 4
    // banks further round than the one before would unpadded, so the 8
    // rows x 4 column pairs of an mma.sync fragment load fall in 32
    // different banks (unpadded, a 64-element row is a whole 128-byte bank
    // row and 8 lanes share each bank). In the e4m3 form a 64-byte row
    // padded to 80 starts 20 banks on: rows 0..7 at banks 0, 20, 8, 28,
    // 16, 4, 24, 12, each lane group's 4 words apart again.
    SmallVector<Value> tiles;
    for (int64_t s = 0; s < stages; ++s) {
      tiles.push_back(bufferization::AllocTensorOp::create(
          b, loc, paddedType(blockRows), ValueRange{}));
      for (size_t w = 0; w < stagedWeights.size(); ++w)
        tiles.push_back(bufferization::AllocTensorOp::create(
            b, loc, stageStored ? storedTileType() : paddedType(columns),
            ValueRange{}));
    }
    // An empty block (past the last expert's rows) stages and reads
    // nothing.
    some = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, count,
                                 index(b, 0));
    chunks =
        arith::SelectOp::create(b, loc, some, index(b, k / chunk), index(b, 0));
    lastChunk = arith::SubIOp::create(b, loc, chunks, index(b, 1));
    if (keepScaleRows)
      for (Value weight : weights)
        scaleRows.push_back(buildScaleRows(b, weight));
    if (stages > 1)
      buildPrologue(b, tiles);
    scf::ForOp loop = buildLoop(b, state, tiles);
    SmallVector<Value> products;
    for (Value acc : loop.getResults().take_front(accs.size())) {
      SmallVector<OpFoldResult> offsets(2, b.getIndexAttr(0));
      SmallVector<OpFoldResult> sizes = {count, width};
      SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
      products.push_back(
          tensor::ExtractSliceOp::create(b, loc, acc, offsets, sizes, strides));
    }
    return products;
  }

private:
  Value index(OpBuilder &nb, int64_t v) const {
    return arith::ConstantIndexOp::create(nb, loc, v);
  }

  /// Stages the rows' chunk from column `k0` into the padded tile
  /// `padded`: tile[i, j] = rows[min(i, count - 1), k0 + j] (with w8a8,
  /// its e4m3 value). The padding repeats the last row (staging runs only
  /// when count > 0). Row i of a product depends on staged row i alone,
  /// and the rows past count are not kept, so any finite padding would do.
  Value stageRows(OpBuilder &nb, Location nloc, Value padded, Value k0) const {
    Value tile = unpadded(nb, nloc, padded, blockRows);
    auto op = linalg::GenericOp::create(
        nb, nloc, stagedType, ValueRange{}, ValueRange{tile},
        {nb.getMultiDimIdentityMap(2)},
        {utils::IteratorType::parallel, utils::IteratorType::parallel},
        [&](OpBuilder &gb, Location gloc, ValueRange) {
          Value i = linalg::IndexOp::create(gb, gloc, 0);
          Value j = linalg::IndexOp::create(gb, gloc, 1);
          Value lastRow = arith::SubIOp::create(
              gb, gloc, count, arith::ConstantIndexOp::create(gb, gloc, 1));
          Value row = arith::MinSIOp::create(gb, gloc, i, lastRow);
          Value at = arith::AddIOp::create(gb, gloc, k0, j);
          Value element = rows(gb, gloc, row, at);
          if (group) {
            Value quantized = buildQuantizedActivation(
                gb, gloc, scales, group, row, at, toF32(gb, gloc, element));
            element =
                e4m3 ? buildE4M3Bits(gb, gloc, quantized)
                     : arith::TruncFOp::create(
                           gb, gloc, stagedType.getElementType(), quantized)
                           .getResult();
          }
          linalg::YieldOp::create(gb, gloc, element);
        });
    // Quantized or scaled on the way, the rows are not a copy.
    if (rowsAsync)
      markAsyncCopy(nb, op);
    return repad(nb, nloc, op.getResult(0), padded, blockRows);
  }

  /// Stages the `width` columns from `k0` of `weight` ([columns, K], the
  /// stored values in the stored-e4m3 form and w8a16's staging) into
  /// `padded`.
  Value stageWeight(OpBuilder &nb, Location nloc, Value padded, Value weight,
                    Value k0, int64_t width) const {
    Value tile = leading(nb, nloc, padded, nb.getIndexAttr(columns), width);
    auto op = linalg::GenericOp::create(
        nb, nloc, tile.getType(), ValueRange{}, ValueRange{tile},
        {nb.getMultiDimIdentityMap(2)},
        {utils::IteratorType::parallel, utils::IteratorType::parallel},
        [&](OpBuilder &gb, Location gloc, ValueRange) {
          Value i = linalg::IndexOp::create(gb, gloc, 0);
          Value at = arith::AddIOp::create(
              gb, gloc, k0, linalg::IndexOp::create(gb, gloc, 1));
          Value element = extractThroughSlice(gb, gloc, weight, {i, at});
          // e4m3 in 16 bits for the bf16/f16 tensor cores: exact.
          if (stored && !e4m3)
            element =
                arith::TruncFOp::create(gb, gloc, stagedType.getElementType(),
                                        buildE4M3Value(gb, gloc, element));
          linalg::YieldOp::create(gb, gloc, element);
        });
    if (!stored || e4m3)
      markAsyncCopy(nb, op);
    return repad(nb, nloc, op.getResult(0), padded, columns, width);
  }

  /// Element `indices` of `value`, read from the tensor it is a unit-stride
  /// slice of (the stacked weight, whose rows start 16-byte aligned at
  /// static strides, which the staging copy needs to issue 16-byte runs;
  /// the slice's offset depends on the expert).
  static Value extractThroughSlice(OpBuilder &b, Location loc, Value value,
                                   ArrayRef<Value> indices) {
    auto slice = value.getDefiningOp<tensor::ExtractSliceOp>();
    if (!slice || !slice.hasUnitStride())
      return tensor::ExtractOp::create(b, loc, value, indices);
    return tensor::ExtractOp::create(b, loc, slice.getSource(),
                                     sourceIndices(b, loc, slice, indices));
  }

  /// The indices into `slice`'s source (unit strides) of its element
  /// `indices`.
  static SmallVector<Value> sourceIndices(OpBuilder &b, Location loc,
                                          tensor::ExtractSliceOp slice,
                                          ArrayRef<Value> indices) {
    llvm::SmallBitVector dropped = slice.getDroppedDims();
    SmallVector<Value> at;
    size_t next = 0;
    for (auto [d, offset] : llvm::enumerate(slice.getMixedOffsets())) {
      Value start = getValueOrCreateConstantIndexOp(b, loc, offset);
      if (dropped.test(d)) {
        at.push_back(start);
        continue;
      }
      Value index = indices[next++];
      std::optional<int64_t> constant = getConstantIntValue(offset);
      at.push_back(
          constant && *constant == 0
              ? index
              : arith::AddIOp::create(b, loc, start, index).getResult());
    }
    return at;
  }

  /// The slice of a moe.dequantize's result that `weight` is, and the op.
  static std::pair<tensor::ExtractSliceOp, DequantizeOp>
  dequantizedSlice(Value weight) {
    auto slice = weight.getDefiningOp<tensor::ExtractSliceOp>();
    return {slice, slice ? slice.getSource().getDefiningOp<DequantizeOp>()
                         : DequantizeOp()};
  }

  /// The stored e4m3 values of `weight`, a slice of a moe.dequantize of
  /// e4m3 values (planTensorCores' caller checks it is): the same slice
  /// of the op's operand.
  Value storedValues(OpBuilder &b, Value weight) const {
    auto [slice, dequantize] = dequantizedSlice(weight);
    SmallVector<int64_t> shape(
        cast<RankedTensorType>(weight.getType()).getShape());
    SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
    // Packed e2m1: a byte holds two columns (the slice starts at an even
    // column: its reduction is whole).
    if (dequantize.isPackedE2M1()) {
      shape.back() /= 2;
      sizes.back() = b.getIndexAttr(shape.back());
      OpFoldResult first = offsets.back();
      if (std::optional<int64_t> c = getConstantIntValue(first))
        offsets.back() = b.getIndexAttr(*c / 2);
      else
        offsets.back() =
            arith::DivUIOp::create(b, loc, cast<Value>(first), index(b, 2))
                .getResult();
    }
    return tensor::ExtractSliceOp::create(
        b, loc,
        RankedTensorType::get(shape,
                              getElementTypeOrSelf(dequantize.getQuantized())),
        dequantize.getQuantized(), offsets, sizes, slice.getMixedStrides());
  }

  /// The scales of the scale blocks a block's weight rows span, read once
  /// into a [rows of blocks, groups] tile for the block's chunks (when it
  /// has rows): each row's (MXFP4's 1 x 32 blocks) or each 128 rows' (fp8
  /// under a wider tile, whose first row starts a block for certain). Null
  /// where that is not certain: the chunks then read each element's.
  Value buildScaleRows(OpBuilder &b, Value weight) const {
    // Named, not a structured binding: the lambdas below capture them
    // (C++17; clang refuses, gcc allows).
    auto [sliceOp, dequantizeOp] = dequantizedSlice(weight);
    tensor::ExtractSliceOp slice = sliceOp;
    DequantizeOp dequantize = dequantizeOp;
    int64_t blockRows = quantized.blockRows;
    int64_t rank = slice.getSourceType().getRank();
    if (blockRows > 1 &&
        !isMultipleOf(slice.getMixedOffsets()[rank - 2], blockRows))
      return Value();
    int64_t groups = llvm::divideCeil(k, quantized.blockColumns);
    auto type =
        RankedTensorType::get({scaleRowsOfTile(quantized, columns), groups},
                              getElementTypeOrSelf(dequantize.getScale()));
    Value tile =
        bufferization::AllocTensorOp::create(b, loc, type, ValueRange{});
    auto copied = scf::IfOp::create(
        b, loc, some,
        [&](OpBuilder &nb, Location nloc) {
          auto copy = linalg::GenericOp::create(
              nb, nloc, type, ValueRange{}, ValueRange{tile},
              {nb.getMultiDimIdentityMap(2)},
              {utils::IteratorType::parallel, utils::IteratorType::parallel},
              [&](OpBuilder &gb, Location gloc, ValueRange) {
                // The first row and column of scale block (r, g).
                Value row = linalg::IndexOp::create(gb, gloc, 0);
                if (blockRows > 1)
                  row = arith::MulIOp::create(gb, gloc, row,
                                              index(gb, blockRows));
                Value column = arith::MulIOp::create(
                    gb, gloc, linalg::IndexOp::create(gb, gloc, 1),
                    index(gb, quantized.blockColumns));
                SmallVector<Value> at = buildScaleIndices(
                    gb, gloc, dequantize,
                    sourceIndices(gb, gloc, slice, {row, column}));
                linalg::YieldOp::create(gb, gloc,
                                        tensor::ExtractOp::create(
                                            gb, gloc, dequantize.getScale(), at)
                                            .getResult());
              });
          scf::YieldOp::create(nb, nloc, copy.getResult(0));
        },
        [&](OpBuilder &nb, Location nloc) {
          scf::YieldOp::create(nb, nloc, tile);
        });
    return copied.getResult(0);
  }

  /// Weight `w`'s chunk from column `k0`, dequantized into `out` ([columns,
  /// chunk]) from its staged stored values `staged` ([columns,
  /// storedChunk]; null: from the stored weight in global memory): each
  /// value times its block's scale (the chunk's one, read here once; or
  /// its scale block's, from the block's kept scale rows), the same
  /// arithmetic as buildDequantizedElement's.
  Value dequantizeChunk(OpBuilder &nb, Location nloc, size_t w, Value staged,
                        Value k0, Value out) const {
    // Unstaged, the stored values are read where they are.
    Value stored = staged ? Value() : storedWeights[w];
    // Named, not a structured binding: the lambda below captures them
    // (C++17; clang refuses, gcc allows).
    auto [sliceOp, dequantizeOp] = dequantizedSlice(weights[w]);
    tensor::ExtractSliceOp slice = sliceOp;
    DequantizeOp dequantize = dequantizeOp;
    Value kept = scaleRows.empty() ? Value() : scaleRows[w];
    Value scale;
    if (!kept) {
      SmallVector<Value> at =
          sourceIndices(nb, nloc, slice, {index(nb, 0), k0});
      llvm::SmallBitVector dropped = slice.getDroppedDims();
      SmallVector<OpFoldResult> offsets, sizes;
      for (auto [d, offset] : llvm::enumerate(at)) {
        offsets.push_back(offset);
        sizes.push_back(nb.getIndexAttr(dropped.test(d)      ? 1
                                        : d + 1 == at.size() ? chunk
                                                             : columns));
      }
      scale = buildUniformScale(nb, nloc, dequantize, offsets, sizes);
    }
    Type element = getElementTypeOrSelf(dequantize.getResult());
    return linalg::GenericOp::create(
               nb, nloc, out.getType(), ValueRange{}, ValueRange{out},
               {nb.getMultiDimIdentityMap(2)},
               {utils::IteratorType::parallel, utils::IteratorType::parallel},
               [&](OpBuilder &gb, Location gloc, ValueRange) {
                 Value i = linalg::IndexOp::create(gb, gloc, 0);
                 Value j = linalg::IndexOp::create(gb, gloc, 1);
                 Value column = arith::AddIOp::create(gb, gloc, k0, j);
                 // The stored element: in the stage's columns or the
                 // weight's, a packed e2m1 pair's byte holding two.
                 Value at = staged ? j : column;
                 if (quantized.bits == 4)
                   at = arith::DivUIOp::create(gb, gloc, at, index(gb, 2));
                 Value value = buildStoredValue(
                     gb, gloc, dequantize,
                     staged ? tensor::ExtractOp::create(gb, gloc, staged,
                                                        ValueRange{i, at})
                                  .getResult()
                            : extractThroughSlice(gb, gloc, stored, {i, at}),
                     column);
                 Value blockScale = scale;
                 if (!blockScale && kept) {
                   Value blockRow =
                       quantized.blockRows == 1
                           ? i
                           : arith::DivUIOp::create(
                                 gb, gloc, i, index(gb, quantized.blockRows))
                                 .getResult();
                   Value group = arith::DivUIOp::create(
                       gb, gloc, column, index(gb, quantized.blockColumns));
                   blockScale = buildScaleValue(
                       gb, gloc,
                       tensor::ExtractOp::create(gb, gloc, kept,
                                                 ValueRange{blockRow, group}));
                 }
                 if (!blockScale)
                   blockScale = buildDequantizeScale(
                       gb, gloc, dequantize,
                       sourceIndices(gb, gloc, slice, {i, column}));
                 Value scaled =
                     arith::MulFOp::create(gb, gloc, value, blockScale);
                 linalg::YieldOp::create(
                     gb, gloc, buildScalarConvert(gb, gloc, scaled, element));
               })
        .getResult(0);
  }

  /// Stages chunk `c` (past the last, the last again: its copy is not
  /// read) of the rows and the staged weights into one stage's tiles.
  SmallVector<Value> stage(OpBuilder &nb, Location nloc, ArrayRef<Value> tiles,
                           Value c) const {
    Value clamped = arith::MinSIOp::create(nb, nloc, c, lastChunk);
    Value k0 = arith::MulIOp::create(nb, nloc, clamped, index(nb, chunk));
    SmallVector<Value> staged = {stageRows(nb, nloc, tiles[0], k0)};
    for (auto [w, i] : llvm::enumerate(stagedWeights)) {
      if (stageStored) {
        // The stored columns of the chunk: a multiple of 16 bytes.
        Value from =
            arith::MulIOp::create(nb, nloc, clamped, index(nb, storedChunk));
        staged.push_back(stageWeight(nb, nloc, tiles[1 + w], storedWeights[i],
                                     from, storedChunk));
        continue;
      }
      staged.push_back(stageWeight(nb, nloc, tiles[1 + w],
                                   stored ? storedWeights[i] : weights[i], k0,
                                   chunk));
    }
    return staged;
  }

  /// Each staged row is a run of chunk elements from column k0, k0 a
  /// multiple of chunk (16 or more) and the rows' length k too, into a
  /// padded row of a multiple of 16 bytes: 16-byte runs aligned to 16
  /// bytes, which the GPU copies asynchronously. Each such copy commits its
  /// own group of cp.async (lib/Target/NVVM/AsyncCopies.cpp), and a stage's
  /// are read once the copies of stages - 1 more stages are issued: the
  /// groups left in flight are those of the later stages.
  void markAsyncCopy(OpBuilder &nb, Operation *op) const {
    int64_t copiesPerStage =
        (rowsAsync ? 1 : 0) + (stored && !e4m3 ? 0 : stagedWeights.size());
    op->setAttr(MoeDialect::kAsyncCopyAttrName,
                nb.getI64IntegerAttr((stages - 1) * copiesPerStage));
  }

  /// The [columns, storedChunk + padding] type of w8a16's staging tile of
  /// a weight's stored values (bytes).
  RankedTensorType storedTileType() const {
    auto [slice, dequantize] = dequantizedSlice(weights.front());
    return RankedTensorType::get(
        {columns, storedChunk + kStagedRowPaddingBytes},
        getElementTypeOrSelf(dequantize.getQuantized()));
  }

  /// The [rows, chunk + padding] type of a staging tile.
  RankedTensorType paddedType(int64_t tileRows) const {
    Type element = stagedType.getElementType();
    int64_t padding =
        kStagedRowPaddingBytes * 8 / element.getIntOrFloatBitWidth();
    return RankedTensorType::get({tileRows, chunk + padding}, element);
  }

  /// Rows [0, rows), columns [0, width) of a (padded) tile.
  static Value leading(OpBuilder &nb, Location nloc, Value tile,
                       OpFoldResult rows, int64_t width) {
    return tensor::ExtractSliceOp::create(
        nb, nloc, tile,
        ArrayRef<OpFoldResult>{nb.getIndexAttr(0), nb.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{rows, nb.getIndexAttr(width)},
        ArrayRef<OpFoldResult>{nb.getIndexAttr(1), nb.getIndexAttr(1)});
  }

  /// The [rows, chunk] view of a padded staging tile, and back.
  Value unpadded(OpBuilder &nb, Location nloc, Value padded,
                 int64_t tileRows) const {
    return leading(nb, nloc, padded, nb.getIndexAttr(tileRows), chunk);
  }
  Value repad(OpBuilder &nb, Location nloc, Value tile, Value padded,
              int64_t tileRows, int64_t width = 0) const {
    return tensor::InsertSliceOp::create(
        nb, nloc, tile, padded,
        ArrayRef<OpFoldResult>{nb.getIndexAttr(0), nb.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{nb.getIndexAttr(tileRows),
                               nb.getIndexAttr(width ? width : chunk)},
        ArrayRef<OpFoldResult>{nb.getIndexAttr(1), nb.getIndexAttr(1)});
  }

  /// acc += staged x weight[:, chunk c]^T for each weight, from one
  /// stage's tiles; `current` is the accumulators, then (w8a8) the product
  /// tiles.
  SmallVector<Value> multiply(OpBuilder &nb, Location nloc,
                              ArrayRef<Value> stageTiles, Value c,
                              ValueRange current) const {
    size_t numWeights = weights.size();
    // The used rows of the staged tile, sliced from the padded tile (a
    // slice of the unpadded view would be a second alias of the staging
    // op's result, which bufferization then copies out of place).
    Value staged = leading(nb, nloc, stageTiles[0], multipliedRows(nb), chunk);
    Value k0 = arith::MulIOp::create(nb, nloc, c, index(nb, chunk));
    SmallVector<Value> next;
    SmallVector<Value> products;
    for (auto [i, weight, acc, chunkTile] :
         llvm::enumerate(weights, current.take_front(numWeights), chunkTiles)) {
      SmallVector<OpFoldResult> offsets = {nb.getIndexAttr(0), k0};
      SmallVector<OpFoldResult> sizes = {nb.getIndexAttr(columns),
                                         nb.getIndexAttr(chunk)};
      // A plain weight's chunk (and in the stored-e4m3 form every weight's)
      // is staged; of another quantized weight, only this
      // chunk is dequantized.
      auto stagedAt = llvm::find(stagedWeights, i);
      Value stageTile = stagedAt != stagedWeights.end()
                            ? stageTiles[1 + (stagedAt - stagedWeights.begin())]
                            : Value();
      Value weightChunk =
          stageTile && stageStored
              ? dequantizeChunk(nb, nloc, i,
                                leading(nb, nloc, stageTile,
                                        nb.getIndexAttr(columns), storedChunk),
                                k0, unpadded(nb, nloc, chunkTile, columns))
          : !scaleRows.empty() && !stored && scaleRows[i]
              ? dequantizeChunk(nb, nloc, i, Value(), k0,
                                unpadded(nb, nloc, chunkTile, columns))
          : stageTile
              ? unpadded(nb, nloc, stageTile, columns)
              : buildWeightSlice(nb, nloc, weight, offsets, sizes,
                                 /*droppedDims=*/0,
                                 chunkTile
                                     ? unpadded(nb, nloc, chunkTile, columns)
                                     : Value());
      Value product = acc;
      if (group) {
        Value zero =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(0.0));
        product =
            linalg::FillOp::create(nb, nloc, zero, current[numWeights + i])
                .getResult(0);
      }
      // e4m3 tiles are decoded in the body (toF32): mma.sync m16n8k32 on
      // the GPU. Only the used rows of the staged tile are multiplied.
      Value gemm = buildLinear(nb, nloc, staged, weightChunk, product);
      gemm.getDefiningOp()->setAttr(MoeDialect::kTensorCoreAttrName,
                                    nb.getUnitAttr());
      next.push_back(group ? promote(nb, nloc, gemm, acc, k0, weight) : gemm);
      if (group)
        products.push_back(gemm);
    }
    llvm::append_range(next, products);
    return next;
  }

  /// acc[i, j] + product[i, j] * scale of row i's group at column k0 (in
  /// the stored-e4m3 form, times the scale of `weight`'s block at row j,
  /// column k0: the chunk lies in one block).
  Value promote(OpBuilder &nb, Location nloc, Value product, Value acc,
                Value k0, Value weight) const {
    AffineMap identity = nb.getMultiDimIdentityMap(2);
    return linalg::GenericOp::create(
               nb, nloc, acc.getType(), ValueRange{product}, ValueRange{acc},
               {identity, identity},
               {utils::IteratorType::parallel, utils::IteratorType::parallel},
               [&](OpBuilder &gb, Location gloc, ValueRange args) {
                 Value scale = buildActivationScale(
                     gb, gloc, scales, group,
                     linalg::IndexOp::create(gb, gloc, 0), k0);
                 if (stored) {
                   auto [slice, dequantize] = dequantizedSlice(weight);
                   Value j = linalg::IndexOp::create(gb, gloc, 1);
                   scale = arith::MulFOp::create(
                       gb, gloc, scale,
                       buildDequantizeScale(
                           gb, gloc, dequantize,
                           sourceIndices(gb, gloc, slice, {j, k0})));
                 }
                 Value scaled = arith::MulFOp::create(gb, gloc, args[0], scale);
                 linalg::YieldOp::create(
                     gb, gloc,
                     arith::AddFOp::create(gb, gloc, args[1], scaled)
                         .getResult());
               })
        .getResult(0);
  }

  /// Stages chunks 0 .. stages - 2 into the first tiles (when the block
  /// has rows).
  void buildPrologue(OpBuilder &b, SmallVector<Value> &tiles) const {
    auto prologue = scf::IfOp::create(
        b, loc, some,
        [&](OpBuilder &nb, Location nloc) {
          SmallVector<Value> staged;
          for (int64_t s = 0; s + 1 < stages; ++s)
            llvm::append_range(
                staged, stage(nb, nloc, stageTiles(tiles, s), index(nb, s)));
          scf::YieldOp::create(nb, nloc, staged);
        },
        [&](OpBuilder &nb, Location nloc) {
          scf::YieldOp::create(nb, nloc,
                               ArrayRef<Value>(tiles).drop_back(perStage));
        });
    for (size_t t = 0; t + perStage < tiles.size(); ++t)
      tiles[t] = prologue.getResult(t);
  }

  /// A software pipeline of `stages` tiles: chunk m is staged into tile
  /// m % stages while chunk m - stages + 1 is multiplied, so the copies of
  /// the next chunks are in flight during the products (on the GPU; on the
  /// CPU the same order runs synchronously). The loop is unrolled by
  /// `stages` so that each tile is a fixed value of the loop, carried in
  /// place.
  /// `accs` are the accumulators and (w8a8) the product tiles.
  scf::ForOp buildLoop(OpBuilder &b, ArrayRef<Value> accs,
                       ArrayRef<Value> tiles) const {
    SmallVector<Value> initial(accs);
    llvm::append_range(initial, tiles);
    size_t numAccs = accs.size();
    return scf::ForOp::create(
        b, loc, index(b, 0), chunks, index(b, stages), initial,
        [&](OpBuilder &nb, Location nloc, Value c, ValueRange carried) {
          SmallVector<Value> current(carried.take_front(numAccs));
          SmallVector<Value> staged(carried.drop_front(numAccs));
          for (int64_t u = 0; u < stages; ++u)
            current = buildStep(nb, nloc, c, u, staged, current);
          SmallVector<Value> yielded = current;
          llvm::append_range(yielded, staged);
          scf::YieldOp::create(nb, nloc, yielded);
        });
  }

  /// Stage `s`'s tiles in the flat list of every stage's.
  MutableArrayRef<Value> stageTiles(MutableArrayRef<Value> tiles,
                                    int64_t s) const {
    return tiles.slice(s * perStage, perStage);
  }

  /// Unrolled step `u` of the loop at chunk `c`: stage chunk
  /// c + u + stages - 1, multiply chunk c + u.
  SmallVector<Value> buildStep(OpBuilder &nb, Location nloc, Value c, int64_t u,
                               SmallVector<Value> &staged,
                               SmallVector<Value> current) const {
    Value m = arith::AddIOp::create(nb, nloc, c, index(nb, u));
    int64_t ahead = (u + stages - 1) % stages;
    SmallVector<Value> restaged =
        stage(nb, nloc, stageTiles(staged, ahead),
              arith::AddIOp::create(nb, nloc, m, index(nb, stages - 1)));
    llvm::copy(restaged, stageTiles(staged, ahead).begin());
    if (u == 0)
      return multiply(nb, nloc, stageTiles(staged, 0), m, current);
    // The unrolled steps past the last chunk multiply nothing.
    Value inRange =
        arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::slt, m, chunks);
    auto step = scf::IfOp::create(
        nb, nloc, inRange,
        [&](OpBuilder &ib, Location iloc) {
          scf::YieldOp::create(
              ib, iloc, multiply(ib, iloc, stageTiles(staged, u), m, current));
        },
        [&](OpBuilder &ib, Location iloc) {
          scf::YieldOp::create(ib, iloc, current);
        });
    return SmallVector<Value>(step.getResults());
  }

  Location loc;
  int64_t blockRows;
  Value count;
  ValueRange weights;
  /// Per weight, the tile its chunks are dequantized into (quantized
  /// weights only).
  SmallVector<Value> chunkTiles;
  int64_t stages;
  RowElement rows;
  /// Whether the rows' staging is a copy that may become cp.async (each
  /// such copy commits a group, which the waits count).
  bool rowsAsync;
  /// w8a8's activation group (0: none) and the rows' scales.
  int64_t group;
  bool pow2Scales;
  Value scales;
  /// The stored-e4m3 form, each weight's stored values in it, and whether
  /// its tiles are e4m3 (mma.sync m16n8k32).
  bool stored;
  bool e4m3;
  /// w8a16's staging of the quantized weights' stored values, their
  /// storage, the stored elements of a chunk and (1 x blockColumns scale
  /// blocks) each weight's block rows' scales.
  bool stageStored;
  /// Whether the block keeps its weight rows' scales (buildScaleRows).
  bool keepScaleRows;
  QuantizedStorage quantized;
  int64_t storedChunk;
  SmallVector<Value> scaleRows;
  SmallVector<Value> storedWeights;
  int64_t columns, k, chunk;
  /// The weights whose chunks are staged (the plain ones) and the tiles of
  /// a stage (the rows', then theirs).
  SmallVector<size_t> stagedWeights;
  size_t perStage;
  RankedTensorType stagedType;
  Value some, chunks, lastChunk;
  /// The rows multiplied (blocks of more than 16 rows only).
  Value usedRows;
  OpFoldResult multipliedRows(OpBuilder &nb) const {
    return usedRows ? OpFoldResult(usedRows) : nb.getIndexAttr(blockRows);
  }
};

} // namespace

SmallVector<Value> mlir::moe::buildTensorCoreLinears(
    OpBuilder &b, Location loc, int64_t blockRows, Value count, Value width,
    ValueRange weights, Type storage, TensorCorePlan plan, RowElement rows,
    int64_t activationGroup, bool pow2Scales, bool rowsCopied) {
  return TensorCorePipeline(loc, blockRows, count, weights, storage, plan,
                            std::move(rows), activationGroup, pow2Scales,
                            rowsCopied)
      .build(b, width);
}
