#!/usr/bin/env bash
# Usage: crosscheck.sh [--stress] [--emit MOE_TRANSLATE] MOE_RUN CONFIG LAYER
#                      TOKENS SEED DTYPE OUT_DIR [MOE_RUN_ARGS...]
# An independent tool (hf_numpy_reference.py: numpy, written from the
# transformers code and docs/model-schema.md, reading CONFIG itself) writes
# Hugging Face-named weights, an input and its own expected output; moe-run
# runs the same files (with MOE_RUN_ARGS: --tensor-cores, --target
# gpu-emulator, ...); compare_safetensors.py checks moe-run's output against
# that tool's, skipping the near-tie tokens the tool names.
#   --stress: the tool shapes the router and input to reach ties, dropped
#     groups, negative biases, the swiglu clamp and tokens of very different
#     magnitudes; every token is compared (exact ties go to the lower index
#     on both sides). The tool's `branch:` lines are printed first.
#   --emit MOE_TRANSLATE: the layer runs from `--emit-kernels` output (the
#     host library, through the moert runtime), emitted for TOKENS tokens.
set -euo pipefail
stress=() emit=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stress) stress=(--stress --near-tie 0); shift ;;
    --emit) emit=$2; shift 2 ;;
    *) break ;;
  esac
done
moe_run=$1 config=$2 layer=$3 tokens=$4 seed=$5 dtype=$6 out=$7
shift 7
here=$(dirname "$0")
python=/usr/bin/python3
mkdir -p "$out"
"$python" "$here/hf_numpy_reference.py" "$config" --layer "$layer" \
  --tokens "$tokens" --seed "$seed" --dtype "$dtype" "${stress[@]}" \
  --weights-out "$out/w.safetensors" --input-out "$out/x.safetensors" \
  --expected-out "$out/expected.safetensors" >"$out/ties.log" 2>"$out/tool.log"
[ ${#stress[@]} -eq 0 ] || grep "^branch:" "$out/ties.log"
run=("$moe_run" "$config" --layer "$layer" --weights "$out/w.safetensors" \
  --input "$out/x.safetensors" --output "$out/y.safetensors")
if [ -n "$emit" ]; then
  "$emit" "$config" --emit-kernels "$out/kernels" --no-device-code \
    --tokens "$tokens"
  run+=(--emitted "$out/kernels")
fi
"${run[@]}" "$@" >"$out/moe-run.log"
# The figures are kept in compare.log too (bench/tolerance-headroom.sh).
set +e
"$python" "$here/compare_safetensors.py" "$out/y.safetensors" \
  "$out/expected.safetensors" --dtype "$dtype" \
  --skip-tokens-from "$out/ties.log" >"$out/compare.log"
rc=$?
cat "$out/compare.log"
exit $rc
