#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang and runs each for a
# bounded time. Fails on any crash, leak, timeout, out-of-memory, sanitizer
# report or broken invariant, and on any regression input that still fails.
# Ends with "N passed, N failed", counting targets.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  fuzzing time per target (default 60)
#   TARGET   import-json, safetensors, mlir, manifest (default: all four)
#
# Environment:
#   MOE_FUZZ_BUILD  build folder (default build-fuzz/)
#   MOE_FUZZ_CC, MOE_FUZZ_CXX  the clang to use (default: clang/clang++,
#                   installed with Debian's libFuzzer runtime when missing)
#   MOE_FUZZ_ARGS   extra libFuzzer flags for the fuzzing runs
#
# Each run fuzzes a copy of the committed seed corpus fuzz/corpus/TARGET/
# (under BUILD/fuzz-work/TARGET/corpus; the repository is never written) with
# the dictionary fuzz/dicts/TARGET.dict. The inputs in fuzz/regressions/
# TARGET/ (fixed crashers) are first run once each as plain inputs. Crash
# reproducers go to BUILD/fuzz-artifacts/TARGET/; replay one with
#   BUILD/bin/moe-fuzz-TARGET FILE    (MOE_FUZZ_VERBOSE=1 shows diagnostics)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-60}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [import-json|safetensors|mlir|manifest ...]" >&2
  exit 2
fi
all_targets=(import-json safetensors mlir manifest)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  case " ${all_targets[*]} " in
    *" $t "*) ;;
    *) echo "fuzz.sh: unknown target '$t' (expected: ${all_targets[*]})" >&2
       exit 2 ;;
  esac
done

build=${MOE_FUZZ_BUILD:-build-fuzz}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
cc=${MOE_FUZZ_CC:-clang}
cxx=${MOE_FUZZ_CXX:-clang++}

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  echo "== installing: $*"
  $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# The project's own dependencies (LLVM/MLIR 22, ...) come from setup.sh.
if [ ! -f /usr/lib/llvm-22/lib/cmake/mlir/MLIRConfig.cmake ] ||
   ! command -v cmake >/dev/null || ! command -v ninja >/dev/null ||
   [ ! -f /usr/include/nlohmann/json.hpp ]; then
  echo "== LLVM/MLIR 22 or the build tools are missing: running scripts/setup.sh"
  bash scripts/setup.sh || exit 1
fi

# A clang whose libFuzzer, ASan and UBSan runtimes are installed. Debian
# ships the runtimes apart from the compiler (libclang-rt-N-dev).
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
clang_works() {
  command -v "$cxx" >/dev/null 2>&1 || return 1
  printf '%s\n' 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char *, unsigned long) { return 0; }' \
    >"$probe_dir/probe.cpp"
  "$cxx" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cpp" \
    -o "$probe_dir/probe" >"$probe_dir/probe.log" 2>&1
}
if ! clang_works; then
  if [ -n "${MOE_FUZZ_CXX:-}" ]; then
    echo "fuzz.sh: $cxx cannot build a libFuzzer target:" >&2
    cat "$probe_dir/probe.log" >&2
    exit 1
  fi
  # clang (Debian's default version) and the matching runtimes; for a
  # versioned clang++-N that is present, libclang-rt-N-dev.
  packages=(clang libclang-rt-dev)
  version=$("$cxx" --version 2>/dev/null | grep -oE 'clang version [0-9]+' | grep -oE '[0-9]+$' || true)
  [ -n "$version" ] && packages=("clang-$version" "libclang-rt-$version-dev")
  apt_install "${packages[@]}" || exit 1
  if ! clang_works; then
    echo "fuzz.sh: $cxx still cannot build a libFuzzer target:" >&2
    cat "$probe_dir/probe.log" >&2
    exit 1
  fi
fi
echo "== compiler: $("$cxx" --version | head -1)"

# Symbolized stack traces in the reports.
for s in /usr/lib/llvm-22/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
  if [ -n "$s" ] && [ -x "$s" ]; then
    export ASAN_SYMBOLIZER_PATH="$s"
    break
  fi
done

if [ ! -f "$build/build.ninja" ]; then
  echo "== configuring $build"
  cmake -G Ninja -S . -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
    -DMOE_BUILD_TESTS=OFF -DMOE_BUILD_FUZZERS=ON >/dev/null || exit 1
fi
echo "== building in $build"
binaries=()
for t in "${targets[@]}"; do binaries+=("moe-fuzz-$t"); done
ninja -C "$build" "${binaries[@]}" || exit 1

# The first line of a libFuzzer log that says what went wrong.
classify() {
  local log=$1
  if grep -q "==moe-fuzz== invariant broken" "$log"; then echo "INVARIANT BROKEN"
  elif grep -q "ERROR: LeakSanitizer" "$log"; then echo "LEAK"
  elif grep -q "ERROR: libFuzzer: timeout" "$log"; then echo "TIMEOUT"
  elif grep -qE "ERROR: libFuzzer: (out-of-memory|malloc limit)" "$log"; then echo "OUT OF MEMORY"
  elif grep -q "runtime error:" "$log"; then echo "UNDEFINED BEHAVIOR"
  elif grep -q "ERROR: AddressSanitizer" "$log"; then echo "ADDRESS SANITIZER"
  elif grep -qE "ERROR: libFuzzer: (deadly signal|fuzz target exited)" "$log"; then echo "CRASH"
  else echo "FAILED"
  fi
}
# The report itself: the sanitizer's or invariant's message and top frames.
excerpt() {
  grep -m1 -A18 -E "==moe-fuzz== invariant broken|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:" "$1" |
    grep -vE "^ *#[0-9]+ .* in (fuzzer::|main |__libc_start|_start)" | head -20 | sed 's/^/    /'
}
sanitizer_report() {
  grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==moe-fuzz==" "$1"
}

failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/bin/moe-fuzz-$t"
  work="$build/fuzz-work/$t"
  artifacts="$build/fuzz-artifacts/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$artifacts"
  cp -R "fuzz/corpus/$t/." "$work/corpus/"
  common=(-timeout=10 -rss_limit_mb=4096 -detect_leaks=1)

  # Regression inputs: each must now run cleanly.
  regressions_failed=0
  regressions_run=0
  if [ -d "fuzz/regressions/$t" ]; then
    for input in "fuzz/regressions/$t"/*; do
      [ -f "$input" ] || continue
      regressions_run=$((regressions_run + 1))
      log="$work/regression-$(basename "$input").log"
      if ! "$bin" "${common[@]}" "$input" >"$log" 2>&1 || sanitizer_report "$log"; then
        regressions_failed=$((regressions_failed + 1))
        echo "== $t: regression input $input: $(classify "$log") (log: $log)"
        excerpt "$log"
      fi
    done
  fi

  echo "== $t: fuzzing for ${seconds}s"
  log="$work/fuzz.log"
  start=$SECONDS
  # shellcheck disable=SC2086
  "$bin" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -dict="fuzz/dicts/$t.dict" -artifact_prefix="$artifacts/" \
    ${MOE_FUZZ_ARGS:-} "$work/corpus" >"$log" 2>&1
  rc=$?
  elapsed=$((SECONDS - start))
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1)
  [ -n "$execs" ] || execs=$(grep -oE "^#[0-9]+" "$log" | tail -1 | tr -d '#')
  status_line=$(grep -E "^#[0-9]+" "$log" | tail -1)
  cov=$(grep -oE "cov: [0-9]+" <<<"$status_line" | grep -oE "[0-9]+")
  features=$(grep -oE "ft: [0-9]+" <<<"$status_line" | grep -oE "[0-9]+")
  corpus_files=$(find "$work/corpus" -type f | wc -l)
  corpus_bytes=$(du -sb "$work/corpus" | cut -f1)
  rss=$(grep -oE "stat::peak_rss_mb: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1)
  fuzz_failed=0
  if [ "$rc" -ne 0 ] || sanitizer_report "$log"; then fuzz_failed=1; fi
  if [ "$fuzz_failed" -eq 0 ]; then
    result="ok"
  else
    result="$(classify "$log") (log: $log)"
    artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //')
    [ -n "$artifact" ] && result+="; reproducer: $artifact"
  fi
  if [ "$regressions_failed" -gt 0 ]; then
    [ "$fuzz_failed" -eq 0 ] && result="REGRESSIONS FAIL" || result+=";"
    result+=" $regressions_failed of $regressions_run regression inputs fail"
  fi
  line="$t: ${execs:-0} executions in ${elapsed}s, corpus ${corpus_files} files / ${corpus_bytes} bytes, coverage ${cov:-?} edges / ${features:-?} features, peak RSS ${rss:-?} MB, ${regressions_run} regression inputs; result: $result"
  echo "== $line"
  [ "$fuzz_failed" -eq 0 ] || excerpt "$log"
  if [ "$fuzz_failed" -ne 0 ] || [ "$regressions_failed" -ne 0 ]; then
    failed=$((failed + 1))
  fi
  summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
# The last line counts targets, in the form .ci/run adds up.
echo "$(( ${#targets[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
