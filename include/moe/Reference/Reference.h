//===- Reference.h - fp64 reference forward of one MoE block ----*- C++ -*-===//
//
// An independent, deliberately simple fp64 implementation of the MoE block
// (router, gating, experts, combine, shared expert) that the compiled layer
// functions are checked against. It reads the Hugging Face tensors in their
// original layout and does its own indexing; it shares no code with the
// weight packer (MoeWeights) or the compiler, only the HostTensor/TensorMap
// types, which are header-only.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_REFERENCE_REFERENCE_H
#define MOE_REFERENCE_REFERENCE_H

#include "moe/Reference/LayerConfig.h"
#include "moe/Weights/HfWeights.h"

#include "llvm/Support/Error.h"

#include <vector>

namespace moe::ref {

struct ReferenceResult {
  /// [T, H] row-major: the MoE block output only (no residual).
  std::vector<double> output;
  /// Per token: some selection (group selection, final top-k, or top-k on
  /// logits) was decided by a margin below the tie tolerance, so a kernel
  /// with different rounding may legitimately choose other experts.
  std::vector<bool> nearTie;
  /// Per expert, the tokens routed to it (the experts a kernel must read).
  std::vector<int64_t> expertTokens;
};

/// The fp64 forward of the MoE block on hidden states `x` [T, H], computed
/// from the family's Hugging Face tensors `hf` in their original layout (the
/// moe-opt family: the kernels' layout under model.layers.L.moe.<arg>).
/// Inputs and weights are widened from float; everything after is fp64.
///
///  1. logits = x Wr^T (+ router bias).
///  2. Softmax/Sigmoid: scores s over all E; selection scores c = s (+
///     correction bias). Grouped (nGroup > 1): group score = max of c in the
///     group or the sum of its two largest; the topkGroup best groups are
///     kept and the other experts get selection score 0.0 (transformers'
///     masked_fill, not -inf). Top K of c, then w_k = s[idx_k].
///     *AfterTopK: top K of the logits, w = softmax over the K chosen
///     logits, or sigmoid of each.
///     Every top-k breaks ties towards the lower index.
///  3. Sum: w /= (sum w + eps); PNorm: w /= (||w||_p + eps); then
///     w *= scalingFactor.
///  4. y = sum_k w_k FFN_{idx_k}(x), or with weightOnInput
///     y = sum_k FFN_{idx_k}(w_k x); FFN(v) = down(act(gate v + bg) *
///     (up v + bu)) + bd, relu: down(relu(up v + bu)) + bd.
///  5. y += FFN_shared(x) (* sigmoid(x . shared_gate)).
///
/// nearTie[t] is set when at some selection step the smallest kept score
/// minus the largest dropped one is below `tieTolerance`.
///
/// With `routingOnly`, steps 4 and 5 are skipped: nearTie and expertTokens
/// only, `output` stays zero (what a profile needs of a shape too large for
/// the fp64 FFNs).
///
/// A quantized checkpoint (cfg.weightFormat) is read through
/// dequantizeCheckpoint: the reference of the dequantized model.
///
/// Errors: an unknown family, an inconsistent config, a config the family's
/// checkpoints cannot express, a missing or misshapen tensor, or `x` not
/// [T, H].
llvm::Expected<ReferenceResult>
forward(const LayerConfig &cfg, const TensorMap &hf, const HostTensor &x,
        double tieTolerance = 1e-6, bool routingOnly = false);

/// The plain tensors of a quantized checkpoint (cfg.weightFormat): each
/// projection's values times its scales, under the name and in the layout
/// of the family's unquantized checkpoints (gpt-oss's `X_blocks` and
/// `X_scales` become `X` [E, in, out]); other tensors are copied. forward
/// calls it for quantized configs.
llvm::Expected<TensorMap> dequantizeCheckpoint(const LayerConfig &cfg,
                                               const TensorMap &hf);

} // namespace moe::ref

#endif // MOE_REFERENCE_REFERENCE_H
