#!/usr/bin/env bash
# Usage: expect-exit-1-and-no-output.sh TOOL [FLAGS...] -- DIR
# Runs `TOOL FLAGS FILE -o FILE.out` for every DIR/*.json and fails unless
# each run exits with exactly 1 (an error, not a crash) and leaves no output
# file behind.
set -u
cmd=()
while [ "$1" != "--" ]; do cmd+=("$1"); shift; done
shift
dir=$1
status=0
count=0
for input in "$dir"/*.json; do
  out="$input.exit-check.out"
  rm -f "$out"
  "${cmd[@]}" "$input" -o "$out" >/dev/null 2>&1
  rc=$?
  count=$((count + 1))
  if [ "$rc" -ne 1 ]; then
    echo "FAIL: $input: exit code $rc, expected 1"
    status=1
  fi
  if [ -e "$out" ]; then
    echo "FAIL: $input: left an output file"
    status=1
  fi
done
[ "$count" -gt 0 ] || { echo "FAIL: no inputs in $dir"; exit 1; }
exit $status
