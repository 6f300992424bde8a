//===- StagingCopies.h - moe.async_copy staging copies ----------*- C++ -*-===//

#ifndef MOE_LIB_CONVERSION_MOETOKERNELS_STAGINGCOPIES_H
#define MOE_LIB_CONVERSION_MOETOKERNELS_STAGINGCOPIES_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::moe {

/// Bytes a thread moves at once in a staging copy: one cp.async (the
/// widest it takes) or one 16-byte vector load and store.
constexpr int64_t kStagingCopyBytes = 16;

/// If `op` is a moe.async_copy staging copy this form handles (static
/// [rows, columns] output of 2- or 4-byte elements, columns a multiple of
/// the 16-byte run, a body that loads the element [.., x + column] of a
/// buffer with unit-stride rows, x and the other indices independent of the
/// column), replaces it by an scf.forall over `threads` threads
/// (#gpu.thread<x>) in which each thread copies the 16-byte runs t,
/// t + threads, ... (row-major) with one vector.load and one vector.store
/// marked moe.async_copy. Returns false and leaves `op` otherwise.
bool distributeStagingCopy(linalg::GenericOp op, int64_t threads);

/// Replaces each marked vector.store in `forall` (a thread forall of a GPU
/// kernel) that copies the 16 bytes of a vector.load into a view of
/// workgroup memory by nvgpu.device_async_copy (cp.async, L1 bypassed),
/// and ends the forall's body with a commit and a wait until at most N
/// groups (the mark's value) are in flight. Other marked stores stay plain
/// vector copies.
void lowerToAsyncCopies(scf::ForallOp forall);

/// Waits for every async copy before `kernel` returns, if it makes any.
void waitForAsyncCopies(gpu::GPUFuncOp kernel);

} // namespace mlir::moe

#endif // MOE_LIB_CONVERSION_MOETOKERNELS_STAGINGCOPIES_H
