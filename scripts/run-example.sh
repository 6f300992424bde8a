#!/usr/bin/env bash
# The main job on a bundled example: import a real model description
# (Mixtral-8x7B's Hugging Face config.json), verify it, decompose each MoE
# layer into router / gate / dispatch / experts / combine, and export it back
# to moe-opt's own schema. Installs and builds first.
#
# Usage: scripts/run-example.sh [MODEL.json]   (default: examples/mixtral-8x7b.config.json)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

model=${1:-examples/mixtral-8x7b.config.json}
out=build/example
mkdir -p "$out"
name=$(basename "$model" .json)

echo "== $model -> moe dialect ($out/$name.mlir)"
build/bin/moe-translate --import-moe-json "$model" -o "$out/$name.mlir"
cat "$out/$name.mlir"

echo "== moe-opt --moe-prepare ($out/$name.prepared.mlir)"
build/bin/moe-opt "$model" --moe-prepare -o "$out/$name.prepared.mlir"
cat "$out/$name.prepared.mlir"

echo "== exported in moe-opt's schema ($out/$name.moe.json)"
build/bin/moe-translate --export-moe-json "$out/$name.mlir" -o "$out/$name.moe.json"
cat "$out/$name.moe.json"
echo "== ok"
