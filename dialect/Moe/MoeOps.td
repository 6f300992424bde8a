//===- MoeOps.td - moe operations ----------------------------*- tablegen -*-===//
//
// Tensor-level ops of one MoE block. `T` tokens (dynamic), hidden size `H`,
// `E` experts, expert intermediate size `I`, `K` = top_k, `N` = T * K routed
// rows. Shapes are checked by the C++ verifiers so messages can say which
// dimension disagrees with which.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_OPS_TD
#define MOE_OPS_TD

include "dialect/Moe/MoeDialect.td"
include "dialect/Moe/MoeAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Moe_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Moe_F32Tensor : RankedTensorOf<[F32]>;
def Moe_I32Tensor : RankedTensorOf<[I32]>;

def Moe_QuantizedTensor : RankedTensorOf<[F8E4M3FN, I8]>;
def Moe_ScaleTensor : RankedTensorOf<[F32, BF16, F8E8M0FNU]>;

def Moe_DequantizeOp : Moe_Op<"dequantize", [Pure]> {
  let summary = "block-scaled weights (fp8, MXFP4) as the compute type";
  let description = [{
    `result[..., i, j] = value(quantized)[..., i, j] * scale[..., si, j /
    block[1]]`, rounded to the result's element type, for weights stored as
    quantized checkpoints ship them:

    - fp8 block-scaled (DeepSeek-V3, Kimi K2, Qwen3 FP8): `quantized` holds
      `f8E4M3FN` values of the result's shape, `scale` is `f32` or `bf16`
      (the checkpoint's `weight_scale_inv`), typically `block = [128, 128]`;
      a per-tensor scale is a block the size of the last two dimensions.
    - MXFP4 (gpt-oss): `quantized` is `i8` (bytes), two e2m1 values per byte, low
      nibble first, so its last dimension is half the result's; `scale` is
      `f8E8M0FNU` (2^(bits - 127)), `block = [1, 32]`.

    The rows (the next-to-last dimension) are `stacked` equal parts, each
    with its own grid of blocks (gate and up of a fused gate_up, whose
    checkpoints scale them separately): row `i` is row `i mod R/stacked` of
    part `i / (R/stacked)`, so `si = part * ceildiv(R/stacked, block[0]) +
    (i mod R/stacked) / block[0]`. Edge blocks may be partial. Leading
    dimensions (experts) index all three tensors alike.

    ```mlir
    %w = moe.dequantize %q, %s block [128, 128] stacked 2
        : tensor<8x512x256xf8E4M3FN>, tensor<8x4x2xf32> -> tensor<8x512x256xbf16>
    ```
  }];
  let arguments = (ins Moe_QuantizedTensor:$quantized,
                       Moe_ScaleTensor:$scale,
                       DenseI64ArrayAttr:$block,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>,
                                         "1">:$stacked);
  let results = (outs Moe_FloatTensor:$result);
  let assemblyFormat = [{
    $quantized `,` $scale `block` $block (`stacked` $stacked^)? attr-dict `:`
    type($quantized) `,` type($scale) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True for MXFP4: two e2m1 values per byte of `quantized`.
    bool isPackedE2M1() {
      return getQuantized().getType().getElementType().isSignlessInteger(8);
    }
    /// The scale shape of a dequantized `shape` (rows divisible by
    /// `stacked`): its leading dimensions, then stacked * ceildiv(rows /
    /// stacked, block[0]) and ceildiv(columns, block[1]).
    static ::llvm::SmallVector<int64_t>
    getScaleShape(::llvm::ArrayRef<int64_t> shape,
                  ::llvm::ArrayRef<int64_t> block, int64_t stacked);
  }];
}

def Moe_RouterOp : Moe_Op<"router", [Pure]> {
  let summary = "router GEMM: logits = input x weight^T (+ bias), in f32";
  let description = [{
    `input` is `[T, H]`, `weight` is `[E, H]` (the Hugging Face `gate` or
    `router` linear layer), the optional `bias` is `[E]` (gpt-oss). The
    product is accumulated and returned in f32.

    ```mlir
    %logits = moe.router %x, %w : tensor<?x4096xbf16>, tensor<8x4096xbf16>
                                  -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$input, Moe_FloatTensor:$weight,
                       Optional<Moe_FloatTensor>:$bias);
  let results = (outs Moe_F32Tensor:$logits);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)? `->` type($logits)
  }];
  let hasVerifier = 1;
}

def Moe_GateOp : Moe_Op<"gate", [Pure]> {
  let summary = "scoring, (grouped) top-k, renormalization and scaling";
  let description = [{
    Turns `logits [T, E]` into `weights [T, K]` (f32) and expert `indices
    [T, K]` (i32) as the `routing` attribute describes. The optional
    `correction_bias [E]` (DeepSeek-V3 `e_score_correction_bias`) is added
    to the scores for selection only; weights come from the unbiased scores.
    Selected experts are listed in descending order of selection score.

    ```mlir
    %w, %ids = moe.gate %logits routing <scoring = softmax, topK = 2,
        normalization = sum> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
    ```
  }];
  let arguments = (ins Moe_F32Tensor:$logits,
                       Optional<Moe_F32Tensor>:$correction_bias,
                       Moe_RoutingAttr:$routing);
  let results = (outs Moe_F32Tensor:$weights, Moe_I32Tensor:$indices);
  let assemblyFormat = [{
    $logits (`correction_bias` $correction_bias^)? `routing` $routing attr-dict `:`
    type($logits) (`,` type($correction_bias)^)? `->` type($weights) `,`
    type($indices)
  }];
  let hasVerifier = 1;
}

def Moe_DispatchOp : Moe_Op<"dispatch", [Pure]> {
  let summary = "sort the routed (token, slot) pairs by expert";
  let description = [{
    Routed row `s = t * K + k` goes to expert `indices[t, k]`. The result
    `permutation [N]` lists the rows grouped by expert, in ascending expert
    order and, within an expert, in ascending `s` (a stable sort), so the
    rows of expert `e` are `permutation[offsets[e] .. offsets[e + 1])`.
    `offsets` has `num_experts + 1` entries, `offsets[0] = 0` and
    `offsets[E] = N`.
  }];
  let arguments = (ins Moe_I32Tensor:$indices,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_experts);
  let results = (outs Moe_I32Tensor:$permutation, Moe_I32Tensor:$offsets);
  let assemblyFormat = [{
    $indices attr-dict `:` type($indices) `->` type($permutation) `,`
    type($offsets)
  }];
  let hasVerifier = 1;
}

def Moe_ExpertsOp : Moe_Op<"experts", [Pure, AttrSizedOperandSegments]> {
  let summary = "grouped expert FFN over the dispatched rows";
  let description = [{
    For each position `r` of `permutation`, with `s = permutation[r]`, token
    `t = s / K` and the expert `e` whose range `offsets[e] .. offsets[e+1]`
    holds `r`, computes `result[r] = FFN_e(input[t] * row_scale[t, s % K])`
    (`row_scale` only when the routing weight applies to the input).
    `gate_up` is `[E, 2I, H]` for gated activations (gate rows `0..I`, up
    rows `I..2I`) or `[E, I, H]` for `relu`; `down` is `[E, H, I]`; the
    optional biases are `[E, 2I]` (or `[E, I]`) and `[E, H]`. Accumulation
    is in f32; the result is `[N, H]` in f32.
  }];
  let arguments = (ins Moe_FloatTensor:$input, Moe_I32Tensor:$permutation,
                       Moe_I32Tensor:$offsets, Moe_FloatTensor:$gate_up,
                       Moe_FloatTensor:$down,
                       Optional<Moe_FloatTensor>:$gate_up_bias,
                       Optional<Moe_FloatTensor>:$down_bias,
                       Optional<Moe_F32Tensor>:$row_scale,
                       Moe_FfnAttr:$ffn,
                       ConfinedAttr<I64Attr, [IntPositive]>:$top_k);
  let results = (outs Moe_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $permutation `,` $offsets `,` $gate_up `,` $down
    (`gate_up_bias` $gate_up_bias^)? (`down_bias` $down_bias^)?
    (`row_scale` $row_scale^)? `ffn` $ffn attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Moe_CombineOp : Moe_Op<"combine", [Pure]> {
  let summary = "weighted scatter-add of expert rows back to tokens";
  let description = [{
    `result[t] = sum over k = 0..K-1 of weights[t, k] * rows[r]` with
    `permutation[r] = t * K + k`, summed in ascending `k` in f32 so results
    are reproducible, then converted to the result type. Without `weights`
    (the weight was applied to the input) the rows are summed unscaled.
  }];
  let arguments = (ins Moe_F32Tensor:$rows, Moe_I32Tensor:$permutation,
                       Optional<Moe_F32Tensor>:$weights,
                       ConfinedAttr<I64Attr, [IntPositive]>:$top_k);
  let results = (outs Moe_FloatTensor:$result);
  let assemblyFormat = [{
    $rows `,` $permutation (`weights` $weights^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Moe_SharedExpertOp : Moe_Op<"shared_expert", [Pure]> {
  let summary = "an always-selected dense expert, optionally sigmoid-gated";
  let description = [{
    `result[t] = FFN(input[t]) * sigmoid(input[t] . gate)` where `gate_up` is
    `[2I, H]` (`[I, H]` for relu), `down` is `[H, I]` and the optional
    `gate` is `[1, H]` (Qwen2-MoE `shared_expert_gate`); without `gate` the
    factor is 1. Several shared experts (DeepSeek `n_shared_experts`) are one
    FFN of their summed intermediate size.
  }];
  let arguments = (ins Moe_FloatTensor:$input, Moe_FloatTensor:$gate_up,
                       Moe_FloatTensor:$down, Optional<Moe_FloatTensor>:$gate,
                       Moe_FfnAttr:$ffn);
  let results = (outs Moe_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gate_up `,` $down (`gate` $gate^)? `ffn` $ffn attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Moe_LayerOp : Moe_Op<"layer", [Pure, AttrSizedOperandSegments]> {
  let summary = "a whole MoE block: route, run experts, combine, add shared";
  let description = [{
    The composite form the importer produces, carrying the block's whole
    configuration; `moe-decompose-layer` expands it into `moe.router`,
    `moe.gate`, `moe.dispatch`, `moe.experts`, `moe.combine` and
    `moe.shared_expert`. Operands have the shapes those ops require; the
    result has the input's type.
  }];
  let arguments = (ins Moe_FloatTensor:$input, Moe_FloatTensor:$router_weight,
                       Optional<Moe_FloatTensor>:$router_bias,
                       Optional<Moe_F32Tensor>:$correction_bias,
                       Moe_FloatTensor:$gate_up, Moe_FloatTensor:$down,
                       Optional<Moe_FloatTensor>:$gate_up_bias,
                       Optional<Moe_FloatTensor>:$down_bias,
                       Optional<Moe_FloatTensor>:$shared_gate_up,
                       Optional<Moe_FloatTensor>:$shared_down,
                       Optional<Moe_FloatTensor>:$shared_gate,
                       Moe_RoutingAttr:$routing, Moe_FfnAttr:$ffn);
  let results = (outs Moe_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $router_weight (`router_bias` $router_bias^)?
    (`correction_bias` $correction_bias^)? `experts` `(` $gate_up `,` $down
    (`,` `bias` $gate_up_bias^)? (`,` `down_bias` $down_bias^)? `)`
    (`shared` `(` $shared_gate_up^ `,` $shared_down (`,` `gate` $shared_gate^)? `)`)?
    `routing` $routing `ffn` $ffn attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // MOE_OPS_TD
