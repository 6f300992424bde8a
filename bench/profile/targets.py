#!/usr/bin/env python3
"""Prints one markdown row per moe-run --profile file, with issue 19's
targets checked (the figures are the emulator's counts and the roofline
model's estimate, docs/emulator-profile.md; no GPU timing):

  targets.py MODEL TOKENS PROFILE.json [MODEL TOKENS PROFILE.json ...]

Expert kernels are the launches whose name holds gate_up or down (the
shared expert's too). Targets, by token count:
  decode (T <= 64): traffic_ratio <= 1.05; in every expert kernel
    global_load_efficiency >= 0.9 and working_blocks >= 132 (an H100's
    SMs); estimate_pct_of_roofline on H100 >= 90;
  prefill (T >= 4096): mma_row_utilisation >= 0.95 and no shared bank
    conflicts in every expert kernel (the profile counts a kernel's
    conflicts, not the fragment loads' alone).
The last column lists each target missed with the value that misses it.
"""
import json
import sys

H100_SMS = 132

# vLLM's fused_moe on Mixtral-8x7B, as issue 19 quotes its published
# figures: the share of the memory floor it reaches.
VLLM = {("mixtral-8x7b", 1): "73% of the memory floor",
        ("mixtral-8x7b", 64): "87% of the memory floor"}


def expert_kernels(profile):
    return [k for k in profile["kernels"]
            if "gate_up" in k["name"] or "down" in k["name"]]


def short(name):
    return name.split("_", 3)[-1]


def misses(tokens, profile):
    layer, experts = profile["layer"], expert_kernels(profile)
    missed = []
    if tokens <= 64:
        if layer["traffic_ratio"] > 1.05:
            missed.append("traffic %.3f" % layer["traffic_ratio"])
        for k in experts:
            if k["global_load_efficiency"] < 0.9:
                missed.append("%s load eff %.3f" % (short(k["name"]),
                                                    k["global_load_efficiency"]))
            if k["working_blocks"] < H100_SMS:
                missed.append("%s %d blocks" % (short(k["name"]),
                                                k["working_blocks"]))
        pct = layer["estimate_pct_of_roofline"]["H100_SXM"]
        if pct < 90:
            missed.append("%.1f%% of roofline" % pct)
    if tokens >= 4096:
        for k in experts:
            if k["mma_row_utilisation"] < 0.95:
                missed.append("%s mma rows %.3f" % (short(k["name"]),
                                                    k["mma_row_utilisation"]))
            if k["shared_bank_conflicts"]:
                missed.append("%s %.2f conflicts/request" % (
                    short(k["name"]),
                    k["shared_bank_conflicts"] / max(1, k["shared_requests"])))
    return missed


def main(argv):
    if not argv or len(argv) % 3:
        sys.exit(__doc__)
    print("| model | T | columns run | active experts | traffic ratio "
          "| expert kernels: least load efficiency | least working blocks "
          "| least mma row utilisation | H100 estimate (us) | % of roofline "
          "| H200 estimate (us) | % of roofline | vLLM published "
          "| targets missed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for model, tokens, path in zip(argv[0::3], argv[1::3], argv[2::3]):
        tokens = int(tokens)
        with open(path) as f:
            profile = json.load(f)
        layer, experts = profile["layer"], expert_kernels(profile)
        sampled = [k for k in profile["kernels"] if "columns_run" in k]
        columns = ("all" if not sampled else ", ".join(
            "%s %d/%d" % (short(k["name"]), k["columns_run"], k["grid"][1])
            for k in sampled))
        print("| %s | %d | %s | %d | %.3f | %.3f | %d | %.4f | %.1f | %.1f "
              "| %.1f | %.1f | %s | %s |"
              % (model, tokens, columns, layer["active_experts"],
                 layer["traffic_ratio"],
                 min(k["global_load_efficiency"] for k in experts),
                 min(k["working_blocks"] for k in experts),
                 min(k["mma_row_utilisation"] for k in experts),
                 layer["estimate_us"]["H100_SXM"],
                 layer["estimate_pct_of_roofline"]["H100_SXM"],
                 layer["estimate_us"]["H200"],
                 layer["estimate_pct_of_roofline"]["H200"],
                 VLLM.get((model, tokens), "-"),
                 "; ".join(misses(tokens, profile)) or "none"))


if __name__ == "__main__":
    main(sys.argv[1:])
