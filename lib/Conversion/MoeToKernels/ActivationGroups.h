//===- ActivationGroups.h - w8a8 activation groups in the kernels -*- C++
//-*-===//
//
// w8a8 in the kernel form: each expert block quantizes the rows it
// multiplies per token in groups of `group` columns (s = amax / 448, or
// its power of two with `pow2Scales`: buildFp8GroupScale). The block computes
// the scales of its own rows before its GEMM (one more read of rows it reads
// anyway), so no kernel writes them and no launch is added.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_CONVERSION_MOETOKERNELS_ACTIVATIONGROUPS_H
#define MOE_LIB_CONVERSION_MOETOKERNELS_ACTIVATIONGROUPS_H

#include "TensorCoreTiles.h"

namespace mlir::moe {

/// The [blockRows, ceil(k / group)] f32 scales of a block's `count` rows of
/// `k` elements (`rows`, read as buildTensorCoreLinears reads them); rows
/// past `count` take the last row's, as the staging pads them. An empty
/// block reads nothing (its tile is not initialized). The tile is allocated
/// here, at the block's top, like the other block temporaries.
Value buildActivationScales(OpBuilder &b, Location loc, int64_t blockRows,
                            Value count, int64_t k, int64_t group,
                            bool pow2Scales, RowElement rows);

/// The f32 e4m3 value of row `row`'s element `column` (`value`, f32), with
/// the scale of its group in `scales`.
Value buildQuantizedActivation(OpBuilder &b, Location loc, Value scales,
                               int64_t group, Value row, Value column,
                               Value value);

/// The scale of row `row`'s element `column` in `scales`.
Value buildActivationScale(OpBuilder &b, Location loc, Value scales,
                           int64_t group, Value row, Value column);

} // namespace mlir::moe

#endif // MOE_LIB_CONVERSION_MOETOKERNELS_ACTIVATIONGROUPS_H
