#!/usr/bin/env bash
# Installs, builds and runs every test: the lit suite (FileCheck tests of the
# dialect, importer, passes and tools) and the GoogleTest unit tests. Ends
# with one line, "N passed, N failed", the two suites' counts added.
#
# Usage: scripts/test.sh [--sanitize]
#   --sanitize: the same suites built with ASan + UBSan in build-sanitize/.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  export MOE_BUILD_DIR=build-sanitize MOE_CMAKE_ARGS="-DMOE_SANITIZE=ON -DMOE_BUILD_BENCH=OFF"
  # Leaks of LLVM's and MLIR's own process-lifetime objects are not ours.
  # allow_user_poisoning=0, as the fuzzers have it (fuzz/SanitizerDefaults.cpp):
  # LLVM's BumpPtrAllocator, inlined into our instrumented code, poisons each
  # new slab it starts (MLIR's attribute storage, e.g. #moe.buffer), and the
  # uninstrumented libMLIR.so then allocates from that slab without
  # unpoisoning it: a false use-after-poison, not a bug of ours.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:allow_user_poisoning=0"
  export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
build=${MOE_BUILD_DIR:-build}
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

lit_log=$(mktemp)
gtest_log=$(mktemp)
trap 'rm -f "$lit_log" "$gtest_log"' EXIT

echo "== lit"
/usr/lib/llvm-22/bin/lit -sv "$build/test" 2>&1 | tee "$lit_log"
lit_rc=${PIPESTATUS[0]}

echo "== unit tests"
: >"$gtest_log"
gtest_rc=0
for binary in "$build"/bin/Moe*Tests; do
  "$binary" --gtest_brief=1 2>&1 | tee -a "$gtest_log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || gtest_rc=$rc
done

# lit prints "  Passed: N" and, when any, "  Failed: N" / "  Unexpectedly Passed: N",
# padded before the colon when another category (Unsupported) is longer.
count() {
  local n
  n=$(grep -E "^ *$1 *: *[0-9]+" "$lit_log" | grep -oE "[0-9]+" | head -1)
  echo "${n:-0}"
}
lit_passed=$(count "Passed")
lit_failed=$(( $(count "Failed") + $(count "Unexpectedly Passed") + $(count "Timed Out") ))
# GoogleTest prints "[  PASSED  ] N tests." and "[  FAILED  ] N tests, listed below:".
sum() { grep -oE "$1" "$gtest_log" | grep -oE "[0-9]+" | awk '{s += $1} END {print s + 0}'; }
gtest_passed=$(sum "\[  PASSED  \] [0-9]+")
gtest_failed=$(sum "\[  FAILED  \] [0-9]+ tests?,")
passed=$(( lit_passed + gtest_passed ))
failed=$(( lit_failed + gtest_failed ))
# A suite that crashed before printing its summary still counts as a failure.
if [ "$lit_rc" -ne 0 ] && [ "$lit_failed" -eq 0 ]; then failed=$(( failed + 1 )); fi
if [ "$gtest_rc" -ne 0 ] && [ "$gtest_failed" -eq 0 ]; then failed=$(( failed + 1 )); fi
echo "lit: $lit_passed passed, $lit_failed failed; unit tests: $gtest_passed passed, $gtest_failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
