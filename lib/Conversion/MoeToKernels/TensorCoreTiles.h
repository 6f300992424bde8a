//===- TensorCoreTiles.h - expert GEMM tiles in tensor-core form -*- C++
//-*-===//
//
// The expert GEMMs of the gate_up and down kernels in the form the tensor
// cores take: a [blockRows, width] f32 accumulator, the block's rows
// staged chunk by chunk of the reduction into [blockRows, chunk] tiles in
// the storage type (padded past the block's rows with its last row), a
// pipeline of `stages` of them, and one contraction per chunk marked
// moe.tensor_core.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_CONVERSION_MOETOKERNELS_TENSORCORETILES_H
#define MOE_LIB_CONVERSION_MOETOKERNELS_TENSORCORETILES_H

#include "moe/Target/NVVM/ChipInfo.h"

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// Bytes past each row of a staging tile, which keep the rows of an
/// mma.sync fragment load in different banks.
constexpr int64_t kStagedRowPaddingBytes = 16;

/// Bytes past each row of an f32 accumulator tile of `rows` rows (whose
/// width is a multiple of 32 columns). 16-row tiles: rows then start 8
/// banks apart, and the 32 lanes' 64-bit accesses to an mma.sync C
/// fragment (rows g, columns 2t, 2t + 1) fill every bank twice instead of
/// 8 lanes sharing a bank. 8 rows (the swapped form, whose lanes access
/// rows 2t, 2t + 1 at columns g, g + 8, one f32 each): 4 banks apart, so
/// rows 2t of t = 0..3 start 0, 8, 16 and 24 banks on and the 32 lanes
/// take 32 banks (8 banks apart, rows 0 and 4 shared them: 2-way
/// conflicts at every chunk's C loads and stores).
constexpr int64_t accumulatorRowPaddingBytes(int64_t rows) {
  return nvidia::isSwappedMma(rows) ? 16 : 32;
}

/// The shared-memory bytes of `tiles` f32 accumulator tiles of `rows` rows
/// and `width` columns, rows padded.
constexpr int64_t accumulatorBytes(int64_t tiles, int64_t rows, int64_t width) {
  return tiles * rows * (width * 4 + accumulatorRowPaddingBytes(rows));
}

/// The reduction chunk of the tensor-core form for a reduction of `k`, or
/// 0 when it cannot take it.
int64_t tensorCoreChunk(int64_t k);

/// A weight's quantized storage, as the tensor-core form stages it:
/// `bits` per stored value (8: e4m3; 4: e2m1, two to a byte; 0: another
/// storage, or none), its scale blocks of `blockRows` x `blockColumns`
/// and the bytes of a scale.
struct QuantizedStorage {
  int64_t bits = 0;
  int64_t blockRows = 0, blockColumns = 0;
  int64_t scaleBytes = 0;
  bool dequantized = false;
  explicit operator bool() const { return dequantized; }
};

/// The storage of `weight`, a moe.dequantize's result or a slice of one
/// (`dequantized` false otherwise).
QuantizedStorage quantizedStorage(Value weight);

/// The rows of scale blocks that `width` weight rows span, where a block
/// keeps them (1-row blocks, or a width of several whole blocks), else 0.
int64_t scaleRowsOfTile(QuantizedStorage quantized, int64_t width);

/// How a block's expert GEMMs take the tensor-core form: `stages` staging
/// steps of the software pipeline (0: not at all), each holding the rows'
/// chunk and, with `stageWeights`, each plain weight's chunk (else the
/// mma.sync fragments of the weights are loaded where they are). With
/// `storedE4M3` (w8a8 with e4m3 weights), the rows' e4m3 values and the
/// weights' stored e4m3 values are staged and multiplied, exactly, and
/// both scales applied in the promotion: in bf16 or f16 (mma.sync
/// m16n8k16), or with `e4m3Mma` as they are (mma.sync m16n8k32, sm_89+).
/// With `stageStored` (w8a16), each quantized weight's stored values
/// (e4m3 bytes, e2m1 pairs) are staged like plain weights and each chunk
/// dequantized from its stage, the scales read once per chunk (one block
/// scale) or once per block (the rows' 1 x 32 scales, MXFP4). With
/// `keepScaleRows` (w8a16 tiles whose rows span several scale blocks:
/// scaleRowsOfTile), the block keeps its weight rows' scales, staged or
/// not (unstaged, fp8's whole blocks only).
struct TensorCorePlan {
  int64_t stages = 0;
  bool stageWeights = false;
  bool storedE4M3 = false;
  bool e4m3Mma = false;
  bool stageStored = false;
  bool keepScaleRows = false;
  explicit operator bool() const { return stages > 0; }
};

/// The plan (pipeline stages, at most `wanted`) with which expert GEMM
/// tiles of `blockRows` rows and `width` columns of `columns` (a static
/// width on every tile), a reduction of `k` and `weights` weight tiles
/// (gate and up: 2) sharing the staged rows take the tensor-core form:
/// f16/bf16 rows and weights of one type, blocks of 16-row multiples,
/// widths of 32-column multiples, and the temporaries within the
/// shared-memory budget (with `quantized`, the weights' chunks
/// dequantized from quantized storage too, staged where two stages fit;
/// with `activationGroup`, w8a8's
/// per-token scales and one f32 product tile per weight for the promotion,
/// and the group a multiple of the reduction chunk). Plain weights are
/// staged where two stages of them fit (or the one asked for).
///
/// With `e4m3WeightBlock` (w8a8 and e4m3 weights whose scale blocks span
/// that many columns of the reduction), the stored-e4m3 form (a chunk
/// dividing the group and the block; with `e4m3Mma`, on chips that have
/// it, in e4m3 where the chunk is 32 or 64), or none: w8a8 multiplies the
/// weights exactly, never rounded to bf16 with their scales.
TensorCorePlan planTensorCores(Type storage, Type weightType, int64_t blockRows,
                               int64_t columns, int64_t width, int64_t k,
                               int64_t weights, int64_t wanted,
                               QuantizedStorage quantized = {},
                               int64_t activationGroup = 0,
                               int64_t e4m3WeightBlock = 0,
                               bool e4m3Mma = false);

/// Row `row` (below the block's row count), element `k` of the block's
/// rows, in the storage type.
using RowElement =
    function_ref<Value(OpBuilder &, Location, Value row, Value k)>;

/// For each of `weights` ([width, K] tensors, width static), the f32
/// product rows x weight^T [count, width] of the block's `count` rows
/// (at most `blockRows`), in the tensor-core form, the rows (and the plain
/// weights' chunks) staged as `plan` says (planTensorCores) in a software
/// pipeline.
///
/// With `activationGroup` (w8a8), the rows are quantized per token in
/// groups of that many columns (ActivationGroups.h): the staged tiles hold
/// the e4m3 values (scales as buildFp8GroupScale), exact in bf16 and f16, and
/// each chunk's f32 product is multiplied by its rows' scales before it is
/// added to the accumulator (the promotion of DeepGEMM's fp8 GEMMs), so the
/// scales are applied in f32, not rounded into the staged values. With the
/// plan's `storedE4M3`, the staged weight tiles hold the weights' stored
/// e4m3 values (in bf16/f16, exact, or with `e4m3Mma` as they are, beside
/// e4m3 rows, in contractions that decode both: mma.sync m16n8k32 on the
/// GPU), and the promotion multiplies by the weights' block scales too.
/// `rowsCopied`: whether `rows` reads the rows as they are stored (a copy
/// the GPU may stage with cp.async); false where it computes them.
SmallVector<Value>
buildTensorCoreLinears(OpBuilder &b, Location loc, int64_t blockRows,
                       Value count, Value width, ValueRange weights,
                       Type storage, TensorCorePlan plan, RowElement rows,
                       int64_t activationGroup = 0, bool pow2Scales = false,
                       bool rowsCopied = true);

} // namespace mlir::moe

#endif // MOE_LIB_CONVERSION_MOETOKERNELS_TENSORCORETILES_H
