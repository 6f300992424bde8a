//===- Passes.h - moe passes and pipelines ----------------------*- C++ -*-===//

#ifndef MOE_TRANSFORMS_PASSES_H
#define MOE_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"
#include "moe/Dialect/MoeDialect.h"

namespace mlir::moe {

#define GEN_PASS_DECL
#include "dialect/Moe/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialect/Moe/Passes.h.inc"

/// Registers the moe passes and the named pipelines built from them.
void registerMoePassesAndPipelines();

} // namespace mlir::moe

#endif // MOE_TRANSFORMS_PASSES_H
