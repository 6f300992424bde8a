#!/usr/bin/env bash
# Mutation harness: plants each bug of bench/mutations/LIST (one patch at a
# time) in a scratch clone of HEAD, rebuilds what the patch touches, runs the
# lit suite (and the unit tests when lit misses it) and reports which tests
# caught it. A benchmark, not part of CI: the first build of the scratch
# tree takes as long as a fresh build, each mutation a few minutes.
#
# Usage: bench/mutations/run.sh [--scratch DIR] [--max-failures N]
#                               [--commit REV] [NAME...]
#   DIR defaults to /tmp/moe-mutations (kept between runs, so later runs
#   rebuild only what changed); N (default 3) stops lit after N failures;
#   REV (default HEAD) is the commit whose suite is judged (an older one
#   shows what the suite used to miss).
# Prints a markdown report; bench/results/mutations.md is its last run.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=/tmp/moe-mutations
max_failures=3
commit=HEAD
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scratch) scratch=$2; shift 2 ;;
    --max-failures) max_failures=$2; shift 2 ;;
    --commit) commit=$2; shift 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
list="$repo/bench/mutations/LIST"
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(grep -v '^#' "$list" | cut -f1)
lit=/usr/lib/llvm-22/bin/lit
src="$scratch/src" build="$scratch/build"
head=$(git -C "$repo" rev-parse --verify "$commit^{commit}") || exit 2

# The scratch tree: a clone of HEAD (committed state only).
mkdir -p "$scratch"
[ -d "$src/.git" ] || git clone -q "$repo" "$src"
git -C "$src" fetch -q "$repo" "$head" && git -C "$src" checkout -q -f "$head" ||
  { echo "cannot check out $head in $src"; exit 2; }
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT="$lit" >/dev/null || exit 2
fi

# Runs the suite; prints the failing tests (lit's, then the unit tests').
suite() {
  local log
  log=$(mktemp)
  "$lit" -q --max-failures "$max_failures" "$build/test" >"$log" 2>&1
  sed -n 's/^  MOE :: \(.*\)$/\1/p' "$log"
  if ! grep -q "^  MOE :: " "$log"; then
    ninja -C "$build" >/dev/null 2>&1 || { echo "unit: (the unit tests do not build)"; rm -f "$log"; return; }
    for binary in "$build"/bin/Moe*Tests; do
      "$binary" --gtest_brief=1 2>&1 | sed -n 's/^\[  FAILED  \] \([A-Za-z0-9_]*\.[A-Za-z0-9_]*\).*/unit: \1/p' | sort -u
    done
  fi
  rm -f "$log"
}

echo "# Mutation report"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), suite of $(git -C "$repo" rev-parse --short "$head"), lit stops after $max_failures failures. Command: \`bench/mutations/run.sh${commit:+ --commit $commit}\`"
echo
# The lit suite needs the three tools; the unit tests are built only when
# lit misses a mutation.
tools=(moe-opt moe-translate moe-run)
ninja -C "$build" "${tools[@]}" >/dev/null || { echo "the unmutated tree does not build"; exit 2; }
baseline=$(suite)
if [ -n "$baseline" ]; then
  echo "the unmutated suite fails:"; echo "$baseline"; exit 2
fi
echo "| mutation | bug planted | result | caught by |"
echo "|---|---|---|---|"
caught=0 missed=0
for name in "${names[@]}"; do
  why=$(awk -F'\t' -v n="$name" '$1 == n {print $2}' "$list")
  git -C "$src" checkout -q -f "$head"
  if ! git -C "$src" apply "$repo/bench/mutations/patches/$name.patch"; then
    echo "| $name | $why | patch does not apply | |"; missed=$((missed + 1)); continue
  fi
  if ! ninja -C "$build" "${tools[@]}" >/dev/null 2>&1; then
    echo "| $name | $why | caught | the build |"; caught=$((caught + 1)); continue
  fi
  failures=$(suite)
  if [ -n "$failures" ]; then
    caught=$((caught + 1))
    echo "| $name | $why | caught | $(echo "$failures" | paste -sd, | sed 's/,/, /g') |"
  else
    missed=$((missed + 1))
    echo "| $name | $why | **MISSED** | |"
  fi
done
git -C "$src" checkout -q -f "$head"
echo
echo "$caught caught, $missed missed"
