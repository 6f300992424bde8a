#!/usr/bin/env bash
# Tolerance headroom: runs the lit suite with moe-run wrapped so that every
# `--check` records its figures, then lists, per dtype and per path, the
# worst share of its tolerance any compared token used (moe-run --check and
# compare_safetensors.py apply the same per-token rule). The numbers behind
# the tolerance paragraph of docs/cpu-execution.md. Not part of CI.
#
# Usage: bench/tolerance-headroom.sh [LIT_PATH...]   (default: the whole suite)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MOE_BUILD_DIR:-build}
bash scripts/setup.sh >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$work/checks.log"
: >"$log"
touch "$work/start"
for tool in moe-opt moe-translate; do ln -s "$PWD/$build/bin/$tool" "$work/$tool"; done
cat >"$work/moe-run" <<WRAP
#!/usr/bin/env bash
# Runs moe-run and appends its stdout, after a line naming the run, to $log.
out=\$(mktemp)
"$PWD/$build/bin/moe-run" "\$@" >"\$out"
rc=\$?
{ echo "run: \$*"; cat "\$out"; } >>"$log"
cat "\$out"
rm -f "\$out"
exit \$rc
WRAP
chmod +x "$work/moe-run"
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=("$build/test")
/usr/lib/llvm-22/bin/lit -q --param moe_tools_dir="$work" "${paths[@]}" || true
# The cross-checks keep compare_safetensors.py's figures in compare.log.
for f in $(find "$build/test" -name compare.log -newer "$work/start" | sort); do
  dir=$(basename "$(dirname "$f")")
  { echo "run: crosscheck $dir"; cat "$f"; } >>"$log"
done
/usr/bin/python3 bench/tolerance/summarize.py "$log"
