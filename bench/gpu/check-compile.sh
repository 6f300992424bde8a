#!/usr/bin/env bash
# Compile-only check of bench/gpu, runnable without a GPU: the harness builds
# and links for sm_90 (with the moert runtime when runtime/ exists, else with
# the stub), the shell scripts parse, and the Python files byte-compile.
# Builds into a temporary folder; leaves nothing behind.
# Exit 0: all good; 1: something failed to build; 2: no nvcc here.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$NVCC" ] || { echo "check-compile: nvcc not found"; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
fail() { echo "check-compile: FAIL: $*"; rc=1; }

# -O0 and no CMake: the quickest build of the same sources.
if log=$(bash bench/gpu/build.sh "$tmp/build" --no-cmake -O0 2>&1); then
  last=$(echo "$log" | tail -n 1)
  if [ -f runtime/include/moert/moert.h ] && [ "$last" != "moert: yes" ]; then
    echo "$log"; fail "harness with the moert runtime ($last)"
  fi
  echo "check-compile: harness built ($last)"
else
  echo "$log"; fail "harness build"
fi

for f in bench/gpu/run.sh bench/gpu/build.sh bench/gpu/check-compile.sh; do
  bash -n "$f" || fail "$f does not parse"
done
PY=${PYTHON:-python3}
for f in bench/gpu/torch_reference.py bench/gpu/report.py; do
  PYTHONPYCACHEPREFIX=$tmp/pyc "$PY" -m py_compile "$f" || fail "$f does not compile"
done
[ $rc = 0 ] && echo "check-compile: OK"
exit $rc
