#!/usr/bin/env bash
# Decode weight traffic of quantized checkpoints: the same layer as bf16,
# fp8 (128 x 128 block scales) and MXFP4 run through the GPU kernels on the
# SIMT emulator; the emulator counts, per launch, the distinct 32-byte
# sectors read from weight buffers (values and scales). Ratios against
# bf16 in the same run.
#
#   bash bench/quantized-traffic.sh [BUILD_DIR]   (default: build)
#
# Shapes are reduced so that the emulator runs each in seconds; they keep
# the rows 32-byte aligned (H, I multiples of 128) as the real models do.
set -euo pipefail
build=${1:-build}
moe_run=$build/bin/moe-run
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

deepseek='"model_type": "deepseek_v3", "hidden_size": 512, "num_hidden_layers": 2, "n_routed_experts": 16, "num_experts_per_tok": 4, "moe_intermediate_size": 256, "n_shared_experts": 1, "first_k_dense_replace": 1, "n_group": 4, "topk_group": 2, "routed_scaling_factor": 2.5, "norm_topk_prob": true, "scoring_func": "sigmoid", "topk_method": "noaux_tc", "torch_dtype": "bfloat16"'
gptoss='"model_type": "gpt_oss", "hidden_size": 512, "num_hidden_layers": 2, "num_local_experts": 16, "num_experts_per_tok": 4, "intermediate_size": 256, "torch_dtype": "bfloat16"'
fp8=', "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}'
mxfp4=', "quantization_config": {"quant_method": "mxfp4"}'
echo "{$deepseek}" > "$tmp/deepseek-bf16.json"
echo "{$deepseek$fp8}" > "$tmp/deepseek-fp8.json"
echo "{$gptoss}" > "$tmp/gpt-oss-bf16.json"
echo "{$gptoss$mxfp4}" > "$tmp/gpt-oss-mxfp4.json"

bytes() { # CONFIG TOKENS -> weight bytes read, after checking the result
  "$moe_run" "$1" --layer 1 --seed 7 --tokens "$2" --check \
    --target gpu-emulator --chip sm_90 >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; exit 1; }
  grep -q "check: PASS" "$tmp/log"
  sed -n 's/.* \([0-9]*\) weight bytes read$/\1/p' "$tmp/log"
}

echo "| layer (reduced) | tokens | bf16 weight bytes | quantized | bytes | / bf16 |"
echo "|---|---|---|---|---|---|"
for tokens in 1 8; do
  for pair in "deepseek fp8" "gpt-oss mxfp4"; do
    set -- $pair
    plain=$(bytes "$tmp/$1-bf16.json" "$tokens")
    quant=$(bytes "$tmp/$1-$2.json" "$tokens")
    ratio=$(awk -v q="$quant" -v p="$plain" 'BEGIN { printf "%.3f", q / p }')
    echo "| $1 | $tokens | $plain | $2 | $quant | $ratio |"
  done
done
