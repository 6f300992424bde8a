#!/usr/bin/env bash
# Usage: crosscheck.sh MOE_RUN CONFIG LAYER TOKENS SEED DTYPE OUT_DIR
# An independent tool (hf_numpy_reference.py: numpy, written from the
# transformers code) writes Hugging Face-named weights, an input and its own
# expected output; moe-run runs the same files; compare_safetensors.py
# checks moe-run's output against that tool's, skipping the near-tie tokens
# the tool names.
set -euo pipefail
moe_run=$1 config=$2 layer=$3 tokens=$4 seed=$5 dtype=$6 out=$7
here=$(dirname "$0")
python=/usr/bin/python3
mkdir -p "$out"
"$python" "$here/hf_numpy_reference.py" "$config" --layer "$layer" \
  --tokens "$tokens" --seed "$seed" --dtype "$dtype" \
  --weights-out "$out/w.safetensors" --input-out "$out/x.safetensors" \
  --expected-out "$out/expected.safetensors" >"$out/ties.log" 2>/dev/null
"$moe_run" "$config" --layer "$layer" --weights "$out/w.safetensors" \
  --input "$out/x.safetensors" --output "$out/y.safetensors" >/dev/null
"$python" "$here/compare_safetensors.py" "$out/y.safetensors" \
  "$out/expected.safetensors" --dtype "$dtype" --skip-tokens-from "$out/ties.log"
