//===- ModelDesc.cpp - checks and merging shared by every importer --------===//

#include "moe/Import/ModelDesc.h"
#include "moe/Json/JsonDocument.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::moe;

llvm::StringRef mlir::moe::stringifyDType(DType type) {
  return ::moe::support::manifestName(type);
}

std::optional<DType> mlir::moe::parseDType(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<DType>>(name)
      .Cases({"f32", "float32"}, DType::F32)
      .Cases({"f16", "float16"}, DType::F16)
      .Cases({"bf16", "bfloat16"}, DType::BF16)
      .Default(std::nullopt);
}

Type mlir::moe::getDTypeType(MLIRContext *context, DType type) {
  switch (type) {
  case DType::F32:
    return Float32Type::get(context);
  case DType::F16:
    return Float16Type::get(context);
  case DType::BF16:
    return BFloat16Type::get(context);
  default:
    llvm_unreachable("not a compute dtype");
  }
}

std::optional<DType> mlir::moe::dtypeOfType(Type type) {
  if (type.isF64())
    return DType::F64;
  if (type.isF32())
    return DType::F32;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  if (isa<Float8E4M3FNType>(type))
    return DType::F8E4M3;
  if (isa<Float8E5M2Type>(type))
    return DType::F8E5M2;
  if (isa<Float8E8M0FNUType>(type))
    return DType::F8E8M0;
  if (type.isInteger(1))
    return DType::Bool;
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer || integer.isSigned())
    return std::nullopt;
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 8:
    return isUnsigned ? DType::U8 : DType::I8;
  case 16:
    return isUnsigned ? DType::U16 : DType::I16;
  case 32:
    return isUnsigned ? DType::U32 : DType::I32;
  case 64:
    return isUnsigned ? DType::U64 : DType::I64;
  default:
    return std::nullopt;
  }
}

/// Sizes above this are refused: the kernels index rows and columns with
/// 32-bit integers, and no real model comes near it.
static constexpr int64_t kMaxDimension = INT32_MAX;

namespace {
/// Reports problems of one MoE layer description at its fields' paths.
struct LayerChecker {
  const ModelDesc &model;
  const MoeLayerDesc &layer;
  const JsonDocument &doc;

  std::string path(llvm::StringRef field) const {
    return layer.paths.lookup(field);
  }
  InFlightDiagnostic error(llvm::StringRef field) const {
    return doc.emitError(path(field));
  }

  LogicalResult checkSize(llvm::StringRef field, int64_t value) const {
    if (value >= 1 && value <= kMaxDimension)
      return success();
    error(field) << "size " << value << " is out of range [1, " << kMaxDimension
                 << "]";
    return failure();
  }

  /// Multiplies sizes, failing when the product overflows 64 bits.
  LogicalResult checkProduct(llvm::StringRef field,
                             llvm::ArrayRef<int64_t> factors,
                             llvm::StringRef formula) const {
    int64_t product = 1;
    for (int64_t factor : factors) {
      if (llvm::MulOverflow(product, factor, product)) {
        error(field) << "the size of " << formula
                     << " overflows 64 bits; the sizes are not realistic";
        return failure();
      }
    }
    return success();
  }

  LogicalResult run() const {
    return success(succeeded(checkRouting()) && succeeded(checkWeights()) &&
                   succeeded(checkLayers()));
  }

private:
  /// The sizes and the routing: top-k, groups, normalization, scaling.
  LogicalResult checkRouting() const {
    const RoutingDesc &r = layer.routing;
    int64_t e = layer.numExperts;
    if (failed(checkSize("num_experts", e)) ||
        failed(checkSize("intermediate_size", layer.intermediateSize)) ||
        failed(checkSize("top_k", r.topK)))
      return failure();
    if (r.topK > e) {
      error("top_k") << "top_k (" << r.topK
                     << ") exceeds the number of experts (" << e << ")";
      return failure();
    }
    if (r.nGroup < 1 || e % r.nGroup != 0) {
      error("n_group") << "n_group (" << r.nGroup
                       << ") must be positive and divide the number of "
                          "experts ("
                       << e << ")";
      return failure();
    }
    if (r.topkGroup < 1 || r.topkGroup > r.nGroup) {
      error("topk_group") << "topk_group (" << r.topkGroup
                          << ") must be in [1, n_group = " << r.nGroup << "]";
      return failure();
    }
    int64_t perGroup = e / r.nGroup;
    if (r.topK > r.topkGroup * perGroup) {
      error("top_k") << "top_k (" << r.topK << ") exceeds the "
                     << r.topkGroup * perGroup << " experts in the "
                     << r.topkGroup << " kept groups of " << perGroup;
      return failure();
    }
    if (r.nGroup > 1 && r.groupScore == GroupScore::top2_sum && perGroup < 2) {
      error("n_group") << "groups scored by the sum of their top 2 experts "
                          "need at least 2 experts per group, got "
                       << perGroup;
      return failure();
    }
    if (!(r.scalingFactor > 0.0)) {
      error("scaling_factor") << "must be positive, got " << r.scalingFactor;
      return failure();
    }
    if (r.normalization == Normalization::pnorm && !(r.normP > 0.0)) {
      error("norm_p") << "the norm's p must be positive, got " << r.normP;
      return failure();
    }
    if (r.normEpsilon < 0.0) {
      error("norm_epsilon") << "must not be negative, got " << r.normEpsilon;
      return failure();
    }
    if (!(r.normMin >= 0.0 && std::isfinite(r.normMin))) {
      error("norm_min") << "must be finite and non-negative, got " << r.normMin;
      return failure();
    }
    if (r.normMin > 0.0 && r.normalization == Normalization::none) {
      error("norm_min") << "bounds the norm of a normalization, but "
                           "normalization is none";
      return failure();
    }
    if (!(r.jitterEps >= 0.0 && std::isfinite(r.jitterEps))) {
      error("jitter_eps") << "must be finite and non-negative, got "
                          << r.jitterEps;
      return failure();
    }
    if (r.jitterEps > 0.0 && r.scoring != Scoring::sparsemixer) {
      error("jitter_eps") << "is the relative gap of sparsemixer scoring, "
                             "but scoring is "
                          << stringifyScoring(r.scoring);
      return failure();
    }
    bool afterTopK = r.scoring == Scoring::softmax_after_topk ||
                     r.scoring == Scoring::sigmoid_after_topk ||
                     r.scoring == Scoring::sparsemixer;
    if (afterTopK && (r.nGroup > 1 || r.correctionBias)) {
      error("scoring") << stringifyScoring(r.scoring)
                       << " scores only the selected experts; it cannot be "
                          "combined with grouped selection or a correction "
                          "bias";
      return failure();
    }
    return success();
  }

  /// The activation's limit and the weights' sizes.
  LogicalResult checkWeights() const {
    int64_t e = layer.numExperts;
    if (!(layer.ffn.limit > 0.0)) {
      error("swiglu_limit") << "must be positive, got " << layer.ffn.limit;
      return failure();
    }

    // The stacked expert weights must be addressable: E * 2I * H elements
    // times the element size must fit in 64 bits.
    int64_t h = model.hiddenSize;
    int64_t rows = layer.ffn.activation == Activation::relu ? 1 : 2;
    if (failed(checkProduct("intermediate_size",
                            {e, rows, layer.intermediateSize, h, 4},
                            "the expert weights (num_experts * 2 * "
                            "intermediate_size * hidden_size * 4 bytes)")))
      return failure();
    if (layer.shared) {
      if (failed(checkSize("shared_expert.intermediate_size",
                           layer.shared->intermediateSize)) ||
          failed(checkProduct("shared_expert.intermediate_size",
                              {rows, layer.shared->intermediateSize, h, 4},
                              "the shared expert weights")))
        return failure();
    }

    return success();
  }

  /// The decoder layers that use this MoE layer.
  LogicalResult checkLayers() const {
    if (layer.layers.empty()) {
      error("layers") << "no decoder layer uses this MoE layer";
      return failure();
    }
    for (int64_t index : layer.layers) {
      if (index < 0 || index >= model.numLayers) {
        error("layers") << "layer " << index << " is outside the model's "
                        << model.numLayers << " layers";
        return failure();
      }
    }
    return success();
  }
};
} // namespace

LogicalResult mlir::moe::validateModelDesc(const ModelDesc &model,
                                           const JsonDocument &doc) {
  if (model.hiddenSize < 1 || model.hiddenSize > kMaxDimension) {
    doc.emitError(model.paths.lookup("hidden_size"))
        << "size " << model.hiddenSize << " is out of range [1, "
        << kMaxDimension << "]";
    return failure();
  }
  if (model.numLayers < 1) {
    doc.emitError(model.paths.lookup("num_layers"))
        << "the model needs at least one layer";
    return failure();
  }
  if (model.moeLayers.empty()) {
    doc.emitError("") << "the model has no MoE layer";
    return failure();
  }
  llvm::DenseMap<int64_t, size_t> owner;
  for (auto [groupIndex, layer] : llvm::enumerate(model.moeLayers)) {
    if (failed(LayerChecker{model, layer, doc}.run()))
      return failure();
    for (int64_t index : layer.layers) {
      auto [it, inserted] = owner.try_emplace(index, groupIndex);
      if (!inserted && it->second != groupIndex) {
        doc.emitError(layer.paths.lookup("layers"))
            << "layer " << index << " is also described by MoE layer group "
            << it->second;
        return failure();
      }
      if (!inserted) {
        doc.emitError(layer.paths.lookup("layers"))
            << "layer " << index << " is listed twice";
        return failure();
      }
    }
  }
  return success();
}

void mlir::moe::mergeSameShapeLayers(ModelDesc &model) {
  std::vector<MoeLayerDesc> merged;
  for (MoeLayerDesc &layer : model.moeLayers) {
    auto it = llvm::find_if(
        merged, [&](const MoeLayerDesc &m) { return m.sameShape(layer); });
    if (it == merged.end()) {
      merged.push_back(std::move(layer));
      continue;
    }
    it->layers.insert(it->layers.end(), layer.layers.begin(),
                      layer.layers.end());
  }
  for (MoeLayerDesc &layer : merged)
    llvm::sort(layer.layers);
  // Order functions by their first layer so names are stable.
  llvm::stable_sort(merged, [](const MoeLayerDesc &a, const MoeLayerDesc &b) {
    return a.layers.front() < b.layers.front();
  });
  model.moeLayers = std::move(merged);
}
