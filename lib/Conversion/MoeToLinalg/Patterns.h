//===- Patterns.h - the moe-to-linalg rewrite patterns ----------*- C++ -*-===//

#ifndef MOE_LIB_CONVERSION_MOETOLINALG_PATTERNS_H
#define MOE_LIB_CONVERSION_MOETOLINALG_PATTERNS_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {

/// moe.router, moe.gate.
void populateRoutingToLinalgPatterns(RewritePatternSet &patterns);
/// moe.dispatch, moe.combine.
void populateDispatchToLinalgPatterns(RewritePatternSet &patterns);
/// moe.experts, moe.shared_expert.
void populateExpertsToLinalgPatterns(RewritePatternSet &patterns);
/// moe.dequantize as a whole (what the experts' slices leave of it).
void populateDequantizeToLinalgPatterns(RewritePatternSet &patterns);

} // namespace mlir::moe

#endif // MOE_LIB_CONVERSION_MOETOLINALG_PATTERNS_H
