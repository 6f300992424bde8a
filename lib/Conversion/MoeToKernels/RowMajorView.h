//===- RowMajorView.h - a buffer seen as a dense row-major memref -*- C++
//-*-===//
//
// Internal to the kernel passes: the kernels' buffers arrive as pointers
// (rank-0 memrefs) or bounded stack buffers and are viewed with their real,
// possibly T-dependent, shape.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_CONVERSION_MOETOKERNELS_ROWMAJORVIEW_H
#define MOE_LIB_CONVERSION_MOETOKERNELS_ROWMAJORVIEW_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::moe {

/// `buffer` reinterpreted as `type` (identity layout) with `sizes`, dense
/// row-major from offset 0; the strides are folded where the sizes are
/// constants.
Value buildRowMajorView(OpBuilder &b, Location loc, Value buffer,
                        MemRefType type, ArrayRef<OpFoldResult> sizes);

} // namespace mlir::moe

#endif // MOE_LIB_CONVERSION_MOETOKERNELS_ROWMAJORVIEW_H
