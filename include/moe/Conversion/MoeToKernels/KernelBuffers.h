//===- KernelBuffers.h - buffers of the outlined kernels -------*- C++ -*-===//
//
// Shared by the kernel-form passes and the NVVM lowering: the kernels' buffers
// arrive as pointers (rank-0 memrefs) or bounded per-block buffers and are
// viewed with their real, possibly T-dependent, shape; per-block temporaries
// are placed by the constant bounds of their sizes; their block work is shared
// out in thread foralls.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_CONVERSION_MOETOKERNELS_KERNELBUFFERS_H
#define MOE_CONVERSION_MOETOKERNELS_KERNELBUFFERS_H

#include "moe/Conversion/MoeToLinalg/Builders.h" // isMultipleOf

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <optional>

namespace mlir::moe {

/// `buffer` reinterpreted as `type` (identity layout) with `sizes`, dense
/// row-major from offset 0; the strides are folded where the sizes are
/// constants.
Value buildRowMajorView(OpBuilder &b, Location loc, Value buffer,
                        MemRefType type, ArrayRef<OpFoldResult> sizes);

/// A constant upper bound of the index `v`, seeing through the tile
/// arithmetic of the kernel form (min, max, select), which
/// ValueBoundsConstraintSet alone does not.
std::optional<int64_t> upperBound(Value v);

/// The static shape that holds every instance of `alloc` (its dynamic sizes
/// replaced by their upper bounds, at least 1), if it has an identity
/// layout, integer, float or index elements and all its dynamic sizes are
/// bounded.
std::optional<SmallVector<int64_t>> boundedShape(memref::AllocOp alloc);

/// The bytes of a buffer of `shape` and `elementType` (integer, float or
/// index).
int64_t bufferBytes(ArrayRef<int64_t> shape, Type elementType);

/// Where a distributed kernel's block temporaries lie in its dynamic shared
/// memory: the allocations at the top of its block body `body`, in order,
/// then those at the top of the branches of each scf.if there, where one
/// scf.if's branches overlap (a whole block takes one branch: its
/// condition is the block's, as before moe-distribute-threads nothing
/// depends on the thread). Each 16-byte aligned; `bytes` in all. Fails if
/// one has no bounded shape, an allocation lies anywhere else, or the body
/// has a stack buffer (memref.alloca: private to each thread).
struct SharedLayout {
  SmallVector<memref::AllocOp> allocs;
  SmallVector<int64_t> offsets;
  int64_t bytes = 0;
};
FailureOr<SharedLayout> layoutShared(Block &body);

/// The buffer `view` is a view of (through subviews, casts, reshapes).
Value rootBuffer(Value view);

/// Dimension `d` of the memref `view`: its static size, or the size the
/// memref.subview that made it gave it; null otherwise.
OpFoldResult viewSize(Value view, unsigned d);

/// A constant upper bound of `size` (viewSize's), if it has one.
std::optional<int64_t> sizeBound(OpFoldResult size);

/// An scf.forall over `count` threads (#gpu.thread<x>) at `b`'s insertion
/// point, which moves into its body.
scf::ForallOp buildThreadForall(OpBuilder &b, Location loc, int64_t count);

} // namespace mlir::moe

#endif // MOE_CONVERSION_MOETOKERNELS_KERNELBUFFERS_H
