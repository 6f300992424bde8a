#!/usr/bin/env bash
# Issue 19's table: the emulator's profile of one MoE layer of five models
# at several token counts, with the targets checked (bench/profile/
# targets.py) and vLLM's published figures beside ours. Counts from the
# SIMT emulator and the roofline model's estimate: no GPU timing.
#
#   bash bench/run-gpu-model.sh [--build DIR] [--chip sm_90] [--out DIR]
#                               [--models "a b"] [--tokens "1 8 64 512 4096"]
#
# Models: mixtral-8x7b, qwen3-30b-a3b, deepseek-v3, gpt-oss-120b,
# llama-4-scout. Every layer has its model's full per-expert shapes; two
# have fewer experts than the model, because moe-run holds every expert's
# weights in host memory (as f32 for the reference, packed for the
# kernels), which 24 GiB cannot for all 256 of DeepSeek-V3 or 128 of
# gpt-oss-120b:
#   deepseek-v3: 32 of 256 routed experts (n_group 8, top-4 groups, top-8:
#     the same routing steps over groups of 4), fp8 block-scaled weights;
#   gpt-oss-120b: 32 of 128 experts, which is gpt-oss-20b's layer.
# At 1 token they read the same bytes in the same blocks as the full
# model; from 8 tokens on, fewer distinct experts are active than with the
# full expert count (the table's active experts column says how many).
#
# Token counts past 1 run every S-th column of blocks of the expert
# kernels and scale the counts (--profile-column-stride, docs/
# emulator-profile.md): S = 8 up to 64 tokens, 32 at 512, 128 beyond (at
# most grid y - 1). At 1 token every block runs and the output is checked
# against the fp64 reference.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
chip=sm_90
out=
models="mixtral-8x7b qwen3-30b-a3b deepseek-v3 gpt-oss-120b llama-4-scout"
tokens="1 8 64 512 4096"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --chip) chip=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
  esac
done
if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

# MODEL -> "CONFIG LAYER", writing reduced configs into $out.
config_of() {
  local inputs=$root/test/Import/Inputs
  case "$1" in
    mixtral-8x7b) echo "$root/examples/mixtral-8x7b.config.json 0" ;;
    qwen3-30b-a3b) echo "$inputs/qwen3-30b-a3b.config.json 0" ;;
    deepseek-v3)
      /usr/bin/python3 - "$inputs/deepseek-v3.config.json" \
        "$out/deepseek-v3-32-experts.config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["n_routed_experts"] = 32
json.dump(config, open(sys.argv[2], "w"), indent=2)
PY
      echo "$out/deepseek-v3-32-experts.config.json 3" ;;
    gpt-oss-120b) echo "$inputs/gpt-oss-20b.config.json 0" ;;
    llama-4-scout) echo "$root/examples/llama-4-scout.config.json 0" ;;
    *) echo "unknown model '$1'" >&2; exit 2 ;;
  esac
}

stride_of() {
  if [ "$1" -le 1 ]; then echo 1
  elif [ "$1" -le 64 ]; then echo 8
  elif [ "$1" -le 512 ]; then echo 32
  else echo 128
  fi
}

rows=()
for model in $models; do
  read -r config layer <<<"$(config_of "$model")"
  for t in $tokens; do
    stride=$(stride_of "$t")
    mode=(--check)
    [ "$stride" -gt 1 ] && mode=(--profile-column-stride "$stride")
    profile=$out/$model.$chip.T$t.json
    start=$(date +%s)
    "$build/bin/moe-run" "$config" --layer "$layer" --seed 1 --tokens "$t" \
      --target gpu-emulator --chip "$chip" "${mode[@]}" \
      --profile "$profile" >"$out/$model.$chip.T$t.log" 2>&1 ||
      { cat "$out/$model.$chip.T$t.log" >&2; exit 1; }
    echo "$model T=$t: $(($(date +%s) - start)) s" >&2
    rows+=("$model" "$t" "$profile")
  done
done
/usr/bin/python3 "$root/bench/profile/targets.py" "${rows[@]}"
