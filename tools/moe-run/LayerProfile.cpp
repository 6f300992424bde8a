//===- LayerProfile.cpp - moe-run --profile: kernels and a roofline -------===//

#include "LayerProfile.h"

#include "moe/Weights/HfWeights.h"

#include "moe-support/Json.h"

#include <algorithm>

using namespace moe;
using json = nlohmann::ordered_json;

namespace {

/// Spec-sheet peaks (dense bf16 and fp8 tensor-core FLOP/s, HBM bytes/s,
/// SMs; the A100 has no fp8 tensor cores, and the fp8 kernels are built
/// for sm_89+ only: its fp8 rate is the bf16 one, never used). The
/// launch overhead is not on any spec sheet: 3 us is a typical measured
/// figure for a kernel launch with its grid drained, our assumption.
struct Gpu {
  const char *name;
  double bytesPerSecond, flopsPerSecond, fp8FlopsPerSecond;
  unsigned sms;
};
constexpr Gpu kGpus[] = {
    {"H100_SXM", 3.35e12, 989.4e12, 1978.9e12, 132},
    {"H200", 4.8e12, 989.4e12, 1978.9e12, 132},
    {"A100_SXM", 2.039e12, 312e12, 312e12, 108},
};
constexpr double kLaunchOverheadUs = 3.0;
/// One mma.sync m16n8k16: 16 x 8 x 16 multiply-adds; m16n8k32 (fp8)
/// twice as many.
constexpr double kMmaFlops = 2.0 * 16 * 8 * 16;
constexpr double kFp8MmaFlops = 2 * kMmaFlops;

bool isRoutedExpertTensor(const std::string &name) {
  for (const char *n : {"gate_up", "down", "gate_up_scale", "down_scale",
                        "gate_up_bias", "down_bias"})
    if (name == n)
      return true;
  return false;
}

} // namespace

llvm::Expected<std::string>
moe::layerProfileJson(const std::string &kernelsJson,
                      const ref::LayerConfig &cfg, support::DType dtype,
                      int64_t tokens,
                      const std::vector<int64_t> &expertTokens) {
  json root = json::parse(kernelsJson, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.contains("kernels"))
    return llvm::createStringError("the emulator's profile is not JSON");

  int64_t active = std::count_if(expertTokens.begin(), expertTokens.end(),
                                 [](int64_t n) { return n > 0; });
  int64_t routed = 0;
  for (int64_t n : expertTokens)
    routed += n;

  // The least DRAM traffic: each active expert's weights (as stored) once,
  // everything else in the weights once, the activations in and out.
  double minBytes = 2.0 * tokens * cfg.hidden * support::elementSize(dtype);
  for (const weights::TensorSpec &spec : weights::kernelTensorSpecs(cfg)) {
    double elements = 1;
    for (int64_t d : spec.shape)
      elements *= d;
    double bytes =
        elements *
        support::elementSize(spec.storage.value_or(
            spec.name == "correction_bias" ? support::DType::F32 : dtype));
    minBytes += isRoutedExpertTensor(spec.name)
                    ? bytes * active / cfg.numExperts
                    : bytes;
  }
  // Useful FLOPs: the router, each routed token's expert, the shared one.
  double h = cfg.hidden, i = cfg.intermediate, is = cfg.sharedIntermediate;
  bool gated = cfg.activation != ref::Activation::Relu;
  double flops = 2.0 * tokens * h * cfg.numExperts +
                 2.0 * routed * h * i * (gated ? 3 : 2) +
                 2.0 * tokens * h * is * (gated ? 3 : 2) +
                 (cfg.sharedSigmoidGate ? 2.0 * tokens * h : 0.0);

  // mma_row_utilisation: the useful FLOPs of the kernel's expert GEMM over
  // what its mma.syncs execute (padding rows and columns included).
  double dramBytes = 0;
  bool extrapolated = false;
  // A kernel's GEMMs by its name: the routed experts' gate_up or down, the
  // shared expert's (shared_gate_up, shared_down: every token, its own
  // width), or both side by side (moe-fuse-launches: gate_up_shared_gate_up,
  // shared_down_down_combine).
  auto gemmFlops = [&](std::string name, double gemmRows, double width,
                       const std::string &prefix) {
    double useful = 0;
    for (const char *gemm : {"gate_up", "down"}) {
      size_t at = name.find(prefix + gemm);
      if (at == std::string::npos)
        continue;
      useful += std::string(gemm) == "gate_up"
                    ? 2.0 * gemmRows * h * (gated ? 2 * width : width)
                    : 2.0 * gemmRows * width * h;
      name.erase(at, prefix.size() + std::string(gemm).size());
    }
    return std::make_pair(useful, name);
  };
  for (json &k : root["kernels"]) {
    dramBytes += k.value("dram_bytes", 0.0);
    auto [sharedFlops, rest] =
        gemmFlops(k.value("name", ""), tokens, is, "shared_");
    double useful = sharedFlops + gemmFlops(rest, routed, i, "").first;
    extrapolated |= k.contains("columns_run");
    double executed = k.value("mma_count", 0.0) * kMmaFlops +
                      k.value("fp8_mma_count", 0.0) * kFp8MmaFlops;
    k["mma_row_utilisation"] =
        executed > 0 ? std::min(1.0, useful / executed) : 1.0;
  }

  json layer;
  layer["tokens"] = tokens;
  layer["active_experts"] = active;
  layer["min_bytes"] = minBytes;
  layer["dram_bytes"] = dramBytes;
  layer["traffic_ratio"] = minBytes > 0 ? dramBytes / minBytes : 0.0;
  layer["flops"] = flops;
  // Counts scaled from the columns that ran (--profile-column-stride).
  layer["extrapolated"] = extrapolated;
  json estimate, percent;
  for (const Gpu &gpu : kGpus) {
    double us = 0;
    for (const json &k : root["kernels"]) {
      double blocks = k["grid"][0].get<double>() * k["grid"][1].get<double>() *
                      k["grid"][2].get<double>();
      double working = k.value("working_blocks", 0.0);
      // Blocks with work bound how much of the chip a launch uses.
      double share = std::min(1.0, (working > 0 ? working : blocks) / gpu.sms);
      double memory = k.value("dram_bytes", 0.0) / (gpu.bytesPerSecond * share);
      double math =
          (k.value("mma_count", 0.0) * kMmaFlops / gpu.flopsPerSecond +
           k.value("fp8_mma_count", 0.0) * kFp8MmaFlops /
               gpu.fp8FlopsPerSecond) /
          share;
      us += kLaunchOverheadUs + 1e6 * std::max(memory, math);
    }
    double ideal = 1e6 * std::max(minBytes / gpu.bytesPerSecond,
                                  flops / gpu.flopsPerSecond);
    estimate[gpu.name] = us;
    percent[gpu.name] = us > 0 ? 100.0 * ideal / us : 0.0;
  }
  layer["estimate_us"] = std::move(estimate);
  layer["estimate_pct_of_roofline"] = std::move(percent);
  root["layer"] = std::move(layer);
  return root.dump(2) + "\n";
}
