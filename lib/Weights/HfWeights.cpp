//===- HfWeights.cpp - Hugging Face MoE tensors and kernel packing --------===//
//
// Tensor names follow the published checkpoints, which are not always what
// the current transformers modeling code declares: transformers 5 fuses the
// per-expert Mixtral/Qwen/DeepSeek tensors into one gate_up_proj at load
// time (conversion_mapping.py), but the files on the Hub keep one tensor per
// expert and projection, and that is what a loader reads.
//
//===----------------------------------------------------------------------===//

#include "moe/Weights/HfWeights.h"

#include "QuantizedWeights.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>

using namespace moe;
using namespace moe::weights;
using moe::ref::Activation;
using moe::ref::GroupScore;
using moe::ref::LayerConfig;
using moe::ref::Normalization;
using moe::ref::Scoring;
using moe::ref::WeightFormat;
using moe::weights::detail::ProjectionShape;

namespace {

/// How a family stores its routed experts.
enum class Layout {
  /// One tensor per expert: experts.e.w1 (gate), .w3 (up), .w2 (down).
  PerExpertW,
  /// One tensor per expert: experts.e.gate_proj, .up_proj, .down_proj.
  PerExpertProj,
  /// experts.gate_up_proj [E, H, 2I], gate and up columns interleaved.
  GptOss,
  /// experts.gate_up_proj [E, H, 2I], gate columns first.
  Llama4,
  /// experts.mlp.w1, .v1, .w2, each [E*I, H].
  Dbrx,
  /// Granite MoE: input_linear.weight [E, 2I, H] (gate rows first) and
  /// output_linear.weight [E, H, I], already the kernels' layout; the shared
  /// MLP is fused alike (shared_mlp.input_linear/.output_linear) and sits
  /// beside the module, on the decoder layer.
  Granite,
  /// Our own schema: already the kernels' layout.
  Kernel,
};

/// What a family's checkpoints call the tensors of one MoE layer. An empty
/// name means the family has no such tensor, so a config asking for it
/// cannot be loaded from (or written as) that family's checkpoints.
struct Family {
  llvm::StringLiteral name;
  /// The full name is head + layer + "." + module + "." + tensor.
  llvm::StringLiteral head;
  llvm::StringLiteral module;
  Layout layout;
  llvm::StringLiteral routerWeight;
  llvm::StringLiteral routerBias;
  llvm::StringLiteral correctionBias;
  /// Module of the shared expert(s): gate_proj/up_proj/down_proj below it
  /// (Granite: input_linear/output_linear, below the decoder layer).
  llvm::StringLiteral shared;
  llvm::StringLiteral sharedGate;
  bool expertBias;
  /// The correction bias is stored [1, E] (ERNIE's moe_statics), not [E].
  bool correctionBiasRow = false;
};

// Llama 4 is published as Llama4ForConditionalGeneration (model_type
// "llama4"), whose text weights sit under language_model.model; a
// text-only Llama4ForCausalLM ("llama4_text") has them under model.
const Family kFamilies[] = {
    {"mixtral", "model.layers.", "block_sparse_moe", Layout::PerExpertW,
     "gate.weight", "", "", "", "", false},
    {"minimax", "model.layers.", "block_sparse_moe", Layout::PerExpertW,
     "gate.weight", "", "", "", "", false},
    {"minimax_m2", "model.layers.", "block_sparse_moe", Layout::PerExpertW,
     "gate.weight", "", "e_score_correction_bias", "", "", false},
    {"qwen2_moe", "model.layers.", "mlp", Layout::PerExpertProj, "gate.weight",
     "", "", "shared_expert", "shared_expert_gate.weight", false},
    {"qwen3_moe", "model.layers.", "mlp", Layout::PerExpertProj, "gate.weight",
     "", "", "", "", false},
    {"qwen3_next", "model.layers.", "mlp", Layout::PerExpertProj, "gate.weight",
     "", "", "shared_expert", "shared_expert_gate.weight", false},
    {"olmoe", "model.layers.", "mlp", Layout::PerExpertProj, "gate.weight", "",
     "", "", "", false},
    {"deepseek_v2", "model.layers.", "mlp", Layout::PerExpertProj,
     "gate.weight", "", "", "shared_experts", "", false},
    {"deepseek_v3", "model.layers.", "mlp", Layout::PerExpertProj,
     "gate.weight", "", "gate.e_score_correction_bias", "shared_experts", "",
     false},
    {"kimi_k2", "model.layers.", "mlp", Layout::PerExpertProj, "gate.weight",
     "", "gate.e_score_correction_bias", "shared_experts", "", false},
    {"deepseek_v32", "model.layers.", "mlp", Layout::PerExpertProj,
     "gate.weight", "", "gate.e_score_correction_bias", "shared_experts", "",
     false},
    {"glm4_moe", "model.layers.", "mlp", Layout::PerExpertProj, "gate.weight",
     "", "gate.e_score_correction_bias", "shared_experts", "", false},
    {"dots1", "model.layers.", "mlp", Layout::PerExpertProj, "gate.weight", "",
     "gate.e_score_correction_bias", "shared_experts", "", false},
    {"gpt_oss", "model.layers.", "mlp", Layout::GptOss, "router.weight",
     "router.bias", "", "", "", true},
    {"llama4", "language_model.model.layers.", "feed_forward", Layout::Llama4,
     "router.weight", "", "", "shared_expert", "", false},
    {"llama4_text", "model.layers.", "feed_forward", Layout::Llama4,
     "router.weight", "", "", "shared_expert", "", false},
    {"dbrx", "transformer.blocks.", "ffn", Layout::Dbrx, "router.layer.weight",
     "", "", "", "", false},
    {"jamba", "model.layers.", "feed_forward", Layout::PerExpertProj,
     "router.weight", "", "", "", "", false},
    {"ernie4_5_moe", "model.layers.", "mlp", Layout::PerExpertProj,
     "gate.weight", "", "moe_statics.e_score_correction_bias", "shared_experts",
     "", false, /*correctionBiasRow=*/true},
    {"phimoe", "model.layers.", "block_sparse_moe", Layout::PerExpertW,
     "gate.weight", "", "", "", "", false},
    {"hunyuan_v1_moe", "model.layers.", "mlp", Layout::PerExpertProj,
     "gate.wg.weight", "", "", "shared_mlp", "", false},
    {"granitemoe", "model.layers.", "block_sparse_moe", Layout::Granite,
     "router.layer.weight", "", "", "", "", false},
    {"granitemoeshared", "model.layers.", "block_sparse_moe", Layout::Granite,
     "router.layer.weight", "", "", "shared_mlp", "", false},
    {"moe-opt", "model.layers.", "moe", Layout::Kernel, "router_weight",
     "router_bias", "correction_bias", "shared", "shared_gate", true},
};

const Family *findFamily(llvm::StringRef name) {
  for (const Family &family : kFamilies)
    if (family.name == name)
      return &family;
  return nullptr;
}

/// The decoder layer's prefix, "model.layers.3." (`layer` may be the
/// manifest's "{L}" token).
std::string layerPrefixOf(const Family &family, llvm::StringRef layer) {
  return (llvm::Twine(family.head) + layer + ".").str();
}

/// The MoE module's prefix, "model.layers.3.mlp.".
std::string prefixOf(const Family &family, llvm::StringRef layer) {
  return layerPrefixOf(family, layer) + family.module.str() + ".";
}

/// The correction bias's shape as the family stores it.
std::vector<int64_t> correctionBiasShape(const Family &family, int64_t e) {
  return family.correctionBiasRow ? std::vector<int64_t>{1, e}
                                  : std::vector<int64_t>{e};
}

/// How randomHfWeights fills a tensor.
enum class Init { Weight, Bias, CorrectionBias };

struct InitSpec {
  TensorSpec spec;
  Init init;
  /// The size the projection reads (Init::Weight only).
  int64_t fanIn;
  /// Set for the experts' projections, which a quantized checkpoint stores
  /// as values and scales (detail::storedProjection).
  std::optional<ProjectionShape> projection = std::nullopt;
};

bool isGated(const LayerConfig &cfg) {
  return cfg.activation != Activation::Relu;
}

std::vector<InitSpec> kernelSpecs(const LayerConfig &cfg) {
  int64_t e = cfg.numExperts, h = cfg.hidden, i = cfg.intermediate;
  int64_t is = cfg.sharedIntermediate;
  int64_t rows = isGated(cfg) ? 2 * i : i;
  int64_t sharedRows = isGated(cfg) ? 2 * is : is;
  std::vector<InitSpec> specs;
  specs.push_back({{"router_weight", {e, h}}, Init::Weight, h});
  if (cfg.routerBias)
    specs.push_back({{"router_bias", {e}}, Init::Bias, 0});
  if (cfg.correctionBias)
    specs.push_back({{"correction_bias", {e}}, Init::CorrectionBias, 0});
  int64_t parts = isGated(cfg) ? 2 : 1;
  specs.push_back({{"gate_up", {e, rows, h}},
                   Init::Weight,
                   h,
                   ProjectionShape{e, rows, h, parts, false}});
  specs.push_back({{"down", {e, h, i}},
                   Init::Weight,
                   i,
                   ProjectionShape{e, h, i, 1, false}});
  if (cfg.expertBias) {
    specs.push_back({{"gate_up_bias", {e, rows}}, Init::Bias, 0});
    specs.push_back({{"down_bias", {e, h}}, Init::Bias, 0});
  }
  if (is > 0) {
    specs.push_back({{"shared_gate_up", {sharedRows, h}},
                     Init::Weight,
                     h,
                     ProjectionShape{1, sharedRows, h, parts, false}});
    specs.push_back({{"shared_down", {h, is}},
                     Init::Weight,
                     is,
                     ProjectionShape{1, h, is, 1, false}});
  }
  if (cfg.sharedSigmoidGate)
    specs.push_back({{"shared_gate", {1, h}}, Init::Weight, h});
  return specs;
}

std::string expertName(const std::string &prefix, int64_t expert,
                       llvm::StringRef tensor) {
  return (prefix + "experts." + llvm::Twine(expert) + "." + tensor).str();
}

/// The family's tensors; assumes checkLayerConfig(cfg) succeeded.
std::vector<InitSpec> familySpecs(const LayerConfig &cfg,
                                  const Family &family) {
  std::string p = prefixOf(family, std::to_string(cfg.layer));
  if (family.layout == Layout::Kernel) {
    std::vector<InitSpec> specs = kernelSpecs(cfg);
    for (InitSpec &spec : specs)
      spec.spec.name = p + spec.spec.name;
    return specs;
  }
  int64_t e = cfg.numExperts, h = cfg.hidden, i = cfg.intermediate;
  int64_t is = cfg.sharedIntermediate;
  std::vector<InitSpec> specs;
  auto weight = [&](std::string name, std::vector<int64_t> shape,
                    int64_t fanIn) {
    specs.push_back({{std::move(name), std::move(shape)}, Init::Weight, fanIn});
  };
  // A [rows, cols] projection ([E, cols, rows] for gpt-oss's transposed
  // ones) of the experts.
  auto projection = [&](std::string name, std::vector<int64_t> shape,
                        int64_t fanIn) {
    bool transposed = shape.size() == 3;
    int64_t batch = transposed ? shape[0] : 1;
    int64_t rows = transposed ? shape[2] : shape[0];
    int64_t cols = shape[1];
    specs.push_back({{std::move(name), std::move(shape)},
                     Init::Weight,
                     fanIn,
                     ProjectionShape{batch, rows, cols, 1, transposed}});
  };
  auto bias = [&](std::string name, std::vector<int64_t> shape) {
    specs.push_back({{std::move(name), std::move(shape)}, Init::Bias, 0});
  };

  weight(p + family.routerWeight.str(), {e, h}, h);
  if (cfg.routerBias)
    bias(p + family.routerBias.str(), {e});
  if (cfg.correctionBias)
    specs.push_back(
        {{p + family.correctionBias.str(), correctionBiasShape(family, e)},
         Init::CorrectionBias,
         0});

  switch (family.layout) {
  case Layout::PerExpertW:
  case Layout::PerExpertProj: {
    bool w = family.layout == Layout::PerExpertW;
    for (int64_t x = 0; x < e; ++x) {
      projection(expertName(p, x, w ? "w1.weight" : "gate_proj.weight"), {i, h},
                 h);
      projection(expertName(p, x, w ? "w3.weight" : "up_proj.weight"), {i, h},
                 h);
      projection(expertName(p, x, w ? "w2.weight" : "down_proj.weight"), {h, i},
                 i);
    }
    break;
  }
  case Layout::GptOss:
  case Layout::Llama4:
    projection(p + "experts.gate_up_proj", {e, h, 2 * i}, h);
    projection(p + "experts.down_proj", {e, i, h}, i);
    if (cfg.expertBias) {
      bias(p + "experts.gate_up_proj_bias", {e, 2 * i});
      bias(p + "experts.down_proj_bias", {e, h});
    }
    break;
  case Layout::Granite:
    weight(p + "input_linear.weight", {e, 2 * i, h}, h);
    weight(p + "output_linear.weight", {e, h, i}, i);
    break;
  case Layout::Dbrx:
    weight(p + "experts.mlp.w1", {e * i, h}, h);
    weight(p + "experts.mlp.v1", {e * i, h}, h);
    // w2 is stored [E*I, H] but is the down projection: it reads I values.
    weight(p + "experts.mlp.w2", {e * i, h}, i);
    break;
  case Layout::Kernel:
    llvm_unreachable("handled above");
  }

  if (is > 0 && family.layout == Layout::Granite) {
    std::string s =
        layerPrefixOf(family, std::to_string(cfg.layer)) + family.shared.str();
    weight(s + ".input_linear.weight", {2 * is, h}, h);
    weight(s + ".output_linear.weight", {h, is}, is);
  } else if (is > 0) {
    std::string s = p + family.shared.str() + ".";
    projection(s + "gate_proj.weight", {is, h}, h);
    projection(s + "up_proj.weight", {is, h}, h);
    projection(s + "down_proj.weight", {h, is}, is);
  }
  if (cfg.sharedSigmoidGate)
    weight(p + family.sharedGate.str(), {1, h}, h);
  return specs;
}

/// The tensors of `specs`, each quantized projection as its values and
/// scales.
std::vector<TensorSpec> stripInit(const LayerConfig &cfg,
                                  std::vector<InitSpec> specs,
                                  bool kernelNames) {
  std::vector<TensorSpec> result;
  result.reserve(specs.size());
  for (InitSpec &spec : specs) {
    if (spec.projection && cfg.weightFormat != WeightFormat::Plain)
      for (TensorSpec &stored : detail::storedProjection(
               cfg, spec.spec, *spec.projection, kernelNames))
        result.push_back(std::move(stored));
    else
      result.push_back(std::move(spec.spec));
  }
  return result;
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast and fully specified, so
/// the same seed gives the same weights with any compiler and standard
/// library (std::uniform_real_distribution is not portable).
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}

  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [lo, hi], rounded to float.
  float uniform(double lo, double hi) {
    double unit = static_cast<double>(next() >> 11) * 0x1.0p-53;
    return static_cast<float>(lo + (hi - lo) * unit);
  }

private:
  uint64_t state;
};

/// A generator for one named stream: each tensor draws from its own, so its
/// values depend only on the seed and its name, not on which other tensors
/// the config asks for or their order.
SplitMix64 streamFor(uint64_t seed, llvm::StringRef name) {
  uint64_t hash = 0xcbf29ce484222325ULL; // FNV-1a
  for (unsigned char c : name.bytes()) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  SplitMix64 mixer(seed ^ hash);
  return SplitMix64(mixer.next());
}

std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "[";
  llvm::interleaveComma(shape, os);
  os << "]";
  return text;
}

llvm::Error configError(const LayerConfig &cfg, const llvm::Twine &message) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      ("layer " + llvm::Twine(cfg.layer) + " (" + cfg.family + "): " + message)
          .str());
}

HostTensor zeros(std::vector<int64_t> shape) {
  HostTensor tensor;
  tensor.shape = std::move(shape);
  tensor.data.assign(tensor.numElements(), 0.0f);
  return tensor;
}

/// The quantized formats whose tensors the family's checkpoints name, and
/// blocks that fit them.
llvm::Error checkWeightFormat(const LayerConfig &cfg, const Family &family) {
  switch (cfg.weightFormat) {
  case WeightFormat::Plain:
    return llvm::Error::success();
  case WeightFormat::Fp8:
    if (family.layout == Layout::GptOss || family.layout == Layout::Llama4 ||
        family.layout == Layout::Dbrx || family.layout == Layout::Granite)
      return configError(cfg, "'" + llvm::Twine(cfg.family) +
                                  "' checkpoints have no fp8 block-scaled "
                                  "layout");
    if (cfg.blockRows < 0 || cfg.blockCols < 0 ||
        (cfg.blockRows == 0) != (cfg.blockCols == 0))
      return configError(cfg, "fp8 blocks are two positive sizes, or none "
                              "(per-tensor)");
    return llvm::Error::success();
  case WeightFormat::Mxfp4: {
    if (family.layout != Layout::GptOss && family.layout != Layout::Kernel)
      return configError(cfg, "'" + llvm::Twine(cfg.family) +
                                  "' checkpoints have no MXFP4 layout");
    if (cfg.blockRows != 1 || cfg.blockCols != 32)
      return configError(cfg, "MXFP4 blocks are 1 x 32");
    for (int64_t size : {cfg.hidden, cfg.intermediate, cfg.sharedIntermediate})
      if (size % 32)
        return configError(cfg, "MXFP4 scales groups of 32 inputs: hidden, "
                                "intermediate and shared sizes must be "
                                "multiples of 32, not " +
                                    llvm::Twine(size));
    return llvm::Error::success();
  }
  }
  return llvm::Error::success();
}
} // namespace

llvm::Error moe::weights::checkLayerConfig(const LayerConfig &cfg) {
  const Family *family = findFamily(cfg.family);
  if (!family) {
    std::string known;
    for (const Family &f : kFamilies)
      known += (known.empty() ? "" : ", ") + f.name.str();
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown model family '" + cfg.family +
                                       "' (known: " + known + ")");
  }
  if (cfg.layer < 0)
    return configError(cfg, "layer index must be non-negative");
  if (cfg.hidden <= 0 || cfg.numExperts <= 0 || cfg.intermediate <= 0)
    return configError(
        cfg, "hidden (" + llvm::Twine(cfg.hidden) + "), experts (" +
                 llvm::Twine(cfg.numExperts) + ") and intermediate size (" +
                 llvm::Twine(cfg.intermediate) + ") must be positive");
  if (cfg.sharedIntermediate < 0)
    return configError(cfg, "shared intermediate size must be non-negative");
  if (cfg.topK < 1 || cfg.topK > cfg.numExperts)
    return configError(cfg, "top-k (" + llvm::Twine(cfg.topK) +
                                ") must be in [1, " +
                                llvm::Twine(cfg.numExperts) + "]");
  if (cfg.nGroup < 1 || cfg.numExperts % cfg.nGroup != 0)
    return configError(cfg, "nGroup (" + llvm::Twine(cfg.nGroup) +
                                ") must divide the number of experts (" +
                                llvm::Twine(cfg.numExperts) + ")");
  int64_t perGroup = cfg.numExperts / cfg.nGroup;
  if (cfg.topkGroup < 1 || cfg.topkGroup > cfg.nGroup)
    return configError(cfg, "topkGroup must be in [1, nGroup]");
  if (cfg.topK > cfg.topkGroup * perGroup)
    return configError(cfg, "top-k exceeds the experts in the kept groups");
  if (cfg.nGroup > 1 && cfg.groupScore == GroupScore::Top2Sum && perGroup < 2)
    return configError(cfg, "top2_sum group score needs 2 experts per group");
  bool afterTopK = cfg.scoring == Scoring::SoftmaxAfterTopK ||
                   cfg.scoring == Scoring::SigmoidAfterTopK ||
                   cfg.scoring == Scoring::Sparsemixer;
  if (afterTopK && (cfg.nGroup > 1 || cfg.correctionBias))
    return configError(cfg, "grouped selection and a correction bias need "
                            "scores before top-k");
  if (cfg.normalization == Normalization::PNorm &&
      !(cfg.normP > 0.0 && std::isfinite(cfg.normP)))
    return configError(cfg, "normP must be positive and finite");
  if (!(cfg.normEpsilon >= 0.0 && std::isfinite(cfg.normEpsilon)))
    return configError(cfg, "normEpsilon must be finite and non-negative");
  if (!(cfg.scalingFactor > 0.0 && std::isfinite(cfg.scalingFactor)))
    return configError(cfg, "scalingFactor must be positive and finite");
  if (cfg.activation == Activation::SwigluOai &&
      !(std::isfinite(cfg.alpha) && cfg.limit > 0.0 &&
        std::isfinite(cfg.limit)))
    return configError(cfg, "swiglu_oai needs a finite alpha and a positive "
                            "finite limit");
  if (cfg.sharedSigmoidGate && cfg.sharedIntermediate == 0)
    return configError(cfg, "a shared expert gate needs a shared expert");

  // Flags the family's checkpoints have no tensor for.
  auto missing = [&](llvm::StringRef what) {
    return configError(cfg, "'" + llvm::Twine(cfg.family) +
                                "' checkpoints have no " + what);
  };
  if (cfg.routerBias && family->routerBias.empty())
    return missing("router bias");
  if (cfg.correctionBias && family->correctionBias.empty())
    return missing("score correction bias");
  if (cfg.expertBias && !family->expertBias)
    return missing("expert biases");
  if (cfg.sharedIntermediate > 0 && family->shared.empty())
    return missing("shared expert");
  if (cfg.sharedSigmoidGate && family->sharedGate.empty())
    return missing("shared expert gate");
  if (!isGated(cfg) && family->layout != Layout::Kernel)
    return missing("ungated (relu) expert layout");
  return checkWeightFormat(cfg, *family);
}

std::vector<TensorSpec> moe::weights::hfTensorSpecs(const LayerConfig &cfg) {
  if (llvm::Error err = checkLayerConfig(cfg)) {
    llvm::consumeError(std::move(err));
    return {};
  }
  const Family &family = *findFamily(cfg.family);
  return stripInit(cfg, familySpecs(cfg, family),
                   family.layout == Layout::Kernel);
}

std::vector<TensorSpec>
moe::weights::kernelTensorSpecs(const LayerConfig &cfg) {
  if (llvm::Error err = checkLayerConfig(cfg)) {
    llvm::consumeError(std::move(err));
    return {};
  }
  return stripInit(cfg, kernelSpecs(cfg), /*kernelNames=*/true);
}

TensorMap moe::weights::randomHfWeights(const LayerConfig &cfg, uint64_t seed) {
  TensorMap result;
  if (llvm::Error err = checkLayerConfig(cfg)) {
    llvm::consumeError(std::move(err));
    return result;
  }
  const Family &family = *findFamily(cfg.family);
  for (InitSpec &spec : familySpecs(cfg, family)) {
    double bound = 0.0;
    switch (spec.init) {
    case Init::Weight:
      bound = 1.0 / std::sqrt(static_cast<double>(spec.fanIn));
      break;
    case Init::Bias:
      bound = 0.1;
      break;
    case Init::CorrectionBias:
      bound = 0.05;
      break;
    }
    SplitMix64 rng = streamFor(seed, spec.spec.name);
    HostTensor tensor;
    tensor.shape = spec.spec.shape;
    tensor.data.resize(tensor.numElements());
    for (float &value : tensor.data)
      value = rng.uniform(-bound, bound);
    if (spec.projection && cfg.weightFormat != WeightFormat::Plain) {
      bool kernelNames = family.layout == Layout::Kernel;
      detail::varyBlockMagnitudes(cfg, tensor, *spec.projection,
                                  streamFor(seed, spec.spec.name).next());
      std::vector<TensorSpec> stored = detail::storedProjection(
          cfg, spec.spec, *spec.projection, kernelNames);
      std::vector<HostTensor> quantized = detail::quantizeProjection(
          cfg, tensor, *spec.projection, kernelNames);
      for (size_t k = 0; k < stored.size(); ++k)
        result.emplace(stored[k].name, std::move(quantized[k]));
      continue;
    }
    result.emplace(std::move(spec.spec.name), std::move(tensor));
  }
  return result;
}

HostTensor moe::weights::randomInput(const LayerConfig &cfg, int64_t tokens,
                                     uint64_t seed) {
  HostTensor tensor;
  tensor.shape = {std::max<int64_t>(tokens, 0),
                  std::max<int64_t>(cfg.hidden, 0)};
  tensor.data.resize(tensor.numElements());
  // Row-major from one stream: the first rows do not depend on `tokens`.
  SplitMix64 rng = streamFor(seed, "hidden_states");
  for (float &value : tensor.data)
    value = rng.uniform(-1.0, 1.0);
  return tensor;
}

namespace {
/// The first scale of a quantized projection that dequantizes to nothing
/// usable (zero, negative, infinite, NaN), or none. Other tensors: none.
std::optional<size_t> badScale(const TensorSpec &spec,
                               const HostTensor &tensor) {
  llvm::StringRef name = spec.name;
  if (!spec.storage || !(name.ends_with("_scale_inv") ||
                         name.ends_with("_scale") || name.ends_with("_scales")))
    return std::nullopt;
  for (size_t k = 0; k < tensor.data.size(); ++k) {
    float value = tensor.data[k];
    bool bad = spec.storage == support::DType::U8
                   ? value == 255.0f
                   : !(value > 0.0f && std::isfinite(value));
    if (bad)
      return k;
  }
  return std::nullopt;
}
} // namespace

llvm::Error moe::weights::checkHfWeights(const LayerConfig &cfg,
                                         const TensorMap &hf) {
  if (llvm::Error err = checkLayerConfig(cfg))
    return err;
  std::string problems;
  unsigned count = 0;
  for (const TensorSpec &spec : hfTensorSpecs(cfg)) {
    std::string problem;
    auto it = hf.find(spec.name);
    if (it == hf.end()) {
      problem = "tensor '" + spec.name + "': missing (expected shape " +
                formatShape(spec.shape) + ")";
    } else if (it->second.shape != spec.shape) {
      problem = "tensor '" + spec.name + "': expected shape " +
                formatShape(spec.shape) + ", got " +
                formatShape(it->second.shape);
    } else if (static_cast<int64_t>(it->second.data.size()) !=
               it->second.numElements()) {
      problem = "tensor '" + spec.name + "': shape " + formatShape(spec.shape) +
                " holds " + std::to_string(it->second.numElements()) +
                " values, but the data has " +
                std::to_string(it->second.data.size());
    } else if (std::optional<size_t> bad = badScale(spec, it->second)) {
      problem = "tensor '" + spec.name + "': scale " + std::to_string(*bad) +
                " is " + std::to_string(it->second.data[*bad]) +
                (spec.storage == support::DType::U8
                     ? " (0xff: e8m0's NaN)"
                     : "; scales must be positive and finite");
    }
    if (problem.empty())
      continue;
    // Every problem, not just the first: a wrong naming convention shows up
    // as a pattern across tensors.
    problems += (count++ ? "\n" : "") + problem;
  }
  if (count == 0)
    return llvm::Error::success();
  return configError(cfg, llvm::Twine(count) + " bad weight tensor" +
                              (count == 1 ? "" : "s") + ":\n" + problems);
}

namespace {
/// The packing steps of one layer, added by the shapes of copy they are.
struct StepList {
  std::vector<PackStep> steps;

  /// A strided [rows, cols] view of `tensor` at `srcOffset` into `buffer` at
  /// `dstOffset` with row stride `dstRowStride` (a transposed source is a
  /// copy with swapped strides).
  void transposed(llvm::StringRef buffer, std::string tensor, int64_t srcOffset,
                  int64_t rows, int64_t cols, int64_t srcRowStride,
                  int64_t srcColStride, int64_t dstOffset,
                  int64_t dstRowStride) {
    steps.push_back({{srcOffset, rows, cols, srcRowStride, srcColStride,
                      dstOffset, dstRowStride, 1},
                     buffer.str(),
                     std::move(tensor)});
  }
  /// A row-major [rows, cols] block of `tensor`.
  void block(llvm::StringRef buffer, std::string tensor, int64_t srcOffset,
             int64_t rows, int64_t cols, int64_t dstOffset,
             int64_t dstRowStride) {
    transposed(buffer, std::move(tensor), srcOffset, rows, cols, cols, 1,
               dstOffset, dstRowStride);
  }
  /// A whole tensor of shape `shape` into the whole buffer.
  void whole(llvm::StringRef buffer, std::string tensor,
             llvm::ArrayRef<int64_t> shape) {
    int64_t cols = shape.back();
    int64_t rows = 1;
    for (int64_t d : shape.drop_back())
      rows *= d;
    block(buffer, std::move(tensor), 0, rows, cols, 0, cols);
  }
};

/// The routed experts' gate_up and down of a Hugging Face layout. Every
/// layout reaching here is gated (checkLayerConfig): gate_up holds 2I rows
/// per expert, gate rows first. `p` is the layer's tensor-name prefix.
/// Rows of a [rows, cols] projection's fp8 scales (the whole projection
/// without a block size), and columns.
int64_t fp8ScaleRows(const LayerConfig &cfg, int64_t rows) {
  return cfg.blockRows ? (rows + cfg.blockRows - 1) / cfg.blockRows : 1;
}
int64_t fp8ScaleCols(const LayerConfig &cfg, int64_t cols) {
  return cfg.blockCols ? (cols + cfg.blockCols - 1) / cfg.blockCols : 1;
}

/// The fp8 scales of separate gate, up and down projections (named
/// `gate`, `up`, `down` + "_scale_inv") of one expert or the shared one
/// into the kernels' `bufferPrefix`gate_up_scale (gate's grid, then up's)
/// and `bufferPrefix`down_scale, as matrix `x` of each.
void addFp8ScaleSteps(StepList &out, const LayerConfig &cfg,
                      llvm::StringRef bufferPrefix, const std::string &gate,
                      const std::string &up, const std::string &down, int64_t x,
                      int64_t h, int64_t i) {
  int64_t gateRows = fp8ScaleRows(cfg, i), gateCols = fp8ScaleCols(cfg, h);
  int64_t downRows = fp8ScaleRows(cfg, h), downCols = fp8ScaleCols(cfg, i);
  std::string gateUp = (bufferPrefix + "gate_up_scale").str();
  int64_t gateSize = gateRows * gateCols;
  out.block(gateUp, gate + "_scale_inv", 0, gateRows, gateCols,
            x * 2 * gateSize, gateCols);
  out.block(gateUp, up + "_scale_inv", 0, gateRows, gateCols,
            x * 2 * gateSize + gateSize, gateCols);
  out.block((bufferPrefix + "down_scale").str(), down + "_scale_inv", 0,
            downRows, downCols, x * downRows * downCols, downCols);
}

/// gpt-oss's MXFP4 experts: gate_up_proj_blocks [E, 2I, H/32, 16] is
/// [E, 2I, H/2] bytes whose rows interleave gate and up (row 2j gate j,
/// 2j+1 up j) as the plain tensor's columns do; its scales [E, 2I, H/32]
/// alike. down_proj's are already the kernels' [E, H, I/2] and [E, H, I/32].
void addMxfp4ExpertSteps(StepList &out, const std::string &p, int64_t e,
                         int64_t h, int64_t i) {
  for (auto [suffix, bufferSuffix, cols] :
       {std::tuple<const char *, const char *, int64_t>{"_blocks", "", h / 2},
        {"_scales", "_scale", h / 32}}) {
    std::string tensor = p + "experts.gate_up_proj" + suffix;
    std::string buffer = std::string("gate_up") + bufferSuffix;
    for (int64_t x = 0; x < e; ++x) {
      int64_t base = x * 2 * i * cols;
      out.transposed(buffer, tensor, base, i, cols, 2 * cols, 1, base, cols);
      out.transposed(buffer, tensor, base + cols, i, cols, 2 * cols, 1,
                     base + i * cols, cols);
    }
  }
  out.whole("down", p + "experts.down_proj_blocks", {e, h, i / 2});
  out.whole("down_scale", p + "experts.down_proj_scales", {e, h, i / 32});
}

void addExpertSteps(StepList &out, const LayerConfig &cfg, const Family &family,
                    const std::string &p, int64_t e, int64_t h, int64_t i) {
  switch (family.layout) {
  case Layout::PerExpertW:
  case Layout::PerExpertProj: {
    bool w = family.layout == Layout::PerExpertW;
    for (int64_t x = 0; x < e; ++x) {
      // [I, H] gate then [I, H] up is exactly expert x's [2I, H] block.
      out.block("gate_up",
                expertName(p, x, w ? "w1.weight" : "gate_proj.weight"), 0, i, h,
                x * 2 * i * h, h);
      out.block("gate_up", expertName(p, x, w ? "w3.weight" : "up_proj.weight"),
                0, i, h, x * 2 * i * h + i * h, h);
      out.block("down", expertName(p, x, w ? "w2.weight" : "down_proj.weight"),
                0, h, i, x * h * i, i);
      if (cfg.weightFormat == WeightFormat::Fp8)
        addFp8ScaleSteps(out, cfg, "",
                         expertName(p, x, w ? "w1.weight" : "gate_proj.weight"),
                         expertName(p, x, w ? "w3.weight" : "up_proj.weight"),
                         expertName(p, x, w ? "w2.weight" : "down_proj.weight"),
                         x, h, i);
    }
    break;
  }
  case Layout::GptOss:
  case Layout::Llama4: {
    if (cfg.weightFormat == WeightFormat::Mxfp4) {
      addMxfp4ExpertSteps(out, p, e, h, i);
      break;
    }
    // gate_up_proj [E, H, 2I]: gate row j of expert x is column j (gpt-oss:
    // 2j, interleaved) of its [H, 2I] block; up row j is column I+j (2j+1).
    bool interleaved = family.layout == Layout::GptOss;
    int64_t colStep = interleaved ? 2 : 1;
    for (int64_t x = 0; x < e; ++x) {
      int64_t src = x * h * 2 * i;
      out.transposed("gate_up", p + "experts.gate_up_proj", src, i, h, colStep,
                     2 * i, x * 2 * i * h, h);
      out.transposed("gate_up", p + "experts.gate_up_proj",
                     src + (interleaved ? 1 : i), i, h, colStep, 2 * i,
                     x * 2 * i * h + i * h, h);
      // down_proj [E, I, H] transposed to [H, I] per expert.
      out.transposed("down", p + "experts.down_proj", x * i * h, h, i, 1, h,
                     x * h * i, i);
    }
    break;
  }
  case Layout::Granite:
    out.whole("gate_up", p + "input_linear.weight", {e, 2 * i, h});
    out.whole("down", p + "output_linear.weight", {e, h, i});
    break;
  case Layout::Dbrx:
    // Expert x owns rows x*I .. x*I+I-1 of each [E*I, H] tensor; w1 and v1
    // rows are already [I, H] gate/up rows, w2's are the transposed down.
    for (int64_t x = 0; x < e; ++x) {
      out.block("gate_up", p + "experts.mlp.w1", x * i * h, i, h, x * 2 * i * h,
                h);
      out.block("gate_up", p + "experts.mlp.v1", x * i * h, i, h,
                x * 2 * i * h + i * h, h);
      out.transposed("down", p + "experts.mlp.w2", x * i * h, h, i, 1, h,
                     x * h * i, i);
    }
    break;
  case Layout::Kernel:
    llvm_unreachable("handled above");
  }
}
} // namespace

std::vector<PackStep> moe::weights::packingSteps(const LayerConfig &cfg,
                                                 llvm::StringRef layerToken) {
  StepList out;
  if (llvm::Error err = checkLayerConfig(cfg)) {
    llvm::consumeError(std::move(err)); // callers check the config first
    return {};
  }
  const Family &family = *findFamily(cfg.family);
  std::string layer =
      layerToken.empty() ? std::to_string(cfg.layer) : layerToken.str();
  std::string p = prefixOf(family, layer);
  if (family.layout == Layout::Kernel) {
    for (const TensorSpec &spec : kernelTensorSpecs(cfg))
      out.whole(spec.name, p + spec.name, spec.shape);
    return std::move(out.steps);
  }

  const int64_t e = cfg.numExperts, h = cfg.hidden, i = cfg.intermediate;
  const int64_t is = cfg.sharedIntermediate;
  out.whole("router_weight", p + family.routerWeight.str(), {e, h});
  if (cfg.routerBias)
    out.whole("router_bias", p + family.routerBias.str(), {e});
  if (cfg.correctionBias)
    out.whole("correction_bias", p + family.correctionBias.str(),
              correctionBiasShape(family, e));
  addExpertSteps(out, cfg, family, p, e, h, i);
  if (cfg.expertBias) {
    // Only gpt-oss among the Hugging Face families has expert biases; its
    // gate_up_proj_bias [E, 2I] interleaves gate and up like the weight.
    out.transposed("gate_up_bias", p + "experts.gate_up_proj_bias", 0, e, i,
                   2 * i, 2, 0, 2 * i);
    out.transposed("gate_up_bias", p + "experts.gate_up_proj_bias", 1, e, i,
                   2 * i, 2, i, 2 * i);
    out.whole("down_bias", p + "experts.down_proj_bias", {e, h});
  }
  if (is > 0 && family.layout == Layout::Granite) {
    std::string s = layerPrefixOf(family, layer) + family.shared.str();
    out.whole("shared_gate_up", s + ".input_linear.weight", {2 * is, h});
    out.whole("shared_down", s + ".output_linear.weight", {h, is});
  } else if (is > 0) {
    std::string s = p + family.shared.str() + ".";
    out.block("shared_gate_up", s + "gate_proj.weight", 0, is, h, 0, h);
    out.block("shared_gate_up", s + "up_proj.weight", 0, is, h, is * h, h);
    out.whole("shared_down", s + "down_proj.weight", {h, is});
    if (cfg.weightFormat == WeightFormat::Fp8)
      addFp8ScaleSteps(out, cfg, "shared_", s + "gate_proj.weight",
                       s + "up_proj.weight", s + "down_proj.weight", 0, h, is);
  }
  if (cfg.sharedSigmoidGate)
    out.whole("shared_gate", p + family.sharedGate.str(), {1, h});
  return std::move(out.steps);
}

llvm::Expected<std::vector<HostTensor>>
moe::weights::packForKernels(const LayerConfig &cfg, const TensorMap &hf) {
  if (llvm::Error err = checkHfWeights(cfg, hf))
    return std::move(err);
  std::vector<TensorSpec> specs = kernelTensorSpecs(cfg);
  std::vector<HostTensor> result;
  std::map<std::string, HostTensor *> byName;
  result.reserve(specs.size());
  for (const TensorSpec &spec : specs) {
    result.push_back(zeros(spec.shape));
    byName[spec.name] = &result.back();
  }
  // The same steps and the same copy the runtime executes from the
  // manifest; checkHfWeights bounded every source.
  for (const PackStep &step : packingSteps(cfg))
    support::runStridedCopy(
        step, support::DType::F32, hf.find(step.tensor)->second.data.data(),
        support::DType::F32, byName.at(step.buffer)->data.data());
  // gpt-oss stores its e8m0 scales as U8 (bytes); the kernels' buffers are
  // e8m0, given here by value.
  if (cfg.weightFormat == WeightFormat::Mxfp4 &&
      findFamily(cfg.family)->layout != Layout::Kernel)
    for (const TensorSpec &spec : specs)
      if (spec.storage == support::DType::F8E8M0)
        for (float &value : byName.at(spec.name)->data)
          value = support::float8E8M0ToFloat(uint8_t(value));
  return result;
}
