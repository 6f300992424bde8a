#!/usr/bin/env python3
"""Summarizes the --check figures recorded by bench/tolerance-headroom.sh.

  summarize.py CHECKS.log

CHECKS.log holds blocks that start with `run: ARGS` followed by moe-run's
(or compare_safetensors.py's) output. Prints, per dtype and execution path,
how many checks ran, the largest share of its tolerance any compared token
used (1.0 = at the limit) and the largest error relative to its token's
max|ref|, with the run that reached it. Checks that failed are left out
(the mutation tests fail on purpose) and counted.
"""
import re
import sys

WORST = re.compile(r"worst token \d+ \(max\|ref\| [^)]*\): element \d+ off by "
                   r"\S+ = (\S+) of the token's max\|ref\|, (\S+) of its "
                   r"tolerance")


def path_of(args):
    if args.startswith("crosscheck"):
        return "numpy cross-check"
    if "--target gpu-emulator" in args or "--target=gpu-emulator" in args:
        return "GPU kernels, emulator"
    if "--emitted" in args:
        return ("emitted, emulator" if "cuda-emu" in args
                else "emitted host library")
    if "--tensor-cores" in args:
        return "kernel form, tensor-core"
    if "--unfused" in args:
        return "unfused"
    return "kernel form"


def main():
    blocks, current = [], None
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("run: "):
                current = {"args": line[5:], "lines": []}
                blocks.append(current)
            elif current is not None:
                current["lines"].append(line)
    rows, failed = {}, 0
    for block in blocks:
        text = "\n".join(block["lines"])
        m = WORST.search(text)
        if not m:
            continue
        # Runs that fail on purpose (the mutation tests) are not headroom.
        if re.search(r"^(check: )?FAIL$", text, re.M):
            failed += 1
            continue
        d = re.search(r"\([\w-]+, (f32|f16|bf16)\)", text)
        if d:
            dtype = d.group(1)
        else:
            d = re.search(r"\((F32|F16|BF16) vs", text)
            dtype = d.group(1).lower() if d else "?"
        key = (dtype, path_of(block["args"]))
        rel, share = float(m.group(1)), float(m.group(2))
        row = rows.setdefault(key, {"runs": 0, "share": -1, "rel": -1,
                                    "at": ""})
        row["runs"] += 1
        row["rel"] = max(row["rel"], rel)
        if share > row["share"]:
            row["share"], row["at"] = share, block["args"]
    print("| dtype | path | checks | worst share of tolerance | worst error / token max|ref| |")
    print("|---|---|---|---|---|")
    for (dtype, path), row in sorted(rows.items()):
        print("| %s | %s | %d | %.3g | %.3g |"
              % (dtype, path, row["runs"], row["share"], row["rel"]))
    print()
    print("%d failing checks left out (tests that expect a failure)" % failed)
    for (dtype, path), row in sorted(rows.items()):
        args = re.sub(r"/\S*/", "", row["at"])
        print("worst %s, %s: %s" % (dtype, path, args[:200]))


if __name__ == "__main__":
    main()
