#!/usr/bin/env bash
# Installs what moe-opt needs on Debian 12 (LLVM/MLIR 22 from Debian's
# packages, nlohmann-json, GoogleTest, CMake, Ninja) and builds it in build/.
# Safe to run again: installed packages and an up-to-date build are reused.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
          nlohmann-json3-dev libgtest-dev cmake ninja-build g++
          python3-jsonschema python3-numpy)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
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
