#!/usr/bin/env python3
"""PyTorch's side of the CPU benchmark (bench/run-cpu.sh).

    torch_baseline.py --threads N --tokens 1,16,128 [--min-time 0.5] MODEL.json...

For each model (a Hugging Face config.json as bench/cpu/models/ holds), runs
the MoE block as Hugging Face's modeling code writes it: the router GEMM,
the family's gating, then a loop over the experts that gathers each
expert's tokens and runs its gated FFN with torch.matmul, and index_add_
into the output. Weights and input are bf16 (the models' torch_dtype) and
every op runs in bf16 on the CPU (oneDNN's bf16 kernels where the CPU has
them), on N threads. Prints one tab-separated line per case:
    model  tokens  tok/s
Speed only: the numbers are not checked here (moe-bench-cpu checks the
compiled layer against its own per-expert loop and the fp64 reference).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def config(path):
    with open(path) as f:
        c = json.load(f)
    family = c["model_type"]
    experts = c.get("num_local_experts") or c.get("num_experts") or c.get("n_routed_experts")
    inter = c.get("moe_intermediate_size") or c["intermediate_size"]
    return dict(
        name=os.path.splitext(os.path.basename(path))[0], family=family,
        H=c["hidden_size"], I=inter, E=experts, K=c["num_experts_per_tok"],
        shared=c.get("n_shared_experts") or 0,
        groups=c.get("n_group") or 1, topk_groups=c.get("topk_group") or 1,
        norm=c.get("norm_topk_prob", family in ("mixtral", "deepseek_v3")),
        scale=c.get("routed_scaling_factor", 1.0))


def weights(cfg, seed=1):
    g = torch.Generator().manual_seed(seed)
    H, I, E = cfg["H"], cfg["I"], cfg["E"]

    def randn(*shape, fan_in):
        return (torch.randn(*shape, generator=g) / math.sqrt(fan_in)).to(torch.bfloat16)

    w = dict(router=randn(E, H, fan_in=H),
             gate=[randn(I, H, fan_in=H) for _ in range(E)],
             up=[randn(I, H, fan_in=H) for _ in range(E)],
             down=[randn(H, I, fan_in=I) for _ in range(E)])
    if cfg["family"] == "deepseek_v3":
        w["bias"] = torch.rand(E, generator=g) * 0.1
    if cfg["shared"]:
        S = cfg["shared"] * I
        w["shared"] = (randn(S, H, fan_in=H), randn(S, H, fan_in=H), randn(H, S, fan_in=S))
    return w


def route(cfg, w, x):
    """(top-k weights, top-k experts) as the family's HF block computes them."""
    logits = F.linear(x, w["router"])
    K = cfg["K"]
    if cfg["family"] == "deepseek_v3":
        scores = logits.float().sigmoid()
        biased = scores + w["bias"]
        T, E, G = x.shape[0], cfg["E"], cfg["groups"]
        group_scores = biased.view(T, G, E // G).topk(2, dim=-1)[0].sum(-1)
        keep = group_scores.topk(cfg["topk_groups"], dim=-1)[1]
        mask = torch.zeros_like(group_scores).scatter_(1, keep, 1)
        mask = mask.unsqueeze(-1).expand(T, G, E // G).reshape(T, E)
        experts = biased.masked_fill(mask == 0, 0.0).topk(K, dim=-1)[1]
        topw = scores.gather(1, experts)
    else:
        probs = F.softmax(logits, dim=-1, dtype=torch.float)
        topw, experts = probs.topk(K, dim=-1)
    if cfg["norm"]:
        topw = topw / (topw.sum(-1, keepdim=True) + 1e-20)
    return (topw * cfg["scale"]).to(x.dtype), experts


def ffn(x, gate, up, down):
    return F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)


def block(cfg, w, x):
    topw, experts = route(cfg, w, x)
    out = torch.zeros_like(x)
    mask = F.one_hot(experts, cfg["E"]).permute(2, 1, 0)
    for e in range(cfg["E"]):
        slot, token = torch.where(mask[e])
        if token.numel() == 0:
            continue
        y = ffn(x[token], w["gate"][e], w["up"][e], w["down"][e])
        out.index_add_(0, token, y * topw[token, slot, None])
    if cfg["shared"]:
        out += ffn(x, *w["shared"])
    return out


def seconds_per_call(fn, min_time):
    fn()
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < min_time and len(samples) < 1000:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--tokens", default="1,16,128")
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("models", nargs="+")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(2)
    with torch.inference_mode():
        for path in a.models:
            cfg = config(path)
            w = weights(cfg)
            for T in (int(t) for t in a.tokens.split(",")):
                x = torch.randn(T, cfg["H"]).to(torch.bfloat16)
                s = seconds_per_call(lambda: block(cfg, w, x), a.min_time)
                print(f"{cfg['name']}\t{T}\t{T / s:.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
