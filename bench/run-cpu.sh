#!/usr/bin/env bash
# CPU benchmark: tokens/s of the layer compiled by moe-to-llvm-cpu (what
# moe-run runs) against the fp64 reference and the straightforward
# per-expert loop, all in one process, as ratios. Builds first.
#
# Usage: bench/run-cpu.sh [--tokens 1,16,128] [--min-time 0.5] [MODEL.json...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
args=()
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tokens|--min-time) args+=("$1" "$2"); shift 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -gt 0 ] || models=(bench/cpu/models/*.json)
echo "# moe-bench-cpu on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
build/bin/moe-bench-cpu "${args[@]}" "${models[@]}"
