#!/usr/bin/env bash
# Usage: expect-exit-1-and-no-output.sh TOOL [FLAGS...] -- DIR
# Runs `TOOL FLAGS FILE -o FILE.out` for every DIR/*.json and fails unless
# each run exits with exactly 1 (an error, not a crash), says why in a
# diagnostic located in the input (`FILE:LINE:COL: error: ...`) and leaves
# no output file behind. Prints `NAME: <that diagnostic>` per input, so a
# test can check the reasons too.
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
  "${cmd[@]}" "$input" -o "$out" >/dev/null 2>"$out.stderr"
  rc=$?
  count=$((count + 1))
  name=$(basename "$input")
  reason=$(grep -m1 -E "$name:[0-9]+:[0-9]+: error: " "$out.stderr")
  rm -f "$out.stderr"
  if [ -z "$reason" ]; then
    echo "FAIL: $input: no diagnostic located in the input"
    status=1
  else
    echo "$name: ${reason#*"$name":}"
  fi
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
