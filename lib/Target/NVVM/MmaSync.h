//===- MmaSync.h - moe.tensor_core contractions to mma.sync -----*- C++ -*-===//

#ifndef MOE_LIB_TARGET_NVVM_MMASYNC_H
#define MOE_LIB_TARGET_NVVM_MMASYNC_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::moe {

/// Replaces `op`, a moe.tensor_core contraction C[m, n] += A[m, k] *
/// B[n, k] on static buffers (A, B bf16 or f16 with unit-stride rows an
/// even, static stride apart and even offsets, C f32) that one warp runs,
/// by the warp's per-lane fragment loads, nvvm mma.sync m16n8k16 and
/// stores; for A, B f8E4M3FN (rows and offsets multiples of 4 elements),
/// mma.sync m16n8k32 e4m3 (LLVM's intrinsic: sm_89+, PTX 8.4). Fails with
/// a diagnostic otherwise.
LogicalResult lowerToMmaSync(linalg::LinalgOp op);

} // namespace mlir::moe

#endif // MOE_LIB_TARGET_NVVM_MMASYNC_H
