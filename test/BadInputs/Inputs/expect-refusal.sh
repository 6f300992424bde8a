#!/usr/bin/env bash
# Usage: expect-refusal.sh MOE_RUN MODEL_JSON DIR
# Writes a tiny f32 Mixtral model to MODEL_JSON, then runs moe-run with every
# DIR/*.safetensors as its weights; each must exit with exactly 1 (an error,
# not a crash or a signal) and print an error line naming the file.
set -u
moe_run=$1 model=$2 dir=$3
cat >"$model" <<'JSON'
{"model_type": "mixtral", "hidden_size": 2, "num_hidden_layers": 1,
 "num_local_experts": 2, "num_experts_per_tok": 1, "intermediate_size": 2,
 "torch_dtype": "float32"}
JSON
status=0
count=0
for file in "$dir"/*.safetensors; do
  count=$((count + 1))
  message=$("$moe_run" "$model" --layer 0 --weights "$file" --seed 1 --tokens 1 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 1 ]; then
    echo "FAIL: $file: exit code $rc"
    status=1
  elif ! echo "$message" | grep -q "moe-run: error: $file: "; then
    echo "FAIL: $file: no error naming the file: $message"
    status=1
  fi
done
[ "$count" -ge 15 ] || { echo "FAIL: only $count files"; exit 1; }
exit $status
