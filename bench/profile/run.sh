#!/usr/bin/env bash
# The emulator's profile of a layer's GPU kernels (moe-run --target
# gpu-emulator --profile) at several token counts, as markdown rows
# (bench/profile/table.py). Each run is checked against the fp64 reference
# first; a failing check stops the script.
#
#   bash bench/profile/run.sh [--build DIR] [--chip sm_90] [--fp8-activations]
#                             CONFIG LAYER TOKENS...
#
# e.g. bash bench/profile/run.sh examples/mixtral-reduced.config.json 0 1 64 512
# A full-size layer works too (examples/mixtral-8x7b.config.json: about
# 2.5 min and 13 GB for 1 token on 2 cores); the emulator runs every
# thread, so large token counts of full-size layers take hours.
set -euo pipefail
build=build
chip=sm_90
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --chip) chip=$2; shift 2 ;;
    --fp8-activations) extra+=("$1"); shift ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || { sed -n '2,14p' "$0"; exit 2; }
config=$1 layer=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=()
for tokens in "$@"; do
  "$build/bin/moe-run" "$config" --layer "$layer" --seed 1 --tokens "$tokens" \
    --check --target gpu-emulator --chip "$chip" ${extra[@]+"${extra[@]}"} \
    --profile "$tmp/$tokens.json" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; exit 1; }
  args+=("$(basename "$config" .json) $chip T=$tokens" "$tmp/$tokens.json")
done
/usr/bin/python3 "$(dirname "$0")/table.py" "${args[@]}"
