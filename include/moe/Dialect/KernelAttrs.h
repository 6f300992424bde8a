//===- KernelAttrs.h - token-count formulas of the kernel ABI -*- C++ -*-===//
//
// Grid and buffer sizes are AffineMaps from the token count T (dimension 0,
// no symbols). The manifest writes them in its own formula grammar
// (support/include/moe-support/Formula.h), which has T, integers, +, -, *
// and ceildiv: these functions say which affine expressions it can
// express and print them in it. The attributes' verifiers use the first,
// so the manifest writer can always print.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_KERNELATTRS_H
#define MOE_DIALECT_KERNELATTRS_H

#include "mlir/IR/AffineMap.h"

#include <optional>
#include <string>

namespace mlir::moe {

/// Why `map` is not a map from T whose results the manifest's grammar
/// expresses (T, integers, +, -, products by an integer, ceildiv by a
/// positive integer), or nothing when it is.
std::optional<std::string> whyNotManifestFormulas(AffineMap map);

/// `expr` in the manifest's grammar; `expr` must be one the grammar
/// expresses (whyNotManifestFormulas).
std::string printManifestFormula(AffineExpr expr);

} // namespace mlir::moe

#endif // MOE_DIALECT_KERNELATTRS_H
