//===- LayerSelection.cpp - one decoder layer of an imported model --------===//

#include "moe/Import/LayerSelection.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::moe;
namespace ref = ::moe::ref;

DType mlir::moe::hfStorageType(llvm::StringRef name, DType dtype) {
  return name.ends_with("e_score_correction_bias") ? DType::F32 : dtype;
}

const MoeLayerDesc *mlir::moe::findLayerGroup(const ModelDesc &model,
                                              int64_t layer) {
  for (const MoeLayerDesc &group : model.moeLayers)
    if (llvm::is_contained(group.layers, layer))
      return &group;
  return nullptr;
}

ref::LayerConfig mlir::moe::makeLayerConfig(const ModelDesc &model,
                                            const MoeLayerDesc &group,
                                            int64_t layer) {
  ref::LayerConfig cfg;
  cfg.family = model.source;
  cfg.layer = layer;
  cfg.hidden = model.hiddenSize;
  cfg.numExperts = group.numExperts;
  cfg.intermediate = group.intermediateSize;
  const RoutingDesc &r = group.routing;
  cfg.topK = r.topK;
  switch (r.scoring) {
  case Scoring::softmax:
    cfg.scoring = ref::Scoring::Softmax;
    break;
  case Scoring::sigmoid:
    cfg.scoring = ref::Scoring::Sigmoid;
    break;
  case Scoring::softmax_after_topk:
    cfg.scoring = ref::Scoring::SoftmaxAfterTopK;
    break;
  case Scoring::sigmoid_after_topk:
    cfg.scoring = ref::Scoring::SigmoidAfterTopK;
    break;
  case Scoring::sparsemixer:
    cfg.scoring = ref::Scoring::Sparsemixer;
    break;
  }
  cfg.normalization =
      r.normalization == Normalization::sum     ? ref::Normalization::Sum
      : r.normalization == Normalization::pnorm ? ref::Normalization::PNorm
                                                : ref::Normalization::None;
  cfg.normP = r.normP;
  cfg.normEpsilon = r.normEpsilon;
  cfg.normMin = r.normMin;
  cfg.jitterEps = r.jitterEps;
  cfg.nGroup = r.nGroup;
  cfg.topkGroup = r.topkGroup;
  cfg.groupScore = r.groupScore == GroupScore::top2_sum
                       ? ref::GroupScore::Top2Sum
                       : ref::GroupScore::Max;
  cfg.scalingFactor = r.scalingFactor;
  cfg.weightOnInput = r.placement == WeightPlacement::input;
  cfg.routerBias = r.routerBias;
  cfg.correctionBias = r.correctionBias;
  switch (group.ffn.activation) {
  case Activation::silu_glu:
    cfg.activation = ref::Activation::SiluGlu;
    break;
  case Activation::gelu_glu:
    cfg.activation = ref::Activation::GeluGlu;
    break;
  case Activation::swiglu_oai:
    cfg.activation = ref::Activation::SwigluOai;
    break;
  case Activation::relu:
    cfg.activation = ref::Activation::Relu;
    break;
  }
  cfg.alpha = group.ffn.alpha;
  cfg.limit = group.ffn.limit;
  cfg.expertBias = group.ffn.bias;
  if (group.shared) {
    cfg.sharedIntermediate = group.shared->intermediateSize;
    cfg.sharedSigmoidGate = group.shared->sigmoidGate;
  }
  cfg.weightFormat = model.quant.format == QuantDesc::Format::fp8
                         ? ref::WeightFormat::Fp8
                     : model.quant.format == QuantDesc::Format::mxfp4
                         ? ref::WeightFormat::Mxfp4
                         : ref::WeightFormat::Plain;
  cfg.blockRows = model.quant.blockRows;
  cfg.blockCols = model.quant.blockCols;
  cfg.fp8ActivationGroup = model.quant.fp8ActivationGroup;
  cfg.fp8Pow2Scales =
      model.quant.fp8ActivationGroup && model.quant.pow2ActivationScales;
  // Weight-only: the dequantized weights in the model dtype, as the
  // loaders give them to bf16 GEMMs. w8a8: exact (f32), as DeepSeek-V3's
  // fp8_gemm multiplies the stored values and applies the scales in f32.
  cfg.dequantizedBits = cfg.fp8ActivationGroup       ? 24
                        : model.dtype == DType::BF16 ? 8
                        : model.dtype == DType::F16  ? 11
                                                     : 24;
  return cfg;
}
