//===- CpuGemm.h - expert GEMM tiles in the CPU's vector form ---*- C++ -*-===//
//
// The expert GEMMs of the gate_up and down kernels as the CPU target takes
// them (moe-select-tiles' `cpu_lanes`): each output is the dot product of a
// row and a weight row, both contiguous along the reduction, accumulated in
// `lanes` f32 partial sums (lane j takes the reduction's elements j, j +
// lanes, ...) and then summed by halving. Rows and columns are taken a few
// at a time so that each loaded vector feeds several accumulators (register
// tiling); the remainders take one at a time with the same order per
// output, so a token's output does not depend on which rows share its block
// (batch invariance).
//
// Written by hand rather than through linalg's vectorizer: the rows are
// read through the dispatch permutation (a gather the vectorizer would make
// per element), and the reduction order must be fixed per output, which a
// vector.contract lowering does not promise.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_CONVERSION_MOETOKERNELS_CPUGEMM_H
#define MOE_LIB_CONVERSION_MOETOKERNELS_CPUGEMM_H

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// Where row `row` of a block's GEMM is read: element k is
/// `source[index, k]` in f32, times `scale` (an f32) when set.
struct CpuGemmRow {
  Value source, index, scale;
};

/// Whether a GEMM of `weight` ([N, K], a plain tensor, not a
/// moe.dequantize) over rows of `rowElement`s takes the CPU form: f32, bf16
/// or f16 elements on both sides.
bool canTakeCpuForm(Value weight, Type rowElement);

/// Whether such a GEMM may take bf16 pair dot products (buildCpuLinear's
/// `bf16Pairs`, where the CPU has them): bf16 rows, not scaled, and bf16
/// weights.
bool takesBf16Pairs(Value weight, Type rowElement, bool scaledRows);

/// The [count, N] f32 product of the rows `rowAt(0 .. count)` and `weight`
/// [N, K]^T with `lanes` partial sums per output (a power of two). With
/// `bf16Pairs` (bf16 rows, unscaled, and weights; 4, 8 or 16 lanes), each
/// lane adds two products at a time with AVX512-BF16's pair dot product
/// (x86vector.avx512.dot, vdpbf16ps: products exact, each addition rounded
/// to nearest, bf16 and f32 denormals flushed to zero).
Value buildCpuLinear(
    OpBuilder &b, Location loc, Value count, Value weight, int64_t lanes,
    bool bf16Pairs,
    function_ref<CpuGemmRow(OpBuilder &, Location, Value row)> rowAt);

} // namespace mlir::moe

#endif // MOE_LIB_CONVERSION_MOETOKERNELS_CPUGEMM_H
