//===- StagingCopies.h - moe.async_copy staging copies ----------*- C++ -*-===//

#ifndef MOE_CONVERSION_MOETOKERNELS_STAGINGCOPIES_H
#define MOE_CONVERSION_MOETOKERNELS_STAGINGCOPIES_H

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
/// marked moe.async_copy (which the NVVM lowering turns into cp.async
/// where the run is aligned). Returns false and leaves `op` otherwise.
bool distributeStagingCopy(linalg::GenericOp op, int64_t threads);

} // namespace mlir::moe

#endif // MOE_CONVERSION_MOETOKERNELS_STAGINGCOPIES_H
