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

def MoeFormKernels : Pass<"moe-form-kernels"> {
  let summary = "Fuse and tile a decomposed moe layer into kernels (scf.forall nests)";
  let description = [{
    Rewrites each decomposed layer (`moe.router` -> `moe.gate` ->
    `moe.dispatch` -> `moe.experts` -> `moe.combine`, with an optional
    `moe.shared_expert` added to the result) into the kernel form: one
    `scf.forall` per kernel over tensors, its iterations mapped to GPU
    blocks (`#gpu.block<x>`, `#gpu.block<y>`) and named by a `moe.kernel`
    attribute:

    - `route`: router GEMM, scoring, top-k and normalization per tile of
      tokens (the logits never leave the tile);
    - `dispatch`: histogram, prefix offsets, permutation and its inverse;
    - `gate_up`: per (row block, column tile), the gathered rows times the
      expert's gate and up rows with the activation as epilogue, so only
      activated values are stored;
    - `down`: per (row block, column tile), the activated rows times the
      expert's down rows (plus bias);
    - `combine`: per tile of tokens, the weighted sum over k in ascending
      order (deterministic), plus the shared expert when there is one.

    Row blocks follow a flat schedule: block `b` belongs to the expert whose
    cumulative count of `ceildiv(rows_e, rows)` blocks covers `b`, so the
    grid is `ceildiv(T * K, rows) + E` whatever the routing; blocks past the
    last expert's do nothing. The inner moe ops (router, gate, dispatch,
    shared expert) stay moe ops on tiles for `convert-moe-to-linalg`.

    Tile sizes come from a `moe.tiles` dictionary on the `moe.combine` op
    (written by `moe-select-tiles`) or the pass options. Layers that do not
    have this shape are left alone.
  }];
  let options = [
    Option<"routeTokens", "route-tokens", "int64_t", "16",
           "Tokens per block of the route kernel">,
    Option<"expertRows", "expert-rows", "int64_t", "16",
           "Dispatched rows per block of the expert kernels">,
    Option<"gateUpColumns", "gate-up-columns", "int64_t", "64",
           "Intermediate columns per block of the gate_up kernel">,
    Option<"downColumns", "down-columns", "int64_t", "64",
           "Hidden columns per block of the down kernel">,
    Option<"combineTokens", "combine-tokens", "int64_t", "16",
           "Tokens per block of the combine kernel">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // MOE_PASSES_TD
