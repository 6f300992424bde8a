#!/usr/bin/env python3
"""Checks a moe-run --profile file (docs/emulator-profile.md): every key
present, the relations between the counts, and the facts given on the
command line. Prints `profile: N launches, every relation holds` or the
first violation (exit 1)."""
import argparse
import json
import sys

KERNEL_KEYS = ["name", "grid", "block", "dynamic_shared_memory",
               "working_blocks", "dram_bytes", "requested_global_bytes",
               "global_requests", "global_sectors", "global_load_efficiency",
               "shared_requests", "shared_bank_conflicts", "mma_count",
               "mma_row_utilisation", "barriers", "atomics", "load_sites"]
LAYER_KEYS = ["tokens", "active_experts", "min_bytes", "dram_bytes",
              "traffic_ratio", "flops", "estimate_us",
              "estimate_pct_of_roofline"]
GPUS = ["H100_SXM", "H200", "A100_SXM"]


def fail(message):
    print("profile: " + message)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--active-experts", type=int, required=True)
    parser.add_argument("--mma-utilisation", type=float)
    # The routed rows (tokens x top-k) of a layer without a shared expert:
    # the expert kernels multiply each active expert's rows rounded up to
    # whole 16-row mma tiles, never to their block's rows, so at least
    # rows / (rows + 15 x active experts) of their mma rows are used.
    parser.add_argument("--routed-rows", type=int)
    # KERNEL=X: the launch whose name ends in _KERNEL loads with a global
    # load efficiency of at least X (repeatable).
    parser.add_argument("--least-load-efficiency", action="append",
                        default=[])
    # KERNEL: the launch whose name ends in _KERNEL has no shared bank
    # conflicts (repeatable).
    parser.add_argument("--no-bank-conflicts", action="append", default=[])
    args = parser.parse_args()
    least_efficiency = {}
    for bound in args.least_load_efficiency:
        name, _, value = bound.partition("=")
        least_efficiency["_" + name] = float(value)
    with open(args.profile) as f:
        p = json.load(f)
    kernels, layer = p["kernels"], p["layer"]
    if not kernels:
        fail("no launch")
    total = 0
    for k in kernels:
        for key in KERNEL_KEYS:
            if key not in k:
                fail("%s lacks %s" % (k.get("name"), key))
        blocks = k["grid"][0] * k["grid"][1] * k["grid"][2]
        if not 0 <= k["working_blocks"] <= blocks:
            fail("%s: working_blocks %d of %d blocks"
                 % (k["name"], k["working_blocks"], blocks))
        if not 0 < k["global_load_efficiency"] <= 1:
            fail("%s: global_load_efficiency %g" % (k["name"],
                                                     k["global_load_efficiency"]))
        if k["global_sectors"] * 32 < k["requested_global_bytes"]:
            fail("%s: fewer sector bytes than requested" % k["name"])
        if k["dram_bytes"] > k["global_sectors"] * 32:
            fail("%s: more DRAM bytes than the requests' sectors" % k["name"])
        if not 0 < k["mma_row_utilisation"] <= 1:
            fail("%s: mma_row_utilisation %g" % (k["name"],
                                                  k["mma_row_utilisation"]))
        if (args.mma_utilisation is not None and k["mma_count"] and
                abs(k["mma_row_utilisation"] - args.mma_utilisation) > 1e-9):
            fail("%s: mma_row_utilisation %g, expected %g"
                 % (k["name"], k["mma_row_utilisation"], args.mma_utilisation))
        if args.routed_rows and k["mma_count"]:
            least = args.routed_rows / (args.routed_rows +
                                        15.0 * args.active_experts)
            if k["mma_row_utilisation"] < least - 1e-9:
                fail("%s: mma_row_utilisation %g, less than %g: rows padded "
                     "past whole 16-row tiles"
                     % (k["name"], k["mma_row_utilisation"], least))
        for suffix, bound in least_efficiency.items():
            if (k["name"].endswith(suffix) and
                    k["global_load_efficiency"] < bound):
                fail("%s: global_load_efficiency %g, less than %g"
                     % (k["name"], k["global_load_efficiency"], bound))
        for name in args.no_bank_conflicts:
            if (k["name"].endswith("_" + name) and
                    k["shared_bank_conflicts"] != 0):
                fail("%s: %d shared bank conflicts" %
                     (k["name"], k["shared_bank_conflicts"]))
        sites = k["load_sites"]
        if len(sites) > 6 or (k["global_load_efficiency"] < 1 and not sites):
            fail("%s: %d load sites" % (k["name"], len(sites)))
        for site in sites:
            if not (site["site"].startswith(("load #", "cp.async #")) and
                    k["name"] in site["site"] and site["buffer"]):
                fail("%s: load site %s on %s" % (k["name"], site["site"],
                                                 site["buffer"]))
            if not (0 < site["requests"] <= k["global_requests"] and
                    site["sectors"] <= k["global_sectors"] and
                    0 < site["efficiency"] <= 1):
                fail("%s: load site %s counts %s" % (k["name"], site["site"],
                                                     site))
        # Most unused sector bytes first.
        unused = [32 * x["sectors"] * (1 - x["efficiency"]) for x in sites]
        if any(a < b - 1e-6 for a, b in zip(unused, unused[1:])):
            fail("%s: load sites not in order of unused bytes" % k["name"])
        if k["barriers"] < blocks and k["name"].endswith("gate_up"):
            fail("%s: fewer barriers than blocks" % k["name"])
        total += k["dram_bytes"]
    names = [k["name"] for k in kernels]
    for suffix in list(least_efficiency) + ["_" + n for n in
                                            args.no_bank_conflicts]:
        if not any(n.endswith(suffix) for n in names):
            fail("no launch named *%s" % suffix)
    for key in LAYER_KEYS:
        if key not in layer:
            fail("layer lacks " + key)
    if layer["tokens"] != args.tokens:
        fail("tokens %d" % layer["tokens"])
    if layer["active_experts"] != args.active_experts:
        fail("active_experts %d" % layer["active_experts"])
    if layer["dram_bytes"] != total:
        fail("layer dram_bytes is not the launches' sum")
    # The kernels read each active expert's weights at least once.
    if not 1.0 <= layer["traffic_ratio"] < 2.0:
        fail("traffic_ratio %g" % layer["traffic_ratio"])
    for gpu in GPUS:
        us, pct = layer["estimate_us"][gpu], layer["estimate_pct_of_roofline"][gpu]
        if not us >= 3.0 * len(kernels):
            fail("%s: %g us is less than the launch overheads" % (gpu, us))
        if not 0 < pct <= 100:
            fail("%s: %g%% of the roofline" % (gpu, pct))
    print("profile: %d launches, every relation holds" % len(kernels))


if __name__ == "__main__":
    main()
