#!/usr/bin/env bash
# Usage: hf-roundtrip.sh MOE_TRANSLATE CONFIG_DIR TMP_PREFIX
# For every Hugging Face config in CONFIG_DIR: import it, export the IR to
# our schema, import that, and require the two modules to print the same.
set -u
tool=$1 dir=$2 tmp=$3
count=0
for config in "$dir"/*.config.json; do
  "$tool" --import-moe-json "$config" 2>/dev/null >"$tmp.hf.mlir" &&
    "$tool" --export-moe-json "$tmp.hf.mlir" >"$tmp.own.json" &&
    "$tool" --import-moe-json "$tmp.own.json" >"$tmp.own.mlir" &&
    diff "$tmp.hf.mlir" "$tmp.own.mlir" || { echo "FAIL: $config"; exit 1; }
  count=$((count + 1))
done
[ "$count" -gt 0 ] || { echo "FAIL: no configs in $dir"; exit 1; }
echo "roundtripped $count configs"
