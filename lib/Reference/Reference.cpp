//===- Reference.cpp - fp64 reference forward of one MoE block ------------===//
//
// Written to be obviously right rather than fast: one token at a time, one
// expert at a time, every sum a plain loop in fp64. The Hugging Face layouts
// are read in place through strided views (no repacking), and the tensor
// names are spelled here again rather than taken from MoeWeights, so this
// file and the packer can only agree if both match the checkpoints.
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Reference.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string>

using namespace moe;
using namespace moe::ref;

namespace {

//===----------------------------------------------------------------------===//
// Where each family keeps its tensors
//===----------------------------------------------------------------------===//

enum class ExpertStore {
  PerExpertW,    // experts.e.{w1,w3,w2}.weight, [I,H] [I,H] [H,I]
  PerExpertProj, // experts.e.{gate,up,down}_proj.weight, same shapes
  GptOss,        // experts.gate_up_proj [E,H,2I] interleaved, down [E,I,H]
  Llama4,        // experts.gate_up_proj [E,H,2I] gate|up, down [E,I,H]
  Dbrx,          // experts.mlp.{w1,v1,w2} [E*I,H]
  Granite,       // input_linear [E,2I,H] gate|up, output_linear [E,H,I];
                 // shared_mlp.{input,output}_linear beside the module
  Kernel,        // moe-opt: gate_up [E,2I,H], down [E,H,I]
};

struct FamilyNames {
  llvm::StringLiteral family;
  llvm::StringLiteral head;   // before the layer index
  llvm::StringLiteral module; // after it
  ExpertStore store;
  llvm::StringLiteral router;
  llvm::StringLiteral routerBias;     // "" = the family has none
  llvm::StringLiteral correctionBias; // ""
  llvm::StringLiteral shared;         // "" ; {gate,up,down}_proj.weight below
  llvm::StringLiteral sharedGate;     // ""
  bool expertBias;
  bool correctionBiasRow = false; // stored [1, E] (ERNIE), not [E]
};

// Published checkpoints: Llama 4 ships as Llama4ForConditionalGeneration
// (language_model.model.layers...), DBRX's base model prefix is
// "transformer" with "blocks", the others are "model.layers".
const FamilyNames kNames[] = {
    {"mixtral", "model.layers.", "block_sparse_moe", ExpertStore::PerExpertW,
     "gate.weight", "", "", "", "", false},
    {"minimax", "model.layers.", "block_sparse_moe", ExpertStore::PerExpertW,
     "gate.weight", "", "", "", "", false},
    {"minimax_m2", "model.layers.", "block_sparse_moe", ExpertStore::PerExpertW,
     "gate.weight", "", "e_score_correction_bias", "", "", false},
    {"qwen2_moe", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "", "shared_expert", "shared_expert_gate.weight",
     false},
    {"qwen3_moe", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "", "", "", false},
    {"qwen3_next", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "", "shared_expert", "shared_expert_gate.weight",
     false},
    {"olmoe", "model.layers.", "mlp", ExpertStore::PerExpertProj, "gate.weight",
     "", "", "", "", false},
    {"deepseek_v2", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "", "shared_experts", "", false},
    {"deepseek_v3", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "gate.e_score_correction_bias", "shared_experts", "",
     false},
    {"kimi_k2", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "gate.e_score_correction_bias", "shared_experts", "",
     false},
    {"deepseek_v32", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "gate.e_score_correction_bias", "shared_experts", "",
     false},
    {"glm4_moe", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "gate.e_score_correction_bias", "shared_experts", "",
     false},
    {"dots1", "model.layers.", "mlp", ExpertStore::PerExpertProj, "gate.weight",
     "", "gate.e_score_correction_bias", "shared_experts", "", false},
    {"gpt_oss", "model.layers.", "mlp", ExpertStore::GptOss, "router.weight",
     "router.bias", "", "", "", true},
    {"llama4", "language_model.model.layers.", "feed_forward",
     ExpertStore::Llama4, "router.weight", "", "", "shared_expert", "", false},
    {"llama4_text", "model.layers.", "feed_forward", ExpertStore::Llama4,
     "router.weight", "", "", "shared_expert", "", false},
    {"dbrx", "transformer.blocks.", "ffn", ExpertStore::Dbrx,
     "router.layer.weight", "", "", "", "", false},
    {"jamba", "model.layers.", "feed_forward", ExpertStore::PerExpertProj,
     "router.weight", "", "", "", "", false},
    {"ernie4_5_moe", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.weight", "", "moe_statics.e_score_correction_bias", "shared_experts",
     "", false, true},
    {"phimoe", "model.layers.", "block_sparse_moe", ExpertStore::PerExpertW,
     "gate.weight", "", "", "", "", false},
    {"hunyuan_v1_moe", "model.layers.", "mlp", ExpertStore::PerExpertProj,
     "gate.wg.weight", "", "", "shared_mlp", "", false},
    {"granitemoe", "model.layers.", "block_sparse_moe", ExpertStore::Granite,
     "router.layer.weight", "", "", "", "", false},
    {"granitemoeshared", "model.layers.", "block_sparse_moe",
     ExpertStore::Granite, "router.layer.weight", "", "", "shared_mlp", "",
     false},
    {"moe-opt", "model.layers.", "moe", ExpertStore::Kernel, "router_weight",
     "router_bias", "correction_bias", "", "shared_gate", true},
};

llvm::Error makeError(const LayerConfig &cfg, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 ("reference, layer " + llvm::Twine(cfg.layer) +
                                  " (" + cfg.family + "): " + message)
                                     .str());
}

bool isAfterTopK(Scoring scoring) {
  return scoring == Scoring::SoftmaxAfterTopK ||
         scoring == Scoring::SigmoidAfterTopK;
}

/// The same rules the moe dialect's verifiers apply, plus what the family's
/// checkpoints can hold.
llvm::Error validate(const LayerConfig &cfg, const FamilyNames &names) {
  if (cfg.layer < 0 || cfg.hidden <= 0 || cfg.numExperts <= 0 ||
      cfg.intermediate <= 0 || cfg.sharedIntermediate < 0)
    return makeError(cfg, "sizes must be positive (layer index and shared "
                          "intermediate size non-negative)");
  if (cfg.topK < 1 || cfg.topK > cfg.numExperts)
    return makeError(cfg, "top-k " + llvm::Twine(cfg.topK) + " is not in [1, " +
                              llvm::Twine(cfg.numExperts) + "]");
  if (cfg.nGroup < 1 || cfg.numExperts % cfg.nGroup != 0 || cfg.topkGroup < 1 ||
      cfg.topkGroup > cfg.nGroup)
    return makeError(cfg, "nGroup must divide the experts and topkGroup be "
                          "in [1, nGroup]");
  int64_t perGroup = cfg.numExperts / cfg.nGroup;
  if (cfg.topK > cfg.topkGroup * perGroup)
    return makeError(cfg, "top-k exceeds the experts of the kept groups");
  if (cfg.nGroup > 1 && cfg.groupScore == GroupScore::Top2Sum && perGroup < 2)
    return makeError(cfg, "top2_sum needs at least 2 experts per group");
  if ((isAfterTopK(cfg.scoring) || cfg.scoring == Scoring::Sparsemixer) &&
      (cfg.nGroup > 1 || cfg.correctionBias))
    return makeError(cfg, "grouping and a correction bias need scores "
                          "before top-k");
  if (cfg.normalization == Normalization::PNorm &&
      !(cfg.normP > 0.0 && std::isfinite(cfg.normP)))
    return makeError(cfg, "normP must be positive and finite");
  if (!(cfg.normMin >= 0.0 && std::isfinite(cfg.normMin)) ||
      !(cfg.jitterEps >= 0.0 && std::isfinite(cfg.jitterEps)))
    return makeError(cfg, "normMin and jitterEps must be finite and >= 0");
  if (!(cfg.normEpsilon >= 0.0 && std::isfinite(cfg.normEpsilon)) ||
      !(cfg.scalingFactor > 0.0 && std::isfinite(cfg.scalingFactor)))
    return makeError(cfg, "normEpsilon must be >= 0 and scalingFactor > 0");
  if (cfg.activation == Activation::SwigluOai &&
      !(std::isfinite(cfg.alpha) && cfg.limit > 0.0 &&
        std::isfinite(cfg.limit)))
    return makeError(cfg, "swiglu_oai needs finite alpha and limit > 0");
  if (cfg.sharedSigmoidGate && cfg.sharedIntermediate == 0)
    return makeError(cfg, "a shared gate needs a shared expert");

  bool kernel = names.store == ExpertStore::Kernel;
  auto lacks = [&](llvm::StringRef what) {
    return makeError(cfg,
                     llvm::Twine("the family's checkpoints have no ") + what);
  };
  if (cfg.routerBias && names.routerBias.empty())
    return lacks("router bias");
  if (cfg.correctionBias && names.correctionBias.empty())
    return lacks("correction bias");
  if (cfg.expertBias && !names.expertBias)
    return lacks("expert biases");
  if (cfg.sharedIntermediate > 0 && names.shared.empty() && !kernel)
    return lacks("shared expert");
  if (cfg.sharedSigmoidGate && names.sharedGate.empty())
    return lacks("shared expert gate");
  if (cfg.activation == Activation::Relu && !kernel)
    return lacks("ungated (relu) expert layout");
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Strided views of the weights in their stored layout
//===----------------------------------------------------------------------===//

/// Matrix (row, col) of expert e: base[e][row * rowStride + col * colStride].
struct MatrixView {
  std::vector<const float *> base;
  int64_t rowStride = 0;
  int64_t colStride = 0;

  double at(int64_t e, int64_t row, int64_t col) const {
    return base[e][row * rowStride + col * colStride];
  }
};

/// Vector entry i of expert e, or 0 when the tensor does not exist.
struct VectorView {
  std::vector<const float *> base;
  int64_t stride = 1;

  double at(int64_t e, int64_t i) const {
    return base.empty() ? 0.0 : base[e][i * stride];
  }
};

/// A stack of FFNs: gate and up are [I, H] (row = intermediate unit),
/// down is [H, I] (row = output feature).
struct FfnView {
  int64_t inter = 0;
  bool gated = true;
  MatrixView gate, up, down;
  VectorView gateBias, upBias, downBias;
};

struct LayerView {
  const float *router = nullptr;         // [E, H]
  const float *routerBias = nullptr;     // [E]
  const float *correctionBias = nullptr; // [E]
  FfnView experts;
  std::optional<FfnView> shared;
  const float *sharedGate = nullptr; // [H]
};

/// Looks tensors up by name under the layer's prefix, checking shapes, and
/// collects every problem so a whole naming mismatch is reported at once.
class Lookup {
public:
  Lookup(const TensorMap &hf, std::string prefix)
      : hf(hf), prefix(std::move(prefix)) {}

  const float *get(const llvm::Twine &suffix,
                   std::vector<int64_t> expectedShape) {
    std::string name = prefix + suffix.str();
    auto it = hf.find(name);
    if (it == hf.end()) {
      problem("tensor '" + name + "': missing (expected shape " +
              shapeText(expectedShape) + ")");
      return nullptr;
    }
    const HostTensor &tensor = it->second;
    if (tensor.shape != expectedShape) {
      problem("tensor '" + name + "': expected shape " +
              shapeText(expectedShape) + ", got " + shapeText(tensor.shape));
      return nullptr;
    }
    int64_t count = 1;
    for (int64_t dim : tensor.shape)
      count *= dim;
    if (static_cast<int64_t>(tensor.data.size()) != count) {
      problem("tensor '" + name + "': shape " + shapeText(tensor.shape) +
              " but " + std::to_string(tensor.data.size()) + " values");
      return nullptr;
    }
    return tensor.data.data();
  }

  bool failed() const { return !problems.empty(); }
  const std::string &text() const { return problems; }

private:
  static std::string shapeText(llvm::ArrayRef<int64_t> shape) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << "[";
    llvm::interleaveComma(shape, os);
    os << "]";
    return text;
  }
  void problem(const std::string &message) {
    problems += (problems.empty() ? "" : "\n") + message;
  }

  const TensorMap &hf;
  std::string prefix;
  std::string problems;
};

/// Separate [I, H] gate, [I, H] up and [H, I] down tensors per FFN.
FfnView separateFfn(Lookup &lookup, llvm::ArrayRef<std::string> gates,
                    llvm::ArrayRef<std::string> ups,
                    llvm::ArrayRef<std::string> downs, int64_t h,
                    int64_t inter) {
  FfnView f;
  f.inter = inter;
  f.gate.rowStride = f.up.rowStride = h;
  f.gate.colStride = f.up.colStride = 1;
  f.down.rowStride = inter;
  f.down.colStride = 1;
  for (size_t x = 0; x < gates.size(); ++x) {
    f.gate.base.push_back(lookup.get(gates[x], {inter, h}));
    f.up.base.push_back(lookup.get(ups[x], {inter, h}));
    f.down.base.push_back(lookup.get(downs[x], {h, inter}));
  }
  return f;
}

/// Our kernel layout: gate_up [n, G, H] (gate rows first when gated),
/// down [n, H, I], optional biases [n, G] and [n, H]. `lead` is empty for
/// the single shared expert.
FfnView kernelFfn(Lookup &lookup, llvm::StringRef gateUpName,
                  llvm::StringRef downName, llvm::StringRef gateUpBiasName,
                  llvm::StringRef downBiasName, std::vector<int64_t> lead,
                  int64_t h, int64_t inter, bool gated) {
  int64_t count = lead.empty() ? 1 : lead[0];
  int64_t rows = gated ? 2 * inter : inter;
  auto shape = [&](std::vector<int64_t> tail) {
    std::vector<int64_t> full = lead;
    full.insert(full.end(), tail.begin(), tail.end());
    return full;
  };
  FfnView f;
  f.inter = inter;
  f.gated = gated;
  const float *gu = lookup.get(gateUpName, shape({rows, h}));
  const float *dn = lookup.get(downName, shape({h, inter}));
  const float *gub = gateUpBiasName.empty()
                         ? nullptr
                         : lookup.get(gateUpBiasName, shape({rows}));
  const float *dnb =
      downBiasName.empty() ? nullptr : lookup.get(downBiasName, shape({h}));
  if (lookup.failed())
    return f;
  f.gate.rowStride = f.up.rowStride = h;
  f.gate.colStride = f.up.colStride = 1;
  f.down.rowStride = inter;
  f.down.colStride = 1;
  for (int64_t x = 0; x < count; ++x) {
    const float *block = gu + x * rows * h;
    // Relu's gate_up holds the up rows only; the gate view stays unused.
    f.gate.base.push_back(block);
    f.up.base.push_back(gated ? block + inter * h : block);
    f.down.base.push_back(dn + x * h * inter);
    if (gub) {
      f.gateBias.base.push_back(gub + x * rows);
      f.upBias.base.push_back(gated ? gub + x * rows + inter : gub + x * rows);
    }
    if (dnb)
      f.downBias.base.push_back(dnb + x * h);
  }
  return f;
}

/// Views `f` (its inter already set) on gpt-oss's and Llama 4's experts:
/// gate_up_proj [E, H, 2I] used as
/// x @ W, element (h, c) of expert e at e*H*2I + h*2I + c; gpt-oss's gate
/// unit j is column 2j and its up unit column 2j+1 (`interleaved`), Llama
/// 4's are columns j and I+j. down_proj [E, I, H] is used as act @ W:
/// output h reads column h.
void bindFusedGateUpFfn(Lookup &lookup, const LayerConfig &cfg,
                        bool interleaved, FfnView &f) {
  const int64_t e = cfg.numExperts, h = cfg.hidden, i = cfg.intermediate;
  const float *gu = lookup.get("experts.gate_up_proj", {e, h, 2 * i});
  const float *dn = lookup.get("experts.down_proj", {e, i, h});
  const float *gub = nullptr, *dnb = nullptr;
  if (cfg.expertBias) {
    gub = lookup.get("experts.gate_up_proj_bias", {e, 2 * i});
    dnb = lookup.get("experts.down_proj_bias", {e, h});
  }
  if (lookup.failed())
    return;
  f.gate.rowStride = f.up.rowStride = interleaved ? 2 : 1;
  f.gate.colStride = f.up.colStride = 2 * i;
  f.down.rowStride = 1;
  f.down.colStride = h;
  for (int64_t x = 0; x < e; ++x) {
    const float *block = gu + x * h * 2 * i;
    f.gate.base.push_back(block);
    f.up.base.push_back(interleaved ? block + 1 : block + i);
    f.down.base.push_back(dn + x * i * h);
    if (gub) {
      f.gateBias.stride = f.upBias.stride = interleaved ? 2 : 1;
      f.gateBias.base.push_back(gub + x * 2 * i);
      f.upBias.base.push_back(interleaved ? gub + x * 2 * i + 1
                                          : gub + x * 2 * i + i);
    }
    if (dnb)
      f.downBias.base.push_back(dnb + x * h);
  }
}

/// Views `f` (its inter already set) on DBRX's experts: w1, v1, w2 are [E*I,
/// H]; expert e owns rows e*I..e*I+I-1 of each. DBRX computes (act(x w1_e^T) *
/// (x v1_e^T)) @ w2_e, so w2_e is the transposed down projection: output h
/// reads column h of w2_e.
void bindDbrxFfn(Lookup &lookup, int64_t e, int64_t h, int64_t i, FfnView &f) {
  const float *w1 = lookup.get("experts.mlp.w1", {e * i, h});
  const float *v1 = lookup.get("experts.mlp.v1", {e * i, h});
  const float *w2 = lookup.get("experts.mlp.w2", {e * i, h});
  if (lookup.failed())
    return;
  f.gate.rowStride = f.up.rowStride = h;
  f.gate.colStride = f.up.colStride = 1;
  f.down.rowStride = 1;
  f.down.colStride = h;
  for (int64_t x = 0; x < e; ++x) {
    f.gate.base.push_back(w1 + x * i * h);
    f.up.base.push_back(v1 + x * i * h);
    f.down.base.push_back(w2 + x * i * h);
  }
}

llvm::Expected<LayerView> bindWeights(const LayerConfig &cfg,
                                      const FamilyNames &names,
                                      const TensorMap &hf) {
  const int64_t e = cfg.numExperts, h = cfg.hidden, i = cfg.intermediate;
  const int64_t is = cfg.sharedIntermediate;
  std::string prefix = (llvm::Twine(names.head) + llvm::Twine(cfg.layer) + "." +
                        names.module + ".")
                           .str();
  Lookup lookup(hf, prefix);
  LayerView view;
  view.router = lookup.get(names.router, {e, h});
  if (cfg.routerBias)
    view.routerBias = lookup.get(names.routerBias, {e});
  if (cfg.correctionBias)
    view.correctionBias =
        lookup.get(names.correctionBias, names.correctionBiasRow
                                             ? std::vector<int64_t>{1, e}
                                             : std::vector<int64_t>{e});

  FfnView &f = view.experts;
  f.inter = i;
  switch (names.store) {
  case ExpertStore::PerExpertW:
  case ExpertStore::PerExpertProj: {
    bool w = names.store == ExpertStore::PerExpertW;
    std::vector<std::string> gates, ups, downs;
    for (int64_t x = 0; x < e; ++x) {
      std::string base = "experts." + std::to_string(x) + ".";
      gates.push_back(base + (w ? "w1.weight" : "gate_proj.weight"));
      ups.push_back(base + (w ? "w3.weight" : "up_proj.weight"));
      downs.push_back(base + (w ? "w2.weight" : "down_proj.weight"));
    }
    f = separateFfn(lookup, gates, ups, downs, h, i);
    break;
  }
  case ExpertStore::GptOss:
  case ExpertStore::Llama4:
    bindFusedGateUpFfn(lookup, cfg, names.store == ExpertStore::GptOss, f);
    break;
  case ExpertStore::Dbrx:
    bindDbrxFfn(lookup, e, h, i, f);
    break;
  case ExpertStore::Granite:
    f = kernelFfn(lookup, "input_linear.weight", "output_linear.weight", "", "",
                  {e}, h, i, /*gated=*/true);
    break;
  case ExpertStore::Kernel:
    f = kernelFfn(lookup, "gate_up", "down",
                  cfg.expertBias ? "gate_up_bias" : "",
                  cfg.expertBias ? "down_bias" : "", {e}, h, i,
                  cfg.activation != Activation::Relu);
    break;
  }

  // Granite's shared MLP is a sibling of the MoE module.
  Lookup layerLookup(
      hf, (llvm::Twine(names.head) + llvm::Twine(cfg.layer) + ".").str());
  if (is > 0) {
    if (names.store == ExpertStore::Granite) {
      std::string s = names.shared.str() + ".";
      view.shared =
          kernelFfn(layerLookup, s + "input_linear.weight",
                    s + "output_linear.weight", "", "", {}, h, is, true);
    } else if (names.store == ExpertStore::Kernel) {
      view.shared = kernelFfn(lookup, "shared_gate_up", "shared_down", "", "",
                              {}, h, is, cfg.activation != Activation::Relu);
    } else {
      std::string s = names.shared.str() + ".";
      view.shared =
          separateFfn(lookup, {s + "gate_proj.weight"}, {s + "up_proj.weight"},
                      {s + "down_proj.weight"}, h, is);
    }
  }
  if (cfg.sharedSigmoidGate)
    view.sharedGate = lookup.get(names.sharedGate, {1, h});

  if (lookup.failed() || layerLookup.failed())
    return makeError(cfg,
                     "bad weight tensors:\n" + lookup.text() +
                         (lookup.failed() && layerLookup.failed() ? "\n" : "") +
                         layerLookup.text());
  return view;
}

//===----------------------------------------------------------------------===//
// The math
//===----------------------------------------------------------------------===//

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

double activate(const LayerConfig &cfg, double g, double u) {
  switch (cfg.activation) {
  case Activation::SiluGlu:
    return g * sigmoid(g) * u;
  case Activation::GeluGlu:
    return 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0))) * u;
  case Activation::SwigluOai: {
    // gpt-oss: only the gate is clamped from above; up is clamped both ways
    // and shifted by one.
    g = std::min(g, cfg.limit);
    u = std::clamp(u, -cfg.limit, cfg.limit);
    return (u + 1.0) * g * sigmoid(cfg.alpha * g);
  }
  case Activation::Relu:
    return std::max(u, 0.0);
  }
  return 0.0;
}

/// FFN number `e` of `f` applied to v [H]; adds scale * result to out [H].
/// The e4m3fn value nearest to `x` (|x| <= 448), ties to the even code:
/// found among the format's 127 finite magnitudes.
double nearestE4M3(double x) {
  static const std::vector<double> magnitudes = [] {
    std::vector<double> m;
    for (int code = 0; code < 127; ++code)
      m.push_back((code >> 3) == 0
                      ? (code & 7) * std::ldexp(1.0, -9)
                      : (8 + (code & 7)) * std::ldexp(1.0, (code >> 3) - 10));
    return m;
  }();
  double a = std::min(std::fabs(x), 448.0);
  size_t hi = std::lower_bound(magnitudes.begin(), magnitudes.end(), a) -
              magnitudes.begin();
  size_t best = hi;
  if (hi == magnitudes.size() ||
      (hi > 0 &&
       (a - magnitudes[hi - 1] < magnitudes[hi] - a ||
        (a - magnitudes[hi - 1] == magnitudes[hi] - a && (hi - 1) % 2 == 0))))
    best = hi - 1;
  return std::copysign(magnitudes[best], x);
}

/// w8a8: `v` quantized per group of `group` values to e4m3 with the
/// group's scale amax / 448 (computed in f32, as the served model does;
/// with `pow2`, rounded up to a power of two, as ue8m0 checkpoints are
/// served), and back.
std::vector<double> fp8Groups(llvm::ArrayRef<double> v, int64_t group,
                              bool pow2) {
  std::vector<double> out(v.size(), 0.0);
  for (size_t first = 0; first < v.size(); first += group) {
    size_t last = std::min(v.size(), first + size_t(group));
    double amax = 0.0;
    for (size_t j = first; j < last; ++j)
      amax = std::max(amax, std::fabs(v[j]));
    if (amax == 0.0)
      continue;
    double s = static_cast<float>(static_cast<float>(amax) / 448.0f);
    if (pow2)
      s = std::exp2(std::ceil(std::log2(s)));
    for (size_t j = first; j < last; ++j)
      out[j] = nearestE4M3(v[j] / s) * s;
  }
  return out;
}

void addFfn(const LayerConfig &cfg, const FfnView &f, int64_t e,
            llvm::ArrayRef<double> input, double scale,
            llvm::MutableArrayRef<double> out) {
  std::vector<double> quantized;
  if (cfg.fp8ActivationGroup)
    quantized = fp8Groups(input, cfg.fp8ActivationGroup, cfg.fp8Pow2Scales);
  llvm::ArrayRef<double> v =
      cfg.fp8ActivationGroup ? llvm::ArrayRef<double>(quantized) : input;
  const int64_t h = static_cast<int64_t>(v.size());
  std::vector<double> hidden(f.inter);
  for (int64_t j = 0; j < f.inter; ++j) {
    double u = f.upBias.at(e, j);
    for (int64_t y = 0; y < h; ++y)
      u += f.up.at(e, j, y) * v[y];
    double g = 0.0;
    if (f.gated) {
      g = f.gateBias.at(e, j);
      for (int64_t y = 0; y < h; ++y)
        g += f.gate.at(e, j, y) * v[y];
    }
    hidden[j] = activate(cfg, g, u);
  }
  if (cfg.fp8ActivationGroup)
    hidden = fp8Groups(hidden, cfg.fp8ActivationGroup, cfg.fp8Pow2Scales);
  for (int64_t y = 0; y < h; ++y) {
    double sum = f.downBias.at(e, y);
    for (int64_t j = 0; j < f.inter; ++j)
      sum += f.down.at(e, y, j) * hidden[j];
    out[y] += scale * sum;
  }
}

/// Indices of the k largest `values`, largest first, ties to the lower
/// index (torch.topk's order on the families' reference hardware). Sets
/// `nearTie` when something is dropped and the smallest kept value beats
/// the largest dropped one by less than `tolerance`.
std::vector<int64_t> topK(llvm::ArrayRef<double> values, int64_t k,
                          double tolerance, bool &nearTie) {
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return values[a] > values[b]; });
  if (k < static_cast<int64_t>(order.size()) &&
      values[order[k - 1]] - values[order[k]] < tolerance)
    nearTie = true;
  order.resize(k);
  return order;
}

struct Routing {
  std::vector<int64_t> experts;
  std::vector<double> weights;
  bool nearTie = false;
};

/// Grouped selection: scores each group of E / nGroup experts of `choice`,
/// keeps the topkGroup best and sets the others' experts to 0.0, as
/// transformers' masked_fill(..., 0.0) does: a dropped expert scores 0.0,
/// which beats a kept expert whose biased score is negative.
void keepBestGroups(const LayerConfig &cfg, std::vector<double> &choice,
                    double tolerance, bool &nearTie) {
  const int64_t e = cfg.numExperts, size = e / cfg.nGroup;
  std::vector<double> groupScores(cfg.nGroup);
  for (int64_t g = 0; g < cfg.nGroup; ++g) {
    llvm::ArrayRef<double> members(choice.data() + g * size, size);
    if (cfg.groupScore == GroupScore::Max) {
      groupScores[g] = *std::max_element(members.begin(), members.end());
    } else {
      bool unused = false;
      std::vector<int64_t> best = topK(members, 2, 0.0, unused);
      groupScores[g] = members[best[0]] + members[best[1]];
    }
  }
  std::vector<int64_t> kept =
      topK(groupScores, cfg.topkGroup, tolerance, nearTie);
  std::vector<bool> keep(cfg.nGroup, false);
  for (int64_t g : kept)
    keep[g] = true;
  for (int64_t r = 0; r < e; ++r)
    if (!keep[r / size])
      choice[r] = 0.0;
}

/// Renormalizes the selected `weights` (cfg.normalization).
void normalize(const LayerConfig &cfg, std::vector<double> &weights) {
  switch (cfg.normalization) {
  case Normalization::None:
    break;
  case Normalization::Sum: {
    double sum = 0.0;
    for (double w : weights)
      sum += w;
    for (double &w : weights)
      w /= std::max(sum, cfg.normMin) + cfg.normEpsilon;
    break;
  }
  case Normalization::PNorm: {
    double sum = 0.0;
    for (double w : weights)
      sum += std::pow(std::abs(w), cfg.normP);
    double norm = std::pow(sum, 1.0 / cfg.normP);
    for (double &w : weights)
      w /= std::max(norm, cfg.normMin) + cfg.normEpsilon;
    break;
  }
  }
}

/// PhiMoE's sparsemixer at inference (transformers' `sparsemixer` with
/// training=False, generalized from its two rounds to k): round j picks the
/// argmax m of the logits without the earlier winners; expert r stays in
/// that round's softmax when (m - l_r) / max(|l_r|, m) <= 2 * jitterEps (a
/// NaN gap, 0 / 0, stays too); the winner's weight is its probability
/// there, exp(0) / sum. A gap within `tolerance` of the threshold marks a
/// near tie: another implementation may put that expert on the other side.
void sparsemixer(const LayerConfig &cfg, llvm::ArrayRef<double> logits,
                 double tolerance, Routing &routing) {
  const int64_t e = static_cast<int64_t>(logits.size());
  std::vector<double> remaining(logits.begin(), logits.end());
  const double threshold = 2.0 * cfg.jitterEps;
  for (int64_t j = 0; j < cfg.topK; ++j) {
    int64_t winner = topK(remaining, 1, tolerance, routing.nearTie)[0];
    double top = remaining[winner];
    double sum = 0.0;
    for (int64_t r = 0; r < e; ++r) {
      if (remaining[r] == -std::numeric_limits<double>::infinity())
        continue;
      double gap = (top - logits[r]) / std::max(std::abs(logits[r]), top);
      // The winner's own gap is 0: not a near tie, even for a tiny epsilon.
      if (r != winner && std::abs(gap - threshold) < tolerance)
        routing.nearTie = true;
      if (!(gap > threshold))
        sum += std::exp(logits[r] - top);
    }
    routing.experts.push_back(winner);
    routing.weights.push_back(1.0 / sum);
    remaining[winner] = -std::numeric_limits<double>::infinity();
  }
}

Routing route(const LayerConfig &cfg, const LayerView &view,
              llvm::ArrayRef<double> x, double tolerance) {
  const int64_t e = cfg.numExperts, h = cfg.hidden, k = cfg.topK;
  std::vector<double> logits(e);
  for (int64_t r = 0; r < e; ++r) {
    double sum = view.routerBias ? view.routerBias[r] : 0.0;
    for (int64_t y = 0; y < h; ++y)
      sum += static_cast<double>(view.router[r * h + y]) * x[y];
    logits[r] = sum;
  }

  Routing routing;
  if (cfg.scoring == Scoring::Sparsemixer) {
    sparsemixer(cfg, logits, tolerance, routing);
  } else if (isAfterTopK(cfg.scoring)) {
    routing.experts = topK(logits, k, tolerance, routing.nearTie);
    for (int64_t r : routing.experts)
      routing.weights.push_back(logits[r]);
    if (cfg.scoring == Scoring::SoftmaxAfterTopK) {
      double top =
          *std::max_element(routing.weights.begin(), routing.weights.end());
      double sum = 0.0;
      for (double &w : routing.weights)
        sum += (w = std::exp(w - top));
      for (double &w : routing.weights)
        w /= sum;
    } else {
      for (double &w : routing.weights)
        w = sigmoid(w);
    }
  } else {
    std::vector<double> scores(e);
    if (cfg.scoring == Scoring::Softmax) {
      double top = *std::max_element(logits.begin(), logits.end());
      double sum = 0.0;
      for (int64_t r = 0; r < e; ++r)
        sum += (scores[r] = std::exp(logits[r] - top));
      for (double &s : scores)
        s /= sum;
    } else {
      for (int64_t r = 0; r < e; ++r)
        scores[r] = sigmoid(logits[r]);
    }
    std::vector<double> choice = scores;
    if (view.correctionBias)
      for (int64_t r = 0; r < e; ++r)
        choice[r] += view.correctionBias[r];

    if (cfg.nGroup > 1)
      keepBestGroups(cfg, choice, tolerance, routing.nearTie);
    routing.experts = topK(choice, k, tolerance, routing.nearTie);
    for (int64_t r : routing.experts)
      routing.weights.push_back(scores[r]);
  }

  normalize(cfg, routing.weights);
  for (double &w : routing.weights)
    w *= cfg.scalingFactor;
  return routing;
}

} // namespace

llvm::Expected<ReferenceResult>
moe::ref::forward(const LayerConfig &cfg, const TensorMap &hf,
                  const HostTensor &x, double tieTolerance, bool routingOnly) {
  const FamilyNames *names = nullptr;
  for (const FamilyNames &candidate : kNames)
    if (candidate.family == cfg.family)
      names = &candidate;
  if (!names)
    return makeError(cfg, "unknown model family '" + cfg.family + "'");
  if (llvm::Error err = validate(cfg, *names))
    return std::move(err);

  const int64_t h = cfg.hidden;
  if (x.shape.size() != 2 || x.shape[1] != h || x.shape[0] < 0 ||
      static_cast<int64_t>(x.data.size()) != x.shape[0] * h) {
    std::string shape;
    llvm::raw_string_ostream os(shape);
    llvm::interleaveComma(x.shape, os);
    return makeError(cfg, "hidden states must be [T, " + llvm::Twine(h) +
                              "] with T*H values, got shape [" + shape +
                              "] with " + llvm::Twine(x.data.size()) +
                              " values");
  }
  TensorMap dequantized;
  if (cfg.weightFormat != WeightFormat::Plain) {
    auto plain = dequantizeCheckpoint(cfg, hf);
    if (!plain)
      return plain.takeError();
    dequantized = std::move(*plain);
  }
  llvm::Expected<LayerView> view = bindWeights(
      cfg, *names, cfg.weightFormat == WeightFormat::Plain ? hf : dequantized);
  if (!view)
    return view.takeError();

  const int64_t tokens = x.shape[0];
  ReferenceResult result;
  result.output.assign(tokens * h, 0.0);
  result.nearTie.assign(tokens, false);
  result.expertTokens.assign(cfg.numExperts, 0);
  std::vector<double> token(h), scaled(h);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t y = 0; y < h; ++y)
      token[y] = x.data[t * h + y];
    llvm::MutableArrayRef<double> out(result.output.data() + t * h, h);
    Routing routing = route(cfg, *view, token, tieTolerance);
    result.nearTie[t] = routing.nearTie;
    for (int64_t expert : routing.experts)
      ++result.expertTokens[expert];
    if (routingOnly)
      continue;
    for (size_t n = 0; n < routing.experts.size(); ++n) {
      double w = routing.weights[n];
      if (cfg.weightOnInput) {
        // Llama 4 scales the expert's input, which differs from scaling
        // its output whenever the FFN is not linear.
        for (int64_t y = 0; y < h; ++y)
          scaled[y] = w * token[y];
        addFfn(cfg, view->experts, routing.experts[n], scaled, 1.0, out);
      } else {
        addFfn(cfg, view->experts, routing.experts[n], token, w, out);
      }
    }
    if (view->shared) {
      double gate = 1.0;
      if (view->sharedGate) {
        double dot = 0.0;
        for (int64_t y = 0; y < h; ++y)
          dot += static_cast<double>(view->sharedGate[y]) * token[y];
        gate = sigmoid(dot);
      }
      addFfn(cfg, *view->shared, 0, token, gate, out);
    }
  }
  return result;
}
