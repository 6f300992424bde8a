//===- LayerConfig.h - one MoE layer's configuration, plain C++ -*- C++ -*-===//
//
// What the fp64 reference, the weight generator and the weight packer need
// to know about one MoE layer. Plain C++ with no MLIR dependency, so the
// reference shares no code with the compiler; moe-run fills it from the
// imported model description.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_REFERENCE_LAYERCONFIG_H
#define MOE_REFERENCE_LAYERCONFIG_H

#include <cstdint>
#include <string>

namespace moe::ref {

enum class Scoring {
  Softmax,
  Sigmoid,
  SoftmaxAfterTopK,
  SigmoidAfterTopK,
  /// PhiMoE's sparsemixer at inference (see Reference.cpp).
  Sparsemixer,
};
enum class Normalization { None, Sum, PNorm };
enum class GroupScore { Max, Top2Sum };
enum class Activation { SiluGlu, GeluGlu, SwigluOai, Relu };
/// How the checkpoint stores the experts' projections (routed and shared).
enum class WeightFormat {
  /// The model dtype.
  Plain,
  /// fp8 e4m3 `X.weight` with f32 `X.weight_scale_inv` per block.
  Fp8,
  /// gpt-oss MXFP4: `X_blocks` (two e2m1 per byte, low nibble first) and
  /// `X_scales` (e8m0) per 32 inputs.
  Mxfp4,
};

struct LayerConfig {
  /// The Hugging Face model_type (supportedModelTypes()), or "moe-opt" for
  /// our own schema. It decides the tensor names and layouts of the layer's
  /// weights.
  std::string family;
  /// The decoder layer index (appears in tensor names).
  int64_t layer = 0;

  int64_t hidden = 0;       // H
  int64_t numExperts = 0;   // E
  int64_t intermediate = 0; // I of one routed expert
  int64_t topK = 1;         // K

  Scoring scoring = Scoring::Softmax;
  Normalization normalization = Normalization::None;
  double normP = 1.0;
  double normEpsilon = 0.0;
  /// The norm's lower bound: the denominator is max(norm, normMin) +
  /// normEpsilon (ERNIE 4.5 clamps its sum at 1e-12).
  double normMin = 0.0;
  /// Sparsemixer's relative gap (PhiMoE's router_jitter_noise).
  double jitterEps = 0.0;
  int64_t nGroup = 1;
  int64_t topkGroup = 1;
  GroupScore groupScore = GroupScore::Max;
  double scalingFactor = 1.0;
  /// The routing weight scales the expert's input (Llama 4), not its output.
  bool weightOnInput = false;
  bool routerBias = false;
  /// DeepSeek-V3 e_score_correction_bias [E], f32, selection only.
  bool correctionBias = false;

  Activation activation = Activation::SiluGlu;
  double alpha = 1.702; // swiglu_oai
  double limit = 7.0;   // swiglu_oai
  /// Biases on gate/up and down projections (gpt-oss).
  bool expertBias = false;

  WeightFormat weightFormat = WeightFormat::Plain;
  /// Rows and columns (output, input) of one scale's block; 0 for the whole
  /// projection (fp8 per-tensor). Mxfp4: 1 and 32.
  int64_t blockRows = 0, blockCols = 0;
  /// Significant bits of the type dequantized weights are rounded to (the
  /// model dtype: 8 for bf16, 11 for f16, 24 for f32), as DeepSeek-V3's
  /// weight_dequant and transformers' fp8 fallback produce them; 24 with
  /// w8a8, whose fp8 GEMMs multiply the stored values exactly.
  int dequantizedBits = 8;
  /// w8a8: each FFN GEMM input quantized to fp8 e4m3 per token in groups of
  /// this many values (s = amax / 448); 0: weight-only.
  int64_t fp8ActivationGroup = 0;
  /// w8a8 with `scale_fmt: ue8m0`: each scale rounded up to a power of two.
  bool fp8Pow2Scales = false;

  /// Summed intermediate size of the shared experts; 0 when there is none.
  int64_t sharedIntermediate = 0;
  /// Shared expert output scaled by sigmoid(x . gate), gate [1, H].
  bool sharedSigmoidGate = false;
};

} // namespace moe::ref

#endif // MOE_REFERENCE_LAYERCONFIG_H
