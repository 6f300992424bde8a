#!/usr/bin/env python3
"""Collects one bench/gpu/run.sh run into report.md and report.json.

  report.py --work DIR --out DIR [--title TEXT]

Reads DIR/ceilings.json and, per model folder DIR/<model>/: torch.json
(torch_reference.py prepare), cublas.jsonl and moert.jsonl (moe_gpu_bench
--json), check_cublas.json / check_moert.json (torch_reference.py check) and
notes.txt (run.sh's remarks). Needs no torch: plain Python 3.

GB/s = bytes / median time and TFLOP/s = FLOPs / median time, with the byte
and FLOP model of README.md (the same for every implementation of a given
model and token count). Fractions are of the device's datasheet roofline,
looked up by the name torch reports; an unknown device gets absolute numbers
only. "roofline" = max(bytes / HBM bandwidth, FLOPs / bf16 peak) / time: the
fraction of the best time the roofline allows.
"""

import argparse
import json
import os
import sys

# (label, matches(device name), HBM bytes/s, dense bf16 FLOP/s), datasheet values.
ROOFLINES = [
    ("H200 (4.8 TB/s, 989 TFLOP/s)", lambda n: "H200" in n and "NVL" not in n, 4.8e12, 989e12),
    ("H100 PCIe (2.0 TB/s, 756 TFLOP/s)", lambda n: "H100" in n and "PCIE" in n.upper(), 2.0e12, 756e12),
    ("H100 SXM (3.35 TB/s, 989 TFLOP/s)",
     lambda n: "H100" in n and ("HBM3" in n or "SXM" in n) and "NVL" not in n and "PCIE" not in n.upper(),
     3.35e12, 989e12),
]

IMPL_ORDER = ["hf-loop", "cublas-gemm", "cublas-gemm-graph", "cublas-engine", "moert", "moert-graph"]
IMPL_DESC = {
    "hf-loop": "PyTorch bf16, per-expert loop as Hugging Face writes it (router included)",
    "cublas-gemm": "cuBLAS per-expert GEMMs only (gate_up, down; shared expert as one more)",
    "cublas-gemm-graph": "the same GEMMs replayed from one CUDA graph",
    "cublas-engine": "gather + cuBLAS GEMMs + silu*up + weighted combine (routing given)",
    "moert": "ours: emitted kernels through the moert runtime (whole layer)",
    "moert-graph": "ours, one layer captured in a CUDA graph and replayed",
}


def roofline_for(name):
    for label, match, bw, peak in ROOFLINES:
        if match(name):
            return {"label": label, "hbm_bytes_per_s": bw, "bf16_flops_per_s": peak}
    return None


def read_json(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def check_cell(c):
    if c is None:
        return "not checked", None
    if "error" in c:
        return "FAIL: " + c["error"], False
    k = c.get("checked") or {}
    txt = f"{'pass' if c['pass'] else 'FAIL'} rel_l2 {k.get('rel_l2', float('nan')):.1e}"
    if c.get("nonfinite"):
        txt += f", {c['nonfinite']} non-finite"
    if c.get("tokens_checked") != c.get("tokens_total"):
        txt += f" ({c['tokens_total'] - c['tokens_checked']} near-tie tokens skipped)"
    return txt, c["pass"]


def collect(work):
    rows, notes, errors = [], {}, []
    models = sorted(d for d in os.listdir(work)
                    if any(os.path.isfile(os.path.join(work, d, f)) for f in ("torch.json", "notes.txt")))
    for m in models:
        d = os.path.join(work, m)
        if os.path.exists(os.path.join(d, "notes.txt")):
            with open(os.path.join(d, "notes.txt")) as f:
                notes[m] = [line.rstrip() for line in f if line.strip()]
        tj = read_json(os.path.join(d, "torch.json"))
        if tj is None:
            continue
        checks = {impl: read_json(os.path.join(d, f"check_{impl}.json"), {}).get("tokens", {})
                  for impl in ("cublas", "moert")}
        for T, e in tj["tokens"].items():
            c, ok = check_cell(e["hf_loop_check"])
            rows.append(dict(model=m, tokens=int(T), impl="hf-loop", median_us=e["hf_loop"]["median_us"],
                             bytes=e["bytes"], flops=e["flops"], expert_weight_bytes=e["expert_weight_bytes"],
                             active_experts=e["active_experts"], check=c, check_pass=ok,
                             near_tie_tokens=e["near_tie_tokens"]))
        for impl_file in ("cublas.jsonl", "moert.jsonl"):
            for r in read_jsonl(os.path.join(d, impl_file)):
                if "error" in r:
                    errors.append(f"{m} T={r.get('tokens')} {r['impl']}: {r['error']}")
                    continue
                T = str(r["tokens"])
                ref = tj["tokens"].get(T)
                if ref and (ref["bytes"] != r["bytes"] or ref["flops"] != r["flops"]):
                    errors.append(f"{m} T={T} {r['impl']}: byte/FLOP model differs from torch.json "
                                  f"({r['bytes']:.0f} vs {ref['bytes']}, {r['flops']:.0f} vs {ref['flops']})")
                if r["impl"] == "cublas-engine":
                    c, ok = check_cell(checks["cublas"].get(T))
                elif r["impl"] == "moert":
                    c, ok = check_cell(checks["moert"].get(T))
                elif r["impl"] == "moert-graph":
                    c, ok = r.get("note", ""), None
                else:
                    c, ok = "n/a (GEMMs only)", None
                rows.append(dict(model=m, tokens=r["tokens"], impl=r["impl"], median_us=r["median_us"],
                                 bytes=r["bytes"], flops=r["flops"],
                                 expert_weight_bytes=r["expert_weight_bytes"],
                                 active_experts=r["active_experts"], check=c, check_pass=ok,
                                 note=r.get("note", "")))
    rows.sort(key=lambda r: (r["model"], r["tokens"], IMPL_ORDER.index(r["impl"])
                             if r["impl"] in IMPL_ORDER else 99))
    return rows, notes, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="")
    args = ap.parse_args()

    ceil = read_json(os.path.join(args.work, "ceilings.json"), {})
    dev = ceil.get("device", {})
    rows, notes, errors = collect(args.work)
    if not rows and not notes:
        print(f"report.py: no results under {args.work}", file=sys.stderr)
        return 1
    name = dev.get("torch", "")
    if not name and rows:  # ceilings step failed: take the name torch saw
        tj = read_json(os.path.join(args.work, rows[0]["model"], "torch.json"), {})
        name = tj.get("device", {}).get("torch", "")
    name = name or "unknown"
    roof = roofline_for(name)

    for r in rows:
        s = r["median_us"] * 1e-6
        r["gbps"] = r["bytes"] / s / 1e9
        r["tflops"] = r["flops"] / s / 1e12
        if roof:
            r["frac_hbm"] = r["bytes"] / s / roof["hbm_bytes_per_s"]
            r["frac_bf16_peak"] = r["flops"] / s / roof["bf16_flops_per_s"]
            floor = max(r["bytes"] / roof["hbm_bytes_per_s"], r["flops"] / roof["bf16_flops_per_s"])
            r["frac_roofline"] = floor / s

    md = [f"# MoE layer on the GPU{': ' + args.title if args.title else ''}", ""]
    md.append(f"Device: **{name}** (nvidia-smi: {dev.get('nvidia_smi', 'not run')})")
    if roof:
        md.append(f"Roofline (datasheet): {roof['label']}")
    else:
        md.append("Roofline: device not in the table (H100 SXM, H100 PCIe, H200); absolute numbers only.")
    if "copy_gbps" in ceil:
        md.append(f"Measured here: device-to-device copy {ceil['copy_gbps']:.0f} GB/s (read + write), "
                  f"8192^3 bf16 GEMM {ceil['bf16_gemm_tflops']:.0f} TFLOP/s.")
    md += ["", "Median of per-iteration CUDA-event times, L2 flushed before each iteration. Bytes: bf16 weights "
           "of the experts that got >= 1 token (plus the shared expert) + input and output activations; "
           "FLOPs: 2 * rows * 3*H*I over routed rows (+ T shared rows). Router left out of both.", ""]
    for impl in IMPL_ORDER:
        md.append(f"- `{impl}`: {IMPL_DESC[impl]}")
    md.append("")
    frac = lambda r, k: f"{100 * r[k]:.1f}%" if k in r else "-"
    for m in sorted({r["model"] for r in rows} | set(notes)):
        md += [f"## {m}", "",
               "| tokens | impl | time (us) | experts hit | expert weights (MB) | GB/s | % HBM | TFLOP/s "
               "| % bf16 peak | % roofline | check vs fp32 |",
               "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in (r for r in rows if r["model"] == m):
            md.append(f"| {r['tokens']} | {r['impl']} | {r['median_us']:.1f} | {r['active_experts']} | "
                      f"{r['expert_weight_bytes'] / 1e6:.1f} | {r['gbps']:.4g} | {frac(r, 'frac_hbm')} | "
                      f"{r['tflops']:.4g} | {frac(r, 'frac_bf16_peak')} | {frac(r, 'frac_roofline')} | "
                      f"{r['check']} |")
        if notes.get(m):
            md.append("")
            md += [f"- {n}" for n in notes[m]]
        md.append("")
    if errors:
        md += ["## Errors", ""] + [f"- {e}" for e in errors] + [""]
    text = "\n".join(md)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump({"device": dev or {"torch": name}, "roofline": roof, "ceilings": ceil, "rows": rows,
                   "notes": notes, "errors": errors}, f, indent=1)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
