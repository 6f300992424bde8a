//===- MoeAttrs.td - moe enums and attributes ----------------*- tablegen -*-===//
//
// The routing and expert-FFN configurations, shared by the composite
// `moe.layer` and the ops it decomposes into, so each is verified once.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_ATTRS_TD
#define MOE_ATTRS_TD

include "dialect/Moe/MoeDialect.td"
include "mlir/IR/EnumAttr.td"

def Moe_Scoring : I32EnumAttr<"Scoring", "how router logits become scores", [
    I32EnumAttrCase<"softmax", 0>,
    I32EnumAttrCase<"sigmoid", 1>,
    // Top-k on the raw logits first, then the function over the k selected
    // logits only (gpt-oss: softmax; Llama 4: sigmoid).
    I32EnumAttrCase<"softmax_after_topk", 2>,
    I32EnumAttrCase<"sigmoid_after_topk", 3>,
    // PhiMoE's sparsemixer at inference: expert j is the argmax of the
    // logits with the j - 1 earlier winners removed; its weight is its
    // softmax probability among the remaining experts whose relative gap
    // (max - l) / max(|l|, max) to that argmax is at most 2 * jitter_eps.
    I32EnumAttrCase<"sparsemixer", 4>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def Moe_Normalization : I32EnumAttr<"Normalization",
    "how the k selected weights are renormalized", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"sum", 1>,
    // w / (sum |w|^p)^(1/p), p = `norm_p` (DBRX).
    I32EnumAttrCase<"pnorm", 2>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def Moe_GroupScore : I32EnumAttr<"GroupScore",
    "the score of an expert group in grouped selection", [
    I32EnumAttrCase<"max", 0>,       // DeepSeek-V2 group_limited_greedy
    I32EnumAttrCase<"top2_sum", 1>]> // DeepSeek-V3 noaux_tc
{
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def Moe_WeightPlacement : I32EnumAttr<"WeightPlacement",
    "where the routing weight multiplies", [
    I32EnumAttrCase<"output", 0>,
    I32EnumAttrCase<"input", 1>]> { // Llama 4 scales the expert's input
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def Moe_Activation : I32EnumAttr<"Activation", "the expert FFN's activation", [
    I32EnumAttrCase<"silu_glu", 0>,   // down(silu(gate(x)) * up(x))
    I32EnumAttrCase<"gelu_glu", 1>,   // down(gelu(gate(x)) * up(x)), exact erf gelu
    // gpt-oss: g = min(gate, limit); u = clamp(up, -limit, limit);
    // down((u + 1) * g * sigmoid(alpha * g)).
    I32EnumAttrCase<"swiglu_oai", 2>,
    I32EnumAttrCase<"relu", 3>]> {    // down(relu(up(x))), not gated
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

// A real number parsed and printed as a double, stored as an APFloat
// (which MLIR's attribute storage knows how to hash).
class Moe_F64Parameter<string default, string desc>
    : DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(" # default # ")",
                             desc> {
  let comparator = "$_lhs.bitwiseIsEqual($_rhs)";
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::APFloat> {
    double value;
    if (::mlir::failed($_parser.parseFloat(value)))
      return ::mlir::failure();
    return ::llvm::APFloat(value);
  }() }];
  let printer = "$_printer.printFloat($_self)";
}

def Moe_RoutingAttr : Moe_Attr<"Routing", "routing"> {
  let summary = "how tokens choose experts and how their weights are formed";
  let description = [{
    `scores = scoring(logits [+ correction bias for selection only])`; with
    `n_group > 1`, experts are split into `n_group` equal groups, each group
    is scored (`group_score`) and only the best `topk_group` groups stay
    eligible; then the `top_k` experts are chosen (ties: lower index). The
    chosen scores are renormalized (`normalization`, with `norm_p`; the
    denominator is `max(norm, norm_min) + norm_epsilon`: ERNIE 4.5 clamps
    the sum from below, DeepSeek adds an epsilon) and multiplied by
    `scaling_factor`. `placement` says whether the weight scales the
    expert's output (usual) or its input (Llama 4). `jitter_eps` is the
    relative gap of `sparsemixer` scoring (PhiMoE's `router_jitter_noise`).
  }];
  let parameters = (ins
    EnumParameter<Moe_Scoring>:$scoring,
    "int64_t":$topK,
    DefaultValuedParameter<"::mlir::moe::Normalization",
        "::mlir::moe::Normalization::none">:$normalization,
    Moe_F64Parameter<"1.0", "p of the p-norm">:$normP,
    Moe_F64Parameter<"0.0", "epsilon added to the norm">:$normEpsilon,
    DefaultValuedParameter<"int64_t", "1">:$nGroup,
    DefaultValuedParameter<"int64_t", "1">:$topkGroup,
    DefaultValuedParameter<"::mlir::moe::GroupScore",
        "::mlir::moe::GroupScore::max">:$groupScore,
    Moe_F64Parameter<"1.0", "factor on the final weights">:$scalingFactor,
    DefaultValuedParameter<"::mlir::moe::WeightPlacement",
        "::mlir::moe::WeightPlacement::output">:$placement,
    Moe_F64Parameter<"0.0", "lower bound of the norm">:$normMin,
    Moe_F64Parameter<"0.0", "sparsemixer's relative gap">:$jitterEps);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Moe_FfnAttr : Moe_Attr<"Ffn", "ffn"> {
  let summary = "the activation of an expert FFN";
  let description = [{
    `alpha` and `limit` are used by `swiglu_oai` only (gpt-oss: 1.702, 7.0).

    `fp8_activation_group = G` (fp8 checkpoints served with
    `activation_scheme: dynamic`, w8a8): each GEMM input of the FFN (the
    token's hidden states, the activated intermediates) is quantized per
    row in groups of G along the reduction, as DeepSeek-V3's inference code
    does: `x' = fp8_e4m3(x / s) * s` with `s = amax(|group|) / 448` (0 when
    the group is 0). Absent (0): inputs are used as they are (weight-only).
    With `fp8_pow2_scales = true` (checkpoints with `scale_fmt: ue8m0`,
    DeepSeek-V3.1 and V3.2), each scale is rounded up to a power of two:
    `s = 2^ceil(log2(amax / 448))`.
  }];
  let parameters = (ins
    EnumParameter<Moe_Activation>:$activation,
    Moe_F64Parameter<"1.702", "sigmoid slope of swiglu_oai">:$alpha,
    Moe_F64Parameter<"7.0", "clamp limit of swiglu_oai">:$limit,
    DefaultValuedParameter<"int64_t", "0",
        "fp8 activation quantization group (0: none)">:$fp8_activation_group,
    DefaultValuedParameter<"bool", "false",
        "fp8 activation scales rounded up to powers of two">:$fp8_pow2_scales);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Gated activations read a gate and an up projection (2 * I rows).
    bool isGated() const {
      return getActivation() != ::mlir::moe::Activation::relu;
    }
  }];
}

include "dialect/Moe/KernelAttrs.td"

#endif // MOE_ATTRS_TD
