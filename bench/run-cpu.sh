#!/usr/bin/env bash
# CPU benchmark: tokens/s of the layer compiled in the CPU's kernel form
# (moe-select-tiles target=cpu, `moe-run --cpu-form`) against PyTorch's bf16
# per-expert loop (Debian's python3-torch, as Hugging Face writes the block)
# on the same number of threads, the emitted CPU library (moe-translate
# --emit-kernels' "cpu" entry run by moert, on as many threads), the GPU
# kernels' form compiled for the CPU and the plain per-expert loop, with
# the decode's weight bytes per second
# against a STREAM-style copy, all measured in this one run, as ratios.
# Builds first.
#
# Usage: bench/run-cpu.sh [--tokens 1,16,128] [--min-time 0.5] [--threads N]
#                         [MODEL.json...]
#
# --threads N (default: every core): the compiled CPU form's blocks on N
# OpenMP threads (moe-run --cpu-threads), PyTorch and the copy probe on as
# many; the GPU form and the loop stay on one.
#
# Without models: bench/cpu/models/*.json at the token counts, then the
# decode of a full-size layer whose active weights outgrow the caches
# (bench/cpu/models/decode/: Qwen3-30B-A3B's, 128 experts, 75 MB read per
# token of 1.2 GB) at one token.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
build=${MOE_BUILD_DIR:-build}
tokens=1,16,128
min_time=0.5
threads=$(nproc)
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tokens) tokens=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
decode=()
if [ ${#models[@]} -eq 0 ]; then
  models=(bench/cpu/models/*.json)
  decode=(bench/cpu/models/decode/*.json)
fi
# PyTorch gets as many threads as the compiled layer.
torch_rates=$(mktemp)
trap 'rm -f "$torch_rates"' EXIT
/usr/bin/python3 bench/cpu/torch_baseline.py --threads "$threads" \
  --tokens "$tokens" --min-time "$min_time" "${models[@]}" > "$torch_rates"
if [ ${#decode[@]} -gt 0 ]; then
  /usr/bin/python3 bench/cpu/torch_baseline.py --threads "$threads" \
    --tokens 1 --min-time "$min_time" "${decode[@]}" >> "$torch_rates"
fi
echo "# moe-bench-cpu on $(nproc) cores ($threads used): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo unknown), PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
"$build/bin/moe-bench-cpu" --tokens "$tokens" --min-time "$min_time" \
  --cpu-threads "$threads" --torch "$torch_rates" "${models[@]}"
if [ ${#decode[@]} -gt 0 ]; then
  "$build/bin/moe-bench-cpu" --tokens 1 --min-time "$min_time" \
    --cpu-threads "$threads" --torch "$torch_rates" "${decode[@]}" |
    tail -n +4
fi
