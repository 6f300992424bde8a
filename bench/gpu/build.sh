#!/usr/bin/env bash
# Builds the GPU benchmark harness into DIR (no GPU needed to build):
#   DIR/moe_gpu_bench             with the moert runtime when runtime/ builds,
#                                 else with moert_stub.cpp (baselines only)
#   DIR/rt/lib/libmoert.so        the runtime, built by its own CMake file, or
#                                 with the same flags by c++ where there is no
#                                 cmake (or with --no-cmake)
# usage: bench/gpu/build.sh DIR [--no-cmake] [-O0]
# Last line printed: "moert: yes" or "moert: no (why)". Exit 1 only when the
# harness itself does not build. BUILD_JOBS (default 1) parallel jobs for
# the runtime's CMake build.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
HERE=bench/gpu
dir=${1:?usage: build.sh DIR [--no-cmake] [-O0]}
shift
usecmake=1 opt=-O2
for a in "$@"; do
  case "$a" in
    --no-cmake) usecmake=0 ;;
    -O0) opt=-O0 ;;
    *) echo "build.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || exit 1
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
# nlohmann/json (safetensors headers; the runtime's manifest): the bundle's
# copy on the GPU machine, the system's here.
# /usr/include is searched anyway and must not be named: -I/-isystem
# /usr/include breaks libstdc++'s #include_next <stdlib.h>.
nl_inc=()
nl_sys=()
if [ -f "$HERE/.bundle/include/nlohmann/json.hpp" ]; then
  nl=$(pwd)/$HERE/.bundle/include
  nl_inc=(-I"$nl")
  nl_sys=(-isystem "$nl")
elif [ -f /usr/include/nlohmann/json.hpp ]; then nl=/usr/include
else echo "build.sh: nlohmann/json.hpp not found: run 'bench/gpu/run.sh --prepare-bundle' where it is and carry $HERE/.bundle" >&2; exit 1
fi
nv=("$NVCC" -std=c++17 "$opt" -arch=sm_90 -I"$HERE" -Isupport/include "${nl_inc[@]}")
# The support library (support/: safetensors, dtypes) is built without
# exceptions, as everywhere; nothing it uses of nlohmann leaves its objects.
support=(-std=c++17 "$opt" -fPIC -fno-exceptions -DJSON_NOEXCEPTION -Isupport/include "${nl_sys[@]}")
set -x
# shellcheck disable=SC2015  # any failing step ends the build
"${nv[@]}" -c "$HERE/moe_gpu_bench.cu" -o "$dir/moe_gpu_bench.o" &&
  "${nv[@]}" -c "$HERE/safetensors_io.cpp" -o "$dir/safetensors_io.o" &&
  ${CXX:-c++} "${support[@]}" -c support/lib/DType.cpp -o "$dir/support_dtype.o" &&
  ${CXX:-c++} "${support[@]}" -c support/lib/SafeTensors.cpp -o "$dir/support_safetensors.o" &&
  "${nv[@]}" -c "$HERE/moert_stub.cpp" -o "$dir/moert_stub.o" &&
  "$NVCC" -arch=sm_90 "$dir/moe_gpu_bench.o" "$dir/safetensors_io.o" "$dir"/support_*.o "$dir/moert_stub.o" \
    -lcublas -ldl -o "$dir/moe_gpu_bench" || { set +x; echo "build.sh: harness build failed" >&2; exit 1; }
{ set +x; } 2>/dev/null

if [ ! -f runtime/include/moert/moert.h ]; then echo "moert: no (runtime/ absent)"; exit 0; fi
rt=$dir/rt
rm -rf "$rt" && mkdir -p "$rt/lib"
set -x
if [ $usecmake = 1 ] && command -v cmake >/dev/null; then
  cmake -S runtime -B "$rt" -DCMAKE_BUILD_TYPE=Release -DMOERT_BUILD_TESTS=OFF \
    -DMOE_SUPPORT_NLOHMANN_INCLUDE="$nl" >/dev/null && cmake --build "$rt" --target moert -j "${BUILD_JOBS:-1}"
else
  # The flags of runtime/CMakeLists.txt's moert target.
  ${CXX:-c++} -std=c++17 "$opt" -fPIC -shared -fvisibility=hidden -fvisibility-inlines-hidden \
    -fno-exceptions -DJSON_NOEXCEPTION -Iruntime/include -Isupport/include "${nl_sys[@]}" \
    runtime/lib/*.cpp runtime/lib/*.S support/lib/*.cpp \
    -Wl,--version-script=runtime/lib/moert.map -ldl -o "$rt/lib/libmoert.so"
fi
ok=$?
{ set +x; } 2>/dev/null
if [ $ok != 0 ] || [ ! -f "$rt/lib/libmoert.so" ]; then echo "moert: no (libmoert.so failed to build)"; exit 0; fi
# libmoert.so exports only the C API, so its nlohmann (built without
# exceptions) and the harness's stay apart.
set -x
"${nv[@]}" -Iruntime/include -c "$HERE/moert_adapter.cpp" -o "$dir/moert_adapter.o" &&
  "$NVCC" -arch=sm_90 "$dir/moe_gpu_bench.o" "$dir/safetensors_io.o" "$dir"/support_*.o "$dir/moert_adapter.o" \
    -L"$rt/lib" -lmoert -Xlinker -rpath="$rt/lib" -lcublas -ldl -o "$dir/moe_gpu_bench.moert" &&
  mv "$dir/moe_gpu_bench.moert" "$dir/moe_gpu_bench"
ok=$?
{ set +x; } 2>/dev/null
if [ $ok = 0 ]; then echo "moert: yes"; else echo "moert: no (linking the harness with libmoert failed)"; fi
