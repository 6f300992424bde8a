#!/usr/bin/env python3
"""Compares a moe-run --profile-column-stride profile with the profile of
the same run with every column: each count of each launch within
--tolerance (relative) of the full one, the sampled launches marked with
columns_run, the layer marked extrapolated. Prints `sampled profile: N
launches (M sampled) within T of the full one` or the first difference
(exit 1)."""
import argparse
import json
import sys

COUNTS = ["working_blocks", "dram_bytes", "requested_global_bytes",
          "global_requests", "global_sectors", "shared_requests",
          "shared_bank_conflicts", "mma_count", "fp8_mma_count", "barriers",
          "atomics"]


def fail(message):
    print("sampled profile: " + message)
    sys.exit(1)


def close(full, sampled, tolerance):
    return abs(sampled - full) <= tolerance * max(abs(full), 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("full")
    parser.add_argument("sampled")
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    with open(args.full) as f:
        full = json.load(f)
    with open(args.sampled) as f:
        sampled = json.load(f)
    if len(full["kernels"]) != len(sampled["kernels"]):
        fail("%d launches, the full run %d" % (len(sampled["kernels"]),
                                                len(full["kernels"])))
    marked = 0
    for a, b in zip(full["kernels"], sampled["kernels"]):
        if "columns_run" in a:
            fail("%s: the full run sampled columns" % a["name"])
        if "columns_run" in b:
            marked += 1
            if not 2 <= b["columns_run"] < b["grid"][1]:
                fail("%s: columns_run %d of %d" % (b["name"], b["columns_run"],
                                                   b["grid"][1]))
        for key in COUNTS:
            if not close(a[key], b[key], args.tolerance):
                fail("%s: %s %d, the full run %d" % (a["name"], key, b[key],
                                                     a[key]))
        for key in ["global_load_efficiency", "mma_row_utilisation"]:
            if not close(a[key], b[key], args.tolerance):
                fail("%s: %s %g, the full run %g" % (a["name"], key, b[key],
                                                     a[key]))
    if not marked:
        fail("no launch ran part of its grid")
    if not sampled["layer"]["extrapolated"] or full["layer"]["extrapolated"]:
        fail("layer.extrapolated is %s, the full run's %s"
             % (sampled["layer"]["extrapolated"],
                full["layer"]["extrapolated"]))
    for gpu, us in full["layer"]["estimate_us"].items():
        if not close(us, sampled["layer"]["estimate_us"][gpu], args.tolerance):
            fail("estimate on %s %g us, the full run %g us"
                 % (gpu, sampled["layer"]["estimate_us"][gpu], us))
    print("sampled profile: %d launches (%d sampled) within %g of the full one"
          % (len(full["kernels"]), marked, args.tolerance))


if __name__ == "__main__":
    main()
