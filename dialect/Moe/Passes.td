//===- Passes.td - moe passes --------------------------------*- tablegen -*-===//

#ifndef MOE_PASSES_TD
#define MOE_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoeDecomposeLayer : Pass<"moe-decompose-layer"> {
  let summary = "Expand moe.layer into router, gate, dispatch, experts, combine";
  let description = [{
    Replaces each composite `moe.layer` by the ops that compute it:
    `moe.router` -> `moe.gate` -> `moe.dispatch` -> `moe.experts` ->
    `moe.combine`, plus `moe.shared_expert` and an `arith.addf` when the layer
    has a shared expert. When the routing weight applies to the input
    (Llama 4), the weights go to `moe.experts` as `row_scale` and
    `moe.combine` sums unweighted.
  }];
  let dependentDialects = ["::mlir::moe::MoeDialect",
                           "::mlir::arith::ArithDialect"];
}

#endif // MOE_PASSES_TD
