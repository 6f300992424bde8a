#!/usr/bin/env bash
# GPU benchmark of the MoE layer (bench/gpu/README.md). Two uses:
#
# Here, on a machine with the compiler (no GPU needed), fill the bundle that
# travels to the GPU machine (ignored by git; carry bench/gpu/.bundle):
#   bench/gpu/run.sh --prepare-bundle [--kernels MODEL=DIR ...]
#     copies nlohmann/json headers and each emitted kernel directory
#     (moe-translate --emit-kernels DIR) to .bundle/kernels/MODEL/.
#
# On the GPU machine (nvcc, PyTorch; no MLIR, no network):
#   bench/gpu/run.sh [--out DIR] [--work DIR] [--models a,b] [--tokens 1,8,...]
#                    [--iters N] [--warmup N] [--kernels MODEL=DIR ...]
#                    [--no-cublas-check]
#   Builds the harness, then for each model: PyTorch HF loop (timed, checked),
#   cuBLAS per-expert GEMMs (timed; the engine variant checked), ours when a
#   kernel directory exists (timed, graph-captured, checked). Writes
#   report.md, report.json, run.log and raw.tgz to --out (default $OUT, else
#   bench/results/gpu-<date>). Models: mixtral-8x7b qwen3-30b-a3b deepseek-v3
#   (and *-tiny shapes for a quick pipeline check).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
HERE=bench/gpu
BUNDLE=$HERE/.bundle
PY=${PYTHON:-python3}
# BENCH_TORCH_DEVICE=cpu runs the PyTorch side on the CPU: only to exercise
# the pipeline on a machine without a GPU (tiny models), never for numbers.

declare -A KDIR=()
prepare=0 checkcublas=1
models=qwen3-30b-a3b,mixtral-8x7b,deepseek-v3   # smallest first: partial runs still report
tokens=1,8,64,512,4096
iters=30 warmup=5
work=/tmp/moe-gpu-bench
out=${OUT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare-bundle) prepare=1; shift ;;
    --kernels) KDIR[${2%%=*}]=${2#*=}; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --no-cublas-check) checkcublas=0; shift ;;
    *) echo "run.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
done

if [ $prepare = 1 ]; then
  mkdir -p "$BUNDLE/include" "$BUNDLE/kernels"
  [ -f /usr/include/nlohmann/json.hpp ] || { echo "run.sh: /usr/include/nlohmann/json.hpp missing" >&2; exit 1; }
  rm -rf "$BUNDLE/include/nlohmann" && cp -r /usr/include/nlohmann "$BUNDLE/include/"
  for m in "${!KDIR[@]}"; do
    [ -f "${KDIR[$m]}/manifest.json" ] || { echo "run.sh: ${KDIR[$m]}/manifest.json missing" >&2; exit 1; }
    rm -rf "$BUNDLE/kernels/$m" && cp -r "${KDIR[$m]}" "$BUNDLE/kernels/$m"
  done
  du -sh "$BUNDLE"; ls "$BUNDLE/kernels"
  echo "carry: $BUNDLE"
  exit 0
fi

[ -n "$out" ] || out=bench/results/gpu-$(date -u +%Y%m%d-%H%M)
mkdir -p "$out" "$work" || exit 1
exec > >(tee -a "$out/run.log") 2>&1
export PYTHONUNBUFFERED=1
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "# bench/gpu/run.sh $(date -u +%Y-%m-%dT%H:%MZ) commit $commit"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# ---- build the harness (with the moert runtime when runtime/ builds)
echo "## build"
bin=$work/build/moe_gpu_bench
buildlog=$(BUILD_JOBS=$(nproc) bash $HERE/build.sh "$work/build" 2>&1) || { echo "$buildlog"; echo "run.sh: harness build failed"; exit 1; }
echo "$buildlog" | tail -n 30
moert=0 moertwhy=$(echo "$buildlog" | tail -n 1)
[ "$moertwhy" = "moert: yes" ] && moert=1

# A step that fails is noted and the run goes on; the report says what ran.
failed=0
step() { # step LIMIT_S NOTEFILE DESCRIPTION CMD...
  local limit=$1 notes=$2 what=$3; shift 3
  echo "## $what"
  timeout "$limit" "$@"; local rc=$?
  if [ $rc != 0 ]; then
    echo "$what: FAILED (exit $rc)" | tee -a "$notes"
    failed=1
  fi
  return $rc
}

echo "## device ceilings"
timeout 120 "$PY" $HERE/torch_reference.py ceilings --out "$work/ceilings.json" || echo "ceilings: failed"

IFS=, read -ra mlist <<< "$models"
for m in "${mlist[@]}"; do
  w=$work/$m
  rm -rf "$w" && mkdir -p "$w"
  notes=$w/notes.txt
  shape=$("$PY" $HERE/torch_reference.py shape-args --model "$m") || { echo "unknown model $m"; continue; }
  layer=$("$PY" $HERE/torch_reference.py default-layer --model "$m")
  kd=${KDIR[$m]:-$BUNDLE/kernels/$m}
  ours=0
  if [ -f "$kd/manifest.json" ]; then
    if [ $moert = 1 ]; then
      # The manifest's first layer and its first decoder layer name the weights.
      if info=$("$PY" - "$kd/manifest.json" "$shape" <<'EOF'
import json, sys
l = json.load(open(sys.argv[1]))["layers"][0]
h = int(sys.argv[2].split("--hidden ")[1].split()[0])
if l["hidden_size"] != h:
    sys.exit(f"manifest hidden_size {l['hidden_size']} != {h}")
print(l["decoder_layers"][0])
EOF
      ); then ours=1; layer=$info
      else echo "ours: $kd/manifest.json does not fit $m ($info); not run" >> "$notes"; fi
    else
      echo "ours: kernel directory present but not run: $moertwhy" >> "$notes"
    fi
  else
    echo "ours: no kernel directory ($kd); baselines only" >> "$notes"
  fi
  ww=()
  [ $ours = 1 ] || [ $checkcublas = 1 ] && ww=(--write-weights)

  step 600 "$notes" "$m: PyTorch reference and HF loop" \
    "$PY" $HERE/torch_reference.py prepare --model "$m" --work "$w" --tokens "$tokens" \
      --layer "$layer" --iters "$iters" --warmup "$warmup" "${ww[@]}" \
      --device "${BENCH_TORCH_DEVICE:-cuda}" || continue
  cw=()
  [ $checkcublas = 1 ] && cw=(--weights "$w/weights.safetensors" --layer "$layer" --out-dir "$w")
  # shellcheck disable=SC2086
  step 600 "$notes" "$m: cuBLAS per-expert GEMMs" \
    "$bin" cublas $shape --tokens "$tokens" --routing-dir "$w" "${cw[@]}" \
      --iters "$iters" --warmup "$warmup" --json "$w/cublas.jsonl"
  [ $checkcublas = 1 ] && step 300 "$notes" "$m: check cuBLAS engine" \
    "$PY" $HERE/torch_reference.py check --work "$w" --impl cublas --tokens "$tokens"
  if [ $ours = 1 ]; then
    # shellcheck disable=SC2086
    step 600 "$notes" "$m: ours (moert)" \
      "$bin" moert $shape --manifest "$kd/manifest.json" --weights "$w/weights.safetensors" \
        --layer "$layer" --tokens "$tokens" --routing-dir "$w" --out-dir "$w" \
        --iters "$iters" --warmup "$warmup" --json "$w/moert.jsonl"
    step 300 "$notes" "$m: check ours" \
      "$PY" $HERE/torch_reference.py check --work "$w" --impl moert --tokens "$tokens"
  fi
  rm -f "$w/weights.safetensors" "$w"/*_*.safetensors   # DeepSeek-V3's are 22.5 GB
  # A report after every model: a run cut short still leaves one.
  "$PY" $HERE/report.py --work "$work" --out "$out" --title "commit $commit" > /dev/null
done

echo "## report"
"$PY" $HERE/report.py --work "$work" --out "$out" --title "commit $commit"
(cd "$work" && tar czf - -- ./ceilings.json ./*/*.json ./*/*.jsonl ./*/notes.txt 2>/dev/null) > "$out/raw.tgz"
echo "# done: report.md, report.json, raw.tgz and run.log in $out; exit $failed (1: some step failed, see the notes)"
exit $failed
