#!/usr/bin/env bash
# The main job on a bundled example: import a real model description
# (Mixtral-8x7B's Hugging Face config.json), verify it, decompose each MoE
# layer, lower it for the CPU down to the LLVM dialect, export it back to
# moe-opt's own schema; compile it to kernels (cubin and PTX for sm_80 and
# sm_90, a host library, a C header, manifest.json); then compile and run a
# reduced Mixtral layer (same routing, smaller sizes) on the CPU and check it
# against the fp64 reference, as moe-run compiles it, as emitted kernels run
# by the moert runtime's CPU backend, and as the emitted GPU kernels' device
# code (sm_80 and sm_90) run on the SIMT emulator. Installs and builds first.
#
# Usage: scripts/run-example.sh [MODEL.json [REDUCED_MODEL.json]]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

model=${1:-examples/mixtral-8x7b.config.json}
reduced=${2:-examples/mixtral-reduced.config.json}
out=build/example
mkdir -p "$out"
name=$(basename "$model" .json)

echo "== $model -> moe dialect ($out/$name.mlir)"
build/bin/moe-translate --import-moe-json "$model" -o "$out/$name.mlir"
cat "$out/$name.mlir"

echo "== moe-opt --moe-prepare ($out/$name.prepared.mlir)"
build/bin/moe-opt "$model" --moe-prepare -o "$out/$name.prepared.mlir"
cat "$out/$name.prepared.mlir"

echo "== moe-opt --moe-to-llvm-cpu ($out/$name.llvm.mlir)"
build/bin/moe-opt "$model" --moe-to-llvm-cpu -o "$out/$name.llvm.mlir"
grep -c "" "$out/$name.llvm.mlir" | xargs echo "   lines of LLVM dialect:"

echo "== exported in moe-opt's schema ($out/$name.moe.json)"
build/bin/moe-translate --export-moe-json "$out/$name.mlir" -o "$out/$name.moe.json"
cat "$out/$name.moe.json"

echo "== moe-translate --emit-kernels $out/$name.kernels"
build/bin/moe-translate "$model" --emit-kernels "$out/$name.kernels"
ls -l "$out/$name.kernels"

echo "== $reduced: layer 0 compiled and run on the CPU, 16 tokens, checked"
build/bin/moe-run "$reduced" --layer 0 --seed 1 --tokens 16 --check \
  --output "$out/$(basename "$reduced" .json).output.safetensors"

kernels="$out/$(basename "$reduced" .json).kernels"
echo "== $reduced: emitted kernels ($kernels) run by moert's CPU backend, checked"
build/bin/moe-translate "$reduced" --emit-kernels "$kernels" --emulator
build/bin/moe-run "$reduced" --layer 0 --seed 1 --tokens 16 --check \
  --emitted "$kernels"

for chip in sm_80 sm_90; do
  echo "== $reduced: the $chip GPU kernels' device code on the SIMT emulator (moert cuda-emu), checked"
  build/bin/moe-run "$reduced" --layer 0 --seed 1 --tokens 16 --check \
    --emitted "$kernels" --backend cuda-emu --chip "$chip"
done
echo "== ok"
