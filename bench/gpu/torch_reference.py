#!/usr/bin/env python3
"""PyTorch side of the GPU benchmark (bench/gpu/README.md).

Subcommands:
  shape-args --model M       harness flags for model M (one source of truth)
  default-layer --model M    decoder layer index used for M's HF tensor names
  ceilings --out FILE        device name, measured copy bandwidth and bf16 GEMM rate
  prepare --model M --work DIR --tokens 1,8,...
          [--layer L] [--write-weights] [--warmup 3] [--iters 20] [--seed 1]
      Draws the layer's weights on the device, and for each token count T:
      draws the input, computes the fp32 reference of the block (routing
      included), runs and times the bf16 per-expert loop as Hugging Face
      writes it, checks that loop against the reference, and writes
      DIR/tokens_T.safetensors (hidden_states, reference, topk_ids,
      topk_weights, tie) and DIR/torch.json. --write-weights also writes
      DIR/weights.safetensors under the HF names (the harness and moert read it).
  check --work DIR --impl cublas|moert --tokens ...
      Compares DIR/<impl>_T.safetensors:output with the fp32 reference;
      writes DIR/check_<impl>.json.

The reference computes in fp32 from the same bf16 weights and bf16 input the
implementations get (the weights are upcast expert by expert, so DeepSeek-V3's
22.5 GB of bf16 experts never exist in fp32 at once). Matmuls run in true fp32
(TF32 off).
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

MODELS = {
    # Hugging Face configs: Mixtral-8x7B-v0.1, Qwen3-30B-A3B, DeepSeek-V3.
    "mixtral-8x7b": dict(family="mixtral", H=4096, I=14336, E=8, K=2, S=0, layer=0),
    "qwen3-30b-a3b": dict(family="qwen3_moe", H=2048, I=768, E=128, K=8, S=0, layer=0),
    # first_k_dense_replace = 3: layer 3 is the first MoE layer.
    "deepseek-v3": dict(family="deepseek_v3", H=7168, I=2048, E=256, K=8, S=1,
                        n_group=8, topk_group=4, scale=2.5, layer=3),
    # Small shapes that check the pipeline end to end (not benchmarks).
    "mixtral-tiny": dict(family="mixtral", H=256, I=512, E=8, K=2, S=0, layer=0),
    "qwen3-tiny": dict(family="qwen3_moe", H=256, I=128, E=32, K=4, S=0, layer=0),
    "deepseek-v3-tiny": dict(family="deepseek_v3", H=256, I=128, E=64, K=8, S=1,
                             n_group=8, topk_group=4, scale=2.5, layer=3),
}

# bf16 tolerance against the fp32 reference: bf16 keeps 8 significant bits
# (relative rounding 2^-9 = 2e-3) and the block rounds to bf16 several times
# (gate/up, silu*up, down, the weighted sum), so errors of a few 1e-3 are
# expected. Pass: no non-finite output, ||out-ref||/||ref|| <= 1e-2, and
# max|out-ref| <= 2e-2 * max|ref|, over tokens whose routing is not a near-tie.
REL_L2_TOL = 1e-2
MAX_ABS_TOL = 2e-2
# A token is a near-tie when its top-k choice would flip under a perturbation
# of the routing scores this small: bf16 router logits (Mixtral, Qwen3 as HF
# runs them) carry errors around 2^-9 * |logit|; DeepSeek-V3's router runs in
# fp32 on sigmoid scores. Such tokens are reported and left out of the check.
TIE_TOL = {"mixtral": 1e-2, "qwen3_moe": 1e-2, "deepseek_v3": 1e-3}

# ------------------------------------------------------------------ safetensors

_DT = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32",
       torch.int32: "I32", torch.int64: "I64"}
_RDT = {v: k for k, v in _DT.items()}


def save_safetensors(path, items):
    """Streams (name, tensor) pairs to a safetensors file, one tensor in host
    memory at a time (DeepSeek-V3's weights are 22.5 GB)."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, t in items:
        n = t.numel() * t.element_size()
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, t in items:
            if t.numel():
                t.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tofile(f)


def load_safetensors(path):
    """Reads every tensor of a (small) safetensors file to the CPU."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > size - 8:
            raise ValueError(f"{path}: header length {n} exceeds the file")
        header = json.loads(f.read(n))
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            dt = _RDT[info["dtype"]]
            shape = info["shape"]
            numel = math.prod(shape)
            if not (0 <= b <= e <= size - 8 - n) or e - b != numel * torch.tensor([], dtype=dt).element_size():
                raise ValueError(f"{path}: tensor {name} has bad data_offsets")
            f.seek(8 + n + b)
            buf = bytearray(f.read(e - b))
            t = torch.frombuffer(buf, dtype=dt) if numel else torch.empty(0, dtype=dt)
            out[name] = t.reshape(shape)
        return out


# ------------------------------------------------------------------ weights


def make_weights(cfg, device, seed):
    """Random bf16 weights, std 1/sqrt(fan_in) so activations stay O(1).
    gate_up is [E, 2I, H] = [w1; w3] per expert (the fused form the HF loop
    multiplies with); w1/w3 for the file are its halves."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    H, I, E = cfg["H"], cfg["I"], cfg["E"]

    def randn(*shape, fan_in):
        # Filled slice by slice: one draw over DeepSeek-V3's 7.5e9-element
        # stack would be a single huge kernel for no gain.
        t = torch.empty(*shape, device=device, dtype=torch.bfloat16)
        for s in (t if t.dim() == 3 else [t]):
            s.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=g)
        return t

    W = {"router": randn(E, H, fan_in=H),
         "gate_up": randn(E, 2 * I, H, fan_in=H),
         "down": randn(E, H, I, fan_in=I)}
    if cfg["family"] == "deepseek_v3":
        # Positive, so that HF's masked_fill(0.0) of dropped groups never
        # outranks a kept expert (a corner where implementations may differ).
        W["bias"] = torch.rand(E, generator=g, device=device, dtype=torch.float32).mul_(0.1)
    if cfg["S"]:
        W["shared_gate_up"] = randn(2 * I, H, fan_in=H)
        W["shared_down"] = randn(H, I, fan_in=I)
    return W


def hf_items(cfg, W, layer):
    """(HF name, tensor) pairs of one decoder layer's MoE block."""
    I, L = cfg["I"], f"model.layers.{layer}."
    items = []
    if cfg["family"] == "mixtral":
        p = L + "block_sparse_moe."
        items.append((p + "gate.weight", W["router"]))
        for e in range(cfg["E"]):
            q = f"{p}experts.{e}."
            items += [(q + "w1.weight", W["gate_up"][e, :I]), (q + "w3.weight", W["gate_up"][e, I:]),
                      (q + "w2.weight", W["down"][e])]
        return items
    p = L + "mlp."
    items.append((p + "gate.weight", W["router"]))
    if "bias" in W:
        items.append((p + "gate.e_score_correction_bias", W["bias"]))
    for e in range(cfg["E"]):
        q = f"{p}experts.{e}."
        items += [(q + "gate_proj.weight", W["gate_up"][e, :I]), (q + "up_proj.weight", W["gate_up"][e, I:]),
                  (q + "down_proj.weight", W["down"][e])]
    if cfg["S"]:
        q = p + "shared_experts."
        items += [(q + "gate_proj.weight", W["shared_gate_up"][:I]),
                  (q + "up_proj.weight", W["shared_gate_up"][I:]),
                  (q + "down_proj.weight", W["shared_down"])]
    return items


# ------------------------------------------------------------------ the block


def route(logits, cfg, bias=None, want_margin=False):
    """HF routing on fp32 logits [T, E] -> (ids [T,K], weights fp32 [T,K], margin [T]).
    margin: how far the top-k choice is from flipping (None unless asked)."""
    K, E = cfg["K"], cfg["E"]
    margin = None
    if cfg["family"] in ("mixtral", "qwen3_moe"):
        # MixtralSparseMoeBlock / Qwen3MoeSparseMoeBlock: softmax in fp32,
        # top-k, renormalise (Mixtral always; Qwen3-30B-A3B norm_topk_prob).
        probs = F.softmax(logits, dim=-1, dtype=torch.float32)
        w, ids = torch.topk(probs, K, dim=-1)
        w = w / w.sum(dim=-1, keepdim=True)
        if want_margin:
            s = logits.sort(dim=-1, descending=True).values
            margin = s[:, K - 1] - s[:, K] if K < E else torch.full_like(s[:, 0], math.inf)
        return ids, w, margin
    # DeepseekV3TopkRouter / DeepseekV3MoE.route_tokens_to_experts.
    T, G, tg = logits.shape[0], cfg["n_group"], cfg["topk_group"]
    scores = logits.sigmoid()
    choice = scores + bias
    gs = choice.view(T, G, E // G).topk(2, dim=-1)[0].sum(dim=-1)
    gidx = torch.topk(gs, k=tg, dim=-1, sorted=False)[1]
    gmask = torch.zeros_like(gs).scatter_(1, gidx, 1)
    smask = gmask.unsqueeze(-1).expand(T, G, E // G).reshape(T, E)
    masked = choice.masked_fill(~smask.bool(), 0.0)
    ids = torch.topk(masked, k=K, dim=-1, sorted=False)[1]
    w = scores.gather(1, ids)
    w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)  # norm_topk_prob
    w = w * cfg["scale"]  # routed_scaling_factor
    if want_margin:
        g = gs.sort(dim=-1, descending=True).values
        s = masked.sort(dim=-1, descending=True).values
        m1 = g[:, tg - 1] - g[:, tg] if tg < G else torch.full_like(g[:, 0], math.inf)
        margin = torch.minimum(m1, s[:, K - 1] - s[:, K])
    return ids, w, margin


def hf_block_bf16(x, W, cfg):
    """The bf16 block as Hugging Face runs it: router, then the per-expert
    loop over the experts that got tokens (transformers' MixtralExperts /
    naive experts forward), then the shared expert. This is what we time."""
    if cfg["family"] == "deepseek_v3":
        logits = F.linear(x.float(), W["router"].float())  # HF's router runs in fp32
        ids, w, _ = route(logits, cfg, W["bias"])
    else:
        logits = F.linear(x, W["router"])  # bf16 gate Linear
        ids, w, _ = route(logits.float(), cfg)
    w = w.to(x.dtype)
    final = torch.zeros_like(x)
    expert_mask = F.one_hot(ids, num_classes=cfg["E"]).permute(2, 1, 0)  # [E, K, T]
    expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
    for e in expert_hit:
        e = e[0]
        top_k_pos, token_idx = torch.where(expert_mask[e])
        cur = x[token_idx]
        gate, up = F.linear(cur, W["gate_up"][e]).chunk(2, dim=-1)
        h = F.linear(F.silu(gate) * up, W["down"][e])
        h = h * w[token_idx, top_k_pos, None]
        final.index_add_(0, token_idx, h.to(final.dtype))
    if cfg["S"]:
        gate, up = F.linear(x, W["shared_gate_up"]).chunk(2, dim=-1)
        final = final + F.linear(F.silu(gate) * up, W["shared_down"])
    return final


def reference_fp32(x, W, cfg):
    """The same block in fp32 on the upcast bf16 weights and input."""
    xf = x.float()
    I = cfg["I"]
    logits = F.linear(xf, W["router"].float())
    ids, w, margin = route(logits, cfg, W.get("bias"), want_margin=True)
    out = torch.zeros_like(xf)
    for e in range(cfg["E"]):
        tok, pos = torch.where(ids == e)
        if tok.numel() == 0:
            continue
        gu = F.linear(xf[tok], W["gate_up"][e].float())
        y = F.linear(F.silu(gu[:, :I]) * gu[:, I:], W["down"][e].float())
        out.index_add_(0, tok, y * w[tok, pos, None])
    if cfg["S"]:
        gu = F.linear(xf, W["shared_gate_up"].float())
        out += F.linear(F.silu(gu[:, :I]) * gu[:, I:], W["shared_down"].float())
    return out, ids, w, margin


# ------------------------------------------------------------------ measuring


def work_of(cfg, ids):
    """The byte and FLOP model shared with the harness (README.md)."""
    T = ids.shape[0]
    H, I, K, S = cfg["H"], cfg["I"], cfg["K"], cfg["S"]
    active = int(torch.unique(ids).numel())
    weight_bytes = (active + S) * 3 * H * I * 2
    rows = T * K + T * S
    return {"active_experts": active, "rows": rows, "expert_weight_bytes": weight_bytes,
            "bytes": weight_bytes + 2 * T * H * 2, "flops": 2 * rows * 3 * H * I}


def time_fn(fn, device, warmup, iters, flush):
    """Median of per-iteration CUDA-event times, L2 flushed before each
    (outside the events), as the harness does."""
    if device.type != "cuda":  # CPU: only to exercise the pipeline
        ts = []
        for i in range(warmup + iters):
            t0 = time.perf_counter()
            fn()
            if i >= warmup:
                ts.append((time.perf_counter() - t0) * 1e6)
    else:
        for _ in range(warmup):
            flush.zero_()
            fn()
        torch.cuda.synchronize()
        evs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
               for _ in range(iters)]
        for a, b in evs:
            flush.zero_()
            a.record()
            fn()
            b.record()
        torch.cuda.synchronize()
        ts = [a.elapsed_time(b) * 1e3 for a, b in evs]
    ts.sort()
    n = len(ts)
    med = ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2])
    return {"median_us": med, "min_us": ts[0], "mean_us": sum(ts) / n, "iters": n, "warmup": warmup}


def compare(out, ref, keep):
    """Errors of out against the fp32 reference over the tokens in keep."""
    out = out.float().to(ref.device)
    res = {"nonfinite": int((~torch.isfinite(out)).sum()), "tokens_checked": int(keep.sum()),
           "tokens_total": int(keep.numel())}

    def stats(o, r):
        if o.numel() == 0:
            return None
        d = (o - r).abs()
        d = torch.where(torch.isfinite(d), d, torch.full_like(d, math.inf))
        rmax = float(r.abs().max())
        return {"max_abs": float(d.max()), "ref_max_abs": rmax,
                "max_abs_over_ref_max": float(d.max()) / rmax if rmax else math.inf,
                "rel_l2": float(torch.linalg.norm(o - r) / torch.linalg.norm(r))}

    res["checked"] = stats(out[keep], ref[keep])
    res["all_tokens"] = stats(out, ref)
    c = res["checked"]
    res["pass"] = bool(res["nonfinite"] == 0 and c is not None and c["rel_l2"] <= REL_L2_TOL
                       and c["max_abs_over_ref_max"] <= MAX_ABS_TOL)
    return res


def device_names():
    names = {"torch": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}
    try:
        names["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,clocks.max.sm,driver_version",
             "--format=csv,noheader"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        names["nvidia_smi"] = f"unavailable: {e}"
    return names


# ------------------------------------------------------------------ subcommands


def cmd_ceilings(args):
    """Measured ceilings, for reading the datasheet fractions: a large
    device-to-device copy (bytes read + written) and an 8192^3 bf16 GEMM
    on random data."""
    dev = torch.device("cuda")
    res = {"device": device_names()}
    a = torch.empty(4 << 30, dtype=torch.uint8, device=dev).random_()
    b = torch.empty_like(a)
    t = time_fn(lambda: b.copy_(a), dev, 3, 10, torch.empty(1, device=dev))
    res["copy_gbps"] = 2 * a.numel() / (t["median_us"] * 1e-6) / 1e9
    del a, b
    n = 8192
    x = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    y = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    t = time_fn(lambda: x @ y, dev, 3, 10, torch.empty(1, device=dev))
    res["bf16_gemm_tflops"] = 2 * n ** 3 / (t["median_us"] * 1e-6) / 1e12
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res))


def parse_tokens(s):
    return [int(t) for t in s.split(",") if t]


def cmd_prepare(args):
    cfg = MODELS[args.model]
    dev = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    layer = cfg["layer"] if args.layer is None else args.layer
    os.makedirs(args.work, exist_ok=True)
    W = make_weights(cfg, dev, args.seed)
    if args.write_weights:
        t0 = time.time()
        save_safetensors(os.path.join(args.work, "weights.safetensors"), hf_items(cfg, W, layer))
        print(f"[{args.model}] wrote weights.safetensors in {time.time() - t0:.1f} s", flush=True)
    flush = torch.empty(256 << 20, dtype=torch.uint8, device=dev) if dev.type == "cuda" else None
    res = {"model": args.model, "config": cfg, "layer": layer, "seed": args.seed,
           "device": device_names(), "torch": torch.__version__,
           "tolerance": {"rel_l2": REL_L2_TOL, "max_abs_over_ref_max": MAX_ABS_TOL,
                         "tie_margin": TIE_TOL[cfg["family"]]},
           "tokens": {}}
    for T in parse_tokens(args.tokens):
        g = torch.Generator(device=dev)
        g.manual_seed(args.seed * 100003 + T)
        x = torch.randn(T, cfg["H"], generator=g, device=dev, dtype=torch.bfloat16)
        with torch.no_grad():
            ref, ids, w, margin = reference_fp32(x, W, cfg)
            keep = margin >= TIE_TOL[cfg["family"]]
            hf_out = hf_block_bf16(x, W, cfg)
            timing = time_fn(lambda: hf_block_bf16(x, W, cfg), dev, args.warmup, args.iters, flush)
        entry = dict(work_of(cfg, ids))
        entry["near_tie_tokens"] = int((~keep).sum())
        entry["hf_loop"] = timing
        entry["hf_loop_check"] = compare(hf_out, ref, keep)
        res["tokens"][str(T)] = entry
        save_safetensors(os.path.join(args.work, f"tokens_{T}.safetensors"), [
            ("hidden_states", x), ("reference", ref), ("topk_ids", ids.to(torch.int32)),
            ("topk_weights", w.float()), ("tie", (~keep).to(torch.int32))])
        c = entry["hf_loop_check"]["checked"] or {}
        print(f"[{args.model}] T={T}: hf loop {timing['median_us']:.1f} us, "
              f"{entry['active_experts']} experts hit, vs fp32 rel_l2 {c.get('rel_l2', math.nan):.2e} "
              f"({'pass' if entry['hf_loop_check']['pass'] else 'FAIL'}), "
              f"{entry['near_tie_tokens']} near-tie tokens", flush=True)
    with open(os.path.join(args.work, "torch.json"), "w") as f:
        json.dump(res, f, indent=1)


def cmd_check(args):
    res = {"impl": args.impl, "tokens": {}}
    ok = True
    for T in parse_tokens(args.tokens):
        path = os.path.join(args.work, f"{args.impl}_{T}.safetensors")
        if not os.path.exists(path):
            res["tokens"][str(T)] = {"error": f"no output file {os.path.basename(path)}", "pass": False}
            ok = False
            continue
        tok = load_safetensors(os.path.join(args.work, f"tokens_{T}.safetensors"))
        out = load_safetensors(path)["output"]
        if tuple(out.shape) != tuple(tok["reference"].shape):
            r = {"error": f"output shape {list(out.shape)} != {list(tok['reference'].shape)}", "pass": False}
        else:
            r = compare(out, tok["reference"], tok["tie"] == 0)
        res["tokens"][str(T)] = r
        ok &= r["pass"]
        c = r.get("checked") or {}
        print(f"[{args.impl}] T={T}: {'pass' if r['pass'] else 'FAIL'} "
              f"rel_l2 {c.get('rel_l2', math.nan):.2e} max_abs {c.get('max_abs', math.nan):.2e} "
              f"{r.get('error', '')}", flush=True)
    with open(os.path.join(args.work, f"check_{args.impl}.json"), "w") as f:
        json.dump(res, f, indent=1)
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("shape-args")
    p.add_argument("--model", required=True, choices=MODELS)
    p = sub.add_parser("default-layer")
    p.add_argument("--model", required=True, choices=MODELS)
    p = sub.add_parser("ceilings")
    p.add_argument("--out", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--work", required=True)
    p.add_argument("--tokens", default="1,8,64,512,4096")
    p.add_argument("--layer", type=int)
    p.add_argument("--write-weights", action="store_true")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="cuda")
    p = sub.add_parser("check")
    p.add_argument("--work", required=True)
    p.add_argument("--impl", required=True, choices=["cublas", "moert"])
    p.add_argument("--tokens", default="1,8,64,512,4096")
    args = ap.parse_args()

    if args.cmd == "shape-args":
        c = MODELS[args.model]
        print(f"--label {args.model} --family {c['family']} --hidden {c['H']} --inter {c['I']} "
              f"--experts {c['E']} --topk {c['K']} --shared {c['S']}")
        return 0
    if args.cmd == "default-layer":
        print(MODELS[args.model]["layer"])
        return 0
    if args.cmd == "ceilings":
        return cmd_ceilings(args) or 0
    if args.cmd == "prepare":
        return cmd_prepare(args) or 0
    return cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
