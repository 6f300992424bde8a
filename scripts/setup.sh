#!/usr/bin/env bash
# Installs what moe-opt needs on Debian 12 (LLVM/MLIR 22 from Debian's
# packages and its OpenMP runtime, nlohmann-json, GoogleTest, CMake,
# Ninja; python3-venv and
# python3-torch for the Python package's tests) and builds it in build/.
# Safe to run again: installed packages and an up-to-date build are reused.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools libomp-22-dev
          nlohmann-json3-dev libgtest-dev cmake ninja-build g++
          python3-jsonschema python3-numpy)
# The Python package's venv and tests; without recommends, which would add
# libtorch-dev and its GUI dependencies (a few hundred packages).
lean_packages=(python3-venv python3-torch)
missing() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      echo "$p"
  done
}
mapfile -t missing_packages < <(missing "${packages[@]}")
mapfile -t missing_lean < <(missing "${lean_packages[@]}")
if [ ${#missing_packages[@]} -gt 0 ] || [ ${#missing_lean[@]} -gt 0 ]; then
  echo "== installing: ${missing_packages[*]} ${missing_lean[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  export DEBIAN_FRONTEND=noninteractive
  [ ${#missing_packages[@]} -eq 0 ] ||
    $SUDO apt-get install -y -qq "${missing_packages[@]}" >/dev/null
  [ ${#missing_lean[@]} -eq 0 ] ||
    $SUDO apt-get install -y -qq --no-install-recommends "${missing_lean[@]}" >/dev/null
fi

# MOE_BUILD_DIR and MOE_CMAKE_ARGS select another configuration (the
# sanitizer build uses build-sanitize/ with -DMOE_SANITIZE=ON).
build=${MOE_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  echo "== configuring $build"
  # shellcheck disable=SC2086
  cmake -G Ninja -S . -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit ${MOE_CMAKE_ARGS:-} >/dev/null
fi
echo "== building $build"
ninja -C "$build"
