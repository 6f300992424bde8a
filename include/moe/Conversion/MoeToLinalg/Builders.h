//===- Builders.h - linalg building blocks for the moe lowering -*- C++ -*-===//
//
// Small helpers shared by the moe-to-linalg patterns: empty and zero-filled
// tensors with dynamic token counts, f32 widening, the transposed-B GEMM
// every linear layer here is, elementwise maps, and the FFN activations.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_CONVERSION_MOETOLINALG_BUILDERS_H
#define MOE_CONVERSION_MOETOLINALG_BUILDERS_H

#include "moe/Dialect/MoeDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::moe {

class DequantizeOp;

/// `tensor.empty` of `type`, taking dynamic sizes from `dynamicSizes` in
/// order.
Value buildEmpty(OpBuilder &b, Location loc, RankedTensorType type,
                 ValueRange dynamicSizes);

/// `buildEmpty` filled with `value` (a float, int or index constant).
Value buildFilled(OpBuilder &b, Location loc, RankedTensorType type,
                  ValueRange dynamicSizes, Attribute value);

/// The size of dimension `dim` of a tensor, as an index.
Value buildDim(OpBuilder &b, Location loc, Value tensor, int64_t dim);

/// Widens a float scalar to f32 (no-op for f32; e4m3 decoded in arith).
Value toF32(OpBuilder &b, Location loc, Value scalar);

/// The slice `offsets`/`sizes` of a weight (unit strides), without its
/// first `droppedDims` dimensions (which must have size 1). When a
/// moe.dequantize produces `weight`, this dequantizes only the slice,
/// reading the stored values and scales where they are: the quantized
/// weights are never widened whole.
/// Slices of slices (tensor.extract_slice with unit strides dropping
/// leading dimensions) of a dequantized weight are composed first, so a
/// kernel can slice an expert's rows early and dequantize only each chunk
/// it reads. `init`, when given, is the destination of the dequantized
/// slice (a tile the caller allocates once, outside its loops).
/// With `element` (f32 for w8a8, whose weights are multiplied exactly), a
/// dequantized slice has that element type instead of the weight's.
Value buildWeightSlice(OpBuilder &b, Location loc, Value weight,
                       ArrayRef<OpFoldResult> offsets,
                       ArrayRef<OpFoldResult> sizes, int64_t droppedDims,
                       Value init = Value(), Type element = Type());

/// x [n, K] quantized per row in groups of `group` columns to fp8 e4m3 and
/// back (w8a8's dynamic activations): x' = e4m3(x / s) * s with
/// s = amax(|group|) / 448, in f32 (buildFp8GroupScale).
Value buildFp8ActivationGroups(OpBuilder &b, Location loc, Value x,
                               int64_t group, bool pow2Scales);

/// The fp8 scale of a group whose largest magnitude is `amax` (f32):
/// amax / 448, with `pow2Scales` rounded up to a power of two (ue8m0).
Value buildFp8GroupScale(OpBuilder &b, Location loc, Value amax,
                         bool pow2Scales);

/// `value` (f32) quantized with `scale` (f32): e4m3(clamp(value / scale,
/// -448, 448)) as an f32, 0 where the scale is 0 (an all-zero group).
Value buildE4M3Quantized(OpBuilder &b, Location loc, Value value, Value scale);

/// The fp8 e4m3 bits (f8E4M3FN) of `value`, an f32 that e4m3 holds exactly
/// (buildE4M3Quantized's result; a NaN becomes e4m3's NaN), for the
/// tensor cores' e4m3 operands.
Value buildE4M3Bits(OpBuilder &b, Location loc, Value value);

/// The f32 value of `bits` (f8E4M3FN or i8), exact.
Value buildE4M3Value(OpBuilder &b, Location loc, Value bits);

/// Whether the index `v` is a multiple of `n` for certain: a constant
/// multiple, a product with one, sums, differences, minima and maxima of
/// such, or the index of an scf.for whose start and step are.
bool isMultipleOf(OpFoldResult v, int64_t n);

/// The f32 scale of element `indices` of a moe.dequantize's result: its
/// block's, from the op's scale tensor.
Value buildDequantizeScale(OpBuilder &b, Location loc, DequantizeOp op,
                           ValueRange indices);

/// The indices into a moe.dequantize's scale tensor of the block of its
/// result's element `indices`.
SmallVector<Value> buildScaleIndices(OpBuilder &b, Location loc,
                                     DequantizeOp op, ValueRange indices);

/// A scale element (e8m0, bf16 or f32) as f32.
Value buildScaleValue(OpBuilder &b, Location loc, Value scale);

/// The f32 value, before its scale, of `stored`, an element of a
/// moe.dequantize's quantized operand holding the result's column
/// `column` (of packed e2m1, the byte of columns 2m and 2m + 1).
Value buildStoredValue(OpBuilder &b, Location loc, DequantizeOp op,
                       Value stored, Value column);

/// The one scale of every element of the slice `offsets`/`sizes` (full
/// rank) of `op`'s result, read once at `b`, when the slice provably lies
/// in one scale block: one expert, and along rows and columns a size that
/// divides the block (and the stacked part's rows) at an offset that is a
/// multiple of that size. Null otherwise (MXFP4's 1 x 32 blocks across
/// several rows). Each element reading the same scale made a warp load 4
/// bytes of a 32-byte sector per element in the GPU kernels' dequantized
/// chunks.
Value buildUniformScale(OpBuilder &b, Location loc, DequantizeOp op,
                        ArrayRef<OpFoldResult> offsets,
                        ArrayRef<OpFoldResult> sizes);

/// Element `indices` of a moe.dequantize's result, in its element type
/// (or `element`), read from the stored values and scales (or times
/// `scale`, its block's scale, where the caller read it once).
Value buildDequantizedElement(OpBuilder &b, Location loc, DequantizeOp op,
                              ValueRange indices, Type element = Type(),
                              Value scale = Value());

/// Whether `weight` is a moe.dequantize result or a slice of one.
bool isDequantized(Value weight);

/// `tile` itself, or, when it slices a dequantized weight, that slice
/// dequantized (buildWeightSlice of all of it, in `element` if given).
Value buildDequantizedTile(OpBuilder &b, Location loc, Value tile,
                           Type element = Type());

/// C[m, n] = sum_k f32(A[m, k]) * f32(B[n, k]), a linear layer with its
/// weight in [out, in] layout. A is [M, K] with M dynamic; B is [N, K].
/// With `accumulator` (an f32 [M, N] tensor), C is added to it instead of
/// a zero-filled one. A weight that a moe.dequantize produces whole (the
/// shared expert's) is read quantized in the contraction's body: no
/// dequantized copy of it is made (its values in `dequantizedElement`
/// where given: f32 for w8a8).
Value buildLinear(OpBuilder &b, Location loc, Value input, Value weight,
                  Value accumulator = Value(),
                  Type dequantizedElement = Type());

/// The router GEMM's lanes: the largest power of two up to 32 that divides
/// `hidden`. Its reduction is split in that many interleaved partial sums
/// (buildLaneSplitLinear), an order that depends on the hidden size only,
/// never on the token count or the kernel's tiles: batch invariance.
int64_t routerLanes(int64_t hidden);

/// The f32 words a row of the router's partial sums takes: its lanes, plus
/// one where there are several, so that neighbouring rows start in
/// different shared-memory banks (buildLaneSplitLinear).
int64_t routerPartialWords(int64_t lanes);

/// buildLinear's C = A . B^T with the reduction split over `lanes` (which
/// divides K): P[m, n, j] = sum_i f32(A[m, i * lanes + j]) *
/// f32(B[n, i * lanes + j]), then C[m, n] = sum_j P[m, n, j] in order of j.
/// Neighbouring lanes read neighbouring elements of both operands, so the
/// GPU's threads of one output read its rows coalesced (a plain dot per
/// thread reads one row per thread); the kernel form's router uses it.
Value buildLaneSplitLinear(OpBuilder &b, Location loc, Value input,
                           Value weight, int64_t lanes);

/// The token t = permutation[start + i] / topK whose choice dispatched row
/// start + i is (an index; inside a linalg body or not).
Value buildDispatchedToken(OpBuilder &b, Location loc, Value permutation,
                           Value start, Value i, int64_t topK);

/// rowScale[t, k] for the token t and choice k of dispatched row start + i
/// (s = permutation[start + i], t = s / topK, k = s % topK).
Value buildDispatchedRowScale(OpBuilder &b, Location loc, Value permutation,
                              Value rowScale, Value start, Value i,
                              int64_t topK);

/// Adds `bias` [N] (any float type) to each row of `matrix` [M, N] (f32);
/// with `inPlace`, over `matrix` itself (nothing may read it after).
Value buildAddRowBias(OpBuilder &b, Location loc, Value matrix, Value bias,
                      bool inPlace = false);

/// An elementwise linalg.generic over tensors of the same shape: the result
/// has `resultType`'s shape (dynamic sizes taken from the first input) and
/// `body` maps the scalar inputs to the scalar result. With `init` (a
/// tensor of the result's type, typically the first input when nothing
/// reads it later) the result is written over it instead of a new tensor.
Value buildMap(OpBuilder &b, Location loc, ValueRange inputs,
               Type resultElementType,
               function_ref<Value(OpBuilder &, Location, ValueRange)> body,
               Value init = Value());

/// Converts a float scalar to the float type `type` (extf or truncf; no-op
/// if same).
Value buildScalarConvert(OpBuilder &b, Location loc, Value value, Type type);

/// Converts a float tensor to `elementType` (buildScalarConvert per element).
Value buildConvert(OpBuilder &b, Location loc, Value tensor, Type elementType);

/// Converts an f32 result to `resultType`'s element type and, if the static
/// shape differs, casts it to `resultType`.
Value buildResult(OpBuilder &b, Location loc, Value f32Tensor,
                  RankedTensorType resultType);

/// The sigmoid of a float scalar.
Value buildSigmoid(OpBuilder &b, Location loc, Value x);

/// The expert FFN's activation on one (gate, up) pair in f32; for relu,
/// `gate` is ignored and the result is relu(up).
Value buildActivation(OpBuilder &b, Location loc, FfnAttr ffn, Value gate,
                      Value up);

/// The whole FFN on rows `input` [M, H] (f32): gate_up [G*I, H] (+ bias
/// [G*I]), activation, down [H, I] (+ bias [H]). Returns [M, H] f32.
Value buildFfn(OpBuilder &b, Location loc, FfnAttr ffn, Value input,
               Value gateUp, Value down, Value gateUpBias, Value downBias);

/// rows[i, h] = f32(input[t, h]) (* rowScale[t, k]) for i < count, with the
/// routed row s = permutation[start + i], t = s / topK, k = s % topK: the
/// dispatched rows an expert works on. `rowScale` may be null.
Value buildGatherRows(OpBuilder &b, Location loc, Value input,
                      Value permutation, Value rowScale, Value start,
                      Value count, int64_t topK);

/// buildLinear(buildGatherRows(...), weight) without the gathered copy:
/// C[i, n] = sum_h rows[i, h] * f32(weight[n, h]) for i < count, the rows
/// read through the permutation in the GEMM's body, in the same order of
/// operations (so the same values).
Value buildGatheredLinear(OpBuilder &b, Location loc, Value input,
                          Value permutation, Value rowScale, Value start,
                          Value count, int64_t topK, Value weight);

/// f32(input[t, h]) (* rowScale[t, k]) of dispatched row start + i (the
/// element buildGatheredLinear reads), for use inside a linalg body.
Value buildGatheredElement(OpBuilder &b, Location loc, Value input,
                           Value permutation, Value rowScale, Value start,
                           Value i, Value h, int64_t topK);

/// C[i, n] = sum_k element(i, k) * f32(weight[n, k]) for i < count, the
/// rows' f32 elements computed in the GEMM's body by `element` (k
/// ascending, as buildLinear).
Value buildLinearOfElements(
    OpBuilder &b, Location loc, Value count, Value weight,
    function_ref<Value(OpBuilder &, Location, Value i, Value k)> element);

/// inverse[permutation[r]] = r (i32) for r < rowCount: where each routed
/// row t * K + k landed in dispatched order.
Value buildInversePermutation(OpBuilder &b, Location loc, Value permutation,
                              Value rowCount);

/// The chunks of routed rows of buildCountingSort for `numExperts`
/// experts: a power of two up to 128 (a thread's each), with the sort's
/// three [chunks, E] i32 counter arrays within 24 KiB.
int64_t dispatchChunks(int64_t numExperts);

/// The dispatch of the routed rows `flat` ([rows] i32 expert ids; routed
/// row s = t * K + k): `permutation`, the routed rows grouped by expert in
/// ascending row order within each, `offsets` (E + 1 entries) where each
/// expert's segment starts, and with `withInverse` the `inverse`
/// permutation (inverse[permutation[r]] = r, as buildInversePermutation).
/// A stable counting sort in O(rows + chunks x experts) work, parallel
/// over dispatchChunks(E) chunks of rows and over the experts, each
/// parallel iteration writing its own slices (a serial counting sort with
/// a thread per expert walked every row once per expert). With `blockRows`,
/// also `firstBlocks` (E + 1 entries, i32 as `offsets`): where each
/// expert's blocks of `blockRows` rows start in the flat schedule of the
/// expert kernels (findRowBlock), the last entry their total.
struct CountingSortResult {
  Value permutation, offsets, inverse, firstBlocks;
};
CountingSortResult buildCountingSort(OpBuilder &b, Location loc, Value flat,
                                     Value rows, int64_t numExperts,
                                     RankedTensorType permutationType,
                                     RankedTensorType offsetsType,
                                     bool withInverse, int64_t blockRows = 0);

/// The combine of tokens first .. first + count in f32:
/// acc[t, h] = sum over k = 0..K-1, in ascending k, of
/// weights[t, k] * rows[inverse[(first + t) * K + k], h]. `weights` is
/// [count, K], or null when the rows count unscaled.
Value buildCombineRows(OpBuilder &b, Location loc, Value rows, Value inverse,
                       Value weights, Value first, Value count, int64_t topK);

} // namespace mlir::moe

#endif // MOE_CONVERSION_MOETOLINALG_BUILDERS_H
