#!/usr/bin/env python3
"""Prints moe-run --profile files as markdown rows, one per kernel launch.

  table.py LABEL PROFILE.json [LABEL PROFILE.json ...]

Columns: the launch's working blocks, DRAM MiB, global load efficiency,
extra shared-memory wavefronts per warp request (bank conflicts), the
mma.sync count (bf16/f16 m16n8k16 + e4m3 m16n8k32), their row
utilisation; then the layer's traffic ratio and the H100 roofline
estimate (an upper bound: docs/emulator-profile.md). No timings: these are
the emulator's counts.
"""
import json
import sys


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        sys.exit(__doc__)
    print("| run | kernel | working blocks | DRAM MiB | global load efficiency "
          "| extra shared wavefronts / request | mma.sync (16-bit + e4m3) "
          "| mma row utilisation | layer traffic ratio | H100 estimate (us) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, path in zip(argv[0::2], argv[1::2]):
        with open(path) as f:
            profile = json.load(f)
        layer = profile["layer"]
        for k in profile["kernels"]:
            requests = k["shared_requests"]
            conflicts = k["shared_bank_conflicts"] / requests if requests else 0.0
            name = k["name"].split("_", 3)[-1]
            mmas = "%d + %d" % (k["mma_count"], k.get("fp8_mma_count", 0))
            print("| %s | %s | %d | %.2f | %.3f | %.2f | %s | %.4f | %.4f "
                  "| %.1f |"
                  % (label, name, k["working_blocks"],
                     k["dram_bytes"] / 2**20, k["global_load_efficiency"],
                     conflicts, mmas, k["mma_row_utilisation"],
                     layer["traffic_ratio"], layer["estimate_us"]["H100_SXM"]))


if __name__ == "__main__":
    main(sys.argv[1:])
