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

def ConvertMoeToLinalg : Pass<"convert-moe-to-linalg"> {
  let summary = "Lower moe ops on tensors to linalg, tensor, scf, arith and math";
  let description = [{
    Rewrites every moe op (a `moe.layer` is decomposed first) into upstream
    ops on tensors: GEMMs and elementwise work as `linalg.generic`, top-k as
    argmax reductions, dispatch as a counting sort in `scf.for` loops over
    tensors, the grouped experts as a loop over experts with dynamically
    sized GEMMs. Accumulation is in f32. The result bufferizes with One-Shot
    Bufferize; `moe-to-llvm-cpu` is the whole CPU pipeline.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // MOE_PASSES_TD
