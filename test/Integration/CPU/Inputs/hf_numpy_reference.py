#!/usr/bin/env python3
"""An independent float64 reference of one MoE block, written from the
Hugging Face `transformers` modeling code (not from moe-opt's C++), with the
standard library and numpy only.

  hf_numpy_reference.py CONFIG.json --layer L --tokens T --seed S
      --dtype {f32,bf16} --weights-out W.safetensors
      --input-out X.safetensors --expected-out Yref.safetensors

CONFIG.json is a Hugging Face config.json (model_type mixtral, minimax,
minimax_m2, qwen2_moe, qwen3_moe, qwen3_next, olmoe, deepseek_v2,
deepseek_v3, kimi_k2, deepseek_v32, glm4_moe, dots1, gpt_oss, llama4,
llama4_text, dbrx, jamba, hunyuan_v1_moe, ernie4_5_moe, granitemoe,
granitemoeshared or phimoe).
The script

  1. draws random weights for decoder layer L (numpy default_rng(S); weights
     uniform in +-1/sqrt(fan_in), biases in +-0.1, DeepSeek-V3's
     e_score_correction_bias in +-0.05 and kept in F32), rounds them to the
     dtype (bf16: round-to-nearest-even of the f32 bits) and writes them to W
     under the checkpoint's own tensor names and layouts;
  2. draws hidden_states [T, H] uniform in [-1, 1], rounded to the dtype, and
     writes them to X;
  3. computes the MoE block output (router, selection, experts, combine,
     shared experts; no residual) in float64 from the rounded values and
     writes it to Yref as F32 `hidden_states` [T, H];
  4. prints `near-tie token t` on stdout for every token whose k-th and
     (k+1)-th selection scores (or, with grouped selection, whose kept and
     first dropped group scores) differ by less than 1e-6: another
     implementation may legitimately pick the other expert there, so
     compare_safetensors.py --skip-tokens-from skips them. Everything else
     goes to stderr.

A `quantization_config` makes the experts' projections (routed and shared)
quantized as the published checkpoints are, written here from the format
definitions: fp8 (DeepSeek-V3, Kimi K2, Qwen3 FP8) as F8_E4M3 `X.weight`
with F32 `X.weight_scale_inv` = amax / 448 per `weight_block_size` block
(the whole projection without one); mxfp4 (gpt-oss) as U8 `X_blocks`
[E, out, in/32, 16] (two e2m1 per byte, the lower nibble first) and U8
`X_scales` [E, out, in/32] with the OCP MX scale 2^(floor(log2 amax) - 2)
(values beyond 6 clamp). The block is then computed from the dequantized
weights: value * scale rounded to the dtype, as DeepSeek-V3's weight_dequant
and transformers' fp8 fallback give them to the GEMMs (exact for MXFP4).

Absent optional config fields take the defaults of the family's
transformers configuration class (kimi_k2: DeepseekV3Config's), except
DeepSeek-V2's n_group/topk_group (1, 1 when absent; its group_limited_greedy
needs them spelled out). Note that these include n_group/topk_group
(deepseek_v3: 8, 4), n_shared_experts (deepseek_v2: 2, deepseek_v3: 1),
first_k_dense_replace (deepseek_v3: 3) and shared_expert_intermediate_size
(qwen2_moe: 5632). DeepSeek-V2 follows DeepSeek's own modeling code (renormalize when
top_k > 1 and norm_topk_prob, otherwise scale by routed_scaling_factor);
DeepSeek-V3 grouped selection fills dropped groups with 0.0 as transformers
does.
"""
import argparse
import json
import math
import struct
import sys

import numpy as np

NEAR_TIE = 1e-6

# What the data reached, printed as `branch: ...` lines so that a test can
# require its data to exercise a rule (not just pass through it).
STATS = {"exact ties": 0, "best expert in a dropped group": 0,
         "dropped-group expert chosen": 0, "values past swiglu_limit": 0,
         "sparsemixer rounds keeping several experts": 0}


def fail(message):
    sys.stderr.write("hf_numpy_reference.py: error: %s\n" % message)
    sys.exit(2)


def note(message):
    sys.stderr.write("hf_numpy_reference.py: %s\n" % message)


# --------------------------------------------------------------------------
# dtype rounding and safetensors writing
# --------------------------------------------------------------------------

def bf16_bits(values):
    """float64 array -> uint16 bf16 bits (f32 first, then round to nearest
    even on the upper 16 bits)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    bits = bits.astype(np.uint64)
    bits = bits + 0x7FFF + ((bits >> 16) & 1)
    return (bits >> 16).astype(np.uint16)


def bf16_to_f64(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def round_to(values, dtype):
    """Returns (value as float64 exactly representable in dtype, raw bytes,
    safetensors dtype name)."""
    if dtype == "BF16":
        bits = bf16_bits(values)
        return bf16_to_f64(bits), bits.astype("<u2").tobytes(), "BF16"
    if dtype == "F16":
        f16 = np.asarray(values, dtype=np.float64).astype(np.float16)
        return f16.astype(np.float64), f16.astype("<f2").tobytes(), "F16"
    f32 = np.asarray(values, dtype=np.float32)
    return f32.astype(np.float64), f32.astype("<f4").tobytes(), "F32"


def write_safetensors(path, tensors):
    """tensors: list of (name, shape, dtype name, raw bytes)."""
    header, blobs, offset = {}, [], 0
    for name, shape, dtype, raw in tensors:
        header[name] = {"dtype": dtype, "shape": [int(d) for d in shape],
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


# --------------------------------------------------------------------------
# Config reading: one spec dict per family
# --------------------------------------------------------------------------

def get(cfg, key, default):
    value = cfg.get(key, default)
    return default if value is None else value


def activation(name):
    if name in ("silu", "swish"):
        return "silu"
    if name == "gelu":
        return "gelu"
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return "gelu_tanh"
    if name == "relu":
        return "relu"
    fail("unsupported activation %r" % name)


def sizes(cfg, H, E, K, I, L, experts="num_local_experts",
          top_k="num_experts_per_tok", inter="intermediate_size"):
    """The sizes and activation under the family's field names, with its
    configuration class's defaults."""
    return dict(H=get(cfg, "hidden_size", H), E=get(cfg, experts, E),
                K=get(cfg, top_k, K), I=get(cfg, inter, I),
                num_layers=get(cfg, "num_hidden_layers", L),
                act=activation(get(cfg, "hidden_act", "silu")))


def layer_kind(spec, layer):
    if not 0 <= layer < spec["num_layers"]:
        fail("layer %d is out of range [0, %d)" % (layer, spec["num_layers"]))
    if layer not in spec["moe_layers"]:
        fail("layer %d is not an MoE layer of this %s config (MoE layers: %s)"
             % (layer, spec["family"], sorted(spec["moe_layers"])))


def read_own_schema(root, layer):
    """moe-opt's own schema (docs/model-schema.md), read from that document:
    the entry of moe_layers that lists `layer`, as a generic spec."""
    if root.get("format") != "moe-opt/v1":
        fail("format %r is not moe-opt/v1" % root.get("format"))
    entry = None
    layers = set()
    for e in root["moe_layers"]:
        layers.update(e["layers"])
        if layer in e["layers"]:
            entry = e
    spec = {"family": "moe-opt", "num_layers": root["num_layers"],
            "moe_layers": layers, "H": root["hidden_size"],
            "config_dtype": {"f32": "float32", "f16": "float16",
                             "bf16": "bfloat16"}[root.get("dtype", "bf16")]}
    if entry is None:
        return spec
    r = entry["routing"]
    ex = entry.get("experts", {})
    sh = entry.get("shared_expert", {})
    act = ex.get("activation", "silu_glu")
    spec.update(E=entry["num_experts"], I=entry["intermediate_size"],
                K=r["top_k"], routing="generic",
                scoring=r.get("scoring", "softmax"),
                normalization=r.get("normalization", "none"),
                norm_p=float(r.get("norm_p", 1.0)),
                norm_eps=float(r.get("norm_epsilon", 0.0)),
                norm_min=float(r.get("norm_min", 0.0)),
                jitter_eps=float(r.get("jitter_eps", 0.0)),
                n_group=r.get("n_group", 1), topk_group=r.get("topk_group", 1),
                group_score=r.get("group_score", "max"),
                scaling=float(r.get("scaling_factor", 1.0)),
                placement=r.get("placement", "output"),
                router_bias=bool(r.get("router_bias", False)),
                correction_bias=bool(r.get("correction_bias", False)),
                act={"silu_glu": "silu", "gelu_glu": "gelu",
                     "swiglu_oai": "swiglu_oai", "relu": "relu_ungated"}[act],
                limit=float(ex.get("limit", 7.0)),
                alpha=float(ex.get("alpha", 1.702)),
                expert_bias=bool(ex.get("bias", False)),
                shared=sh.get("intermediate_size", 0),
                shared_gate=bool(sh.get("sigmoid_gate", False)))
    return spec


def read_config(path, layer):
    with open(path) as f:
        root = json.load(f)
    if "format" in root:
        spec = read_own_schema(root, layer)
        layer_kind(spec, layer)
        return spec
    family = root.get("model_type")
    cfg = root
    if family == "llama4":
        cfg = root.get("text_config") or {}
    dtype_name = root.get("torch_dtype", root.get("dtype",
                                                  cfg.get("torch_dtype")))
    spec = {"family": family, "config_dtype": dtype_name, "act": "silu",
            "router_bias": False, "shared": 0, "shared_gate": False,
            "placement": "output", "expert_bias": False}
    q = root.get("quantization_config")
    if q:
        if q["quant_method"] == "fp8":
            spec["quant"] = ("fp8", q.get("weight_block_size"))
        elif q["quant_method"] == "mxfp4":
            spec["quant"] = ("mxfp4",)
        else:
            fail("quant_method %s" % q["quant_method"])

    if family in ("mixtral", "minimax"):
        # MiniMaxSparseMoeBlock is Mixtral's.
        spec.update(sizes(cfg, 4096, 8, 2, 14336, 32),
                    routing="softmax", norm_topk=True)
        spec["moe_layers"] = set(range(spec["num_layers"]))
    elif family == "minimax_m2":
        # MiniMaxM2TopKRouter: sigmoid, the bias for selection only, the
        # chosen sigmoid scores divided by their plain sum.
        spec.update(sizes(cfg, 3072, 256, 8, 1536, 62),
                    routing="minimax_m2")
        spec["moe_layers"] = set(range(spec["num_layers"]))
    elif family == "ernie4_5_moe":
        # Ernie4_5_MoeTopKRouter: softmax, moe_statics' bias added for
        # selection only, w / clamp(sum, min=moe_norm_min).
        spec.update(sizes(cfg, 2560, 64, 6, 1536, 28,
                          experts="moe_num_experts", top_k="moe_k",
                          inter="moe_intermediate_size"),
                    routing="ernie", norm_min=get(cfg, "moe_norm_min", 1e-12))
        spec["shared"] = get(cfg, "moe_num_shared_experts", 2) * spec["I"]
        start = get(cfg, "moe_layer_start_index", 1)
        end = get(cfg, "moe_layer_end_index", -1)
        if end < -1:
            fail("moe_layer_end_index %d" % end)
        end = spec["num_layers"] - 1 if end == -1 else end
        interval = get(cfg, "moe_layer_interval", 1)
        spec["moe_layers"] = set(i for i in range(spec["num_layers"])
                                 if (i + 1) % interval == 0
                                 and start <= i <= end)
    elif family == "phimoe":
        spec.update(sizes(cfg, 4096, 16, 2, 6400, 32),
                    routing="sparsemixer",
                    jitter_eps=float(get(cfg, "router_jitter_noise", 0.01)))
        if spec["K"] != 2:
            fail("phimoe routes to 2 experts, not %d" % spec["K"])
        spec["moe_layers"] = set(range(spec["num_layers"]))
    elif family == "jamba":
        # JambaSparseMoeBlock: softmax, top-k, no renormalization.
        spec.update(sizes(cfg, 4096, 16, 2, 14336, 32,
                          experts="num_experts"),
                    routing="softmax", norm_topk=False)
        period = get(cfg, "expert_layer_period", 2)
        offset = get(cfg, "expert_layer_offset", 1)
        # A single "expert" is JambaMLP: no MoE layer at all.
        spec["moe_layers"] = set(i for i in range(spec["num_layers"])
                                 if i % period == offset and spec["E"] > 1)
    elif family == "hunyuan_v1_moe":
        # HunYuanMoEV1Moe: softmax, top-k, always divided by the sum; the
        # experts and the ungated shared MLP are intermediate_size wide.
        def scalar(v):
            if isinstance(v, list):
                if not v or any(x != v[0] for x in v):
                    fail("per-layer values that differ: %r" % v)
                return v[0]
            return v
        spec.update(H=get(cfg, "hidden_size", 4096),
                    E=scalar(get(cfg, "num_experts", 1)),
                    K=scalar(get(cfg, "moe_topk", 1)),
                    I=get(cfg, "intermediate_size", 11008),
                    num_layers=get(cfg, "num_hidden_layers", 32),
                    act=activation(get(cfg, "hidden_act", "silu")),
                    routing="softmax", norm_topk=True)
        spec["shared"] = spec["I"]
        spec["moe_layers"] = set(range(spec["num_layers"]))
    elif family in ("granitemoe", "granitemoeshared"):
        # GraniteMoeTopKGating: top-k on the logits, softmax over the k.
        spec.update(sizes(cfg, 4096, 8, 2, 11008, 32),
                    routing="softmax_after_topk")
        if family == "granitemoeshared":
            spec["shared"] = get(cfg, "shared_intermediate_size", 0)
        spec["moe_layers"] = set(range(spec["num_layers"]))
    elif family in ("qwen2_moe", "qwen3_moe", "qwen3_next"):
        qwen2 = family == "qwen2_moe"
        nxt = family == "qwen3_next"
        spec.update(H=get(cfg, "hidden_size", 2048),
                    E=get(cfg, "num_experts",
                          60 if qwen2 else 512 if nxt else 128),
                    K=get(cfg, "num_experts_per_tok",
                          4 if qwen2 else 10 if nxt else 8),
                    I=get(cfg, "moe_intermediate_size",
                          1408 if qwen2 else 512 if nxt else 768),
                    num_layers=get(cfg, "num_hidden_layers", 24 if qwen2 else 48),
                    act=activation(get(cfg, "hidden_act", "silu")),
                    routing="softmax",
                    norm_topk=bool(get(cfg, "norm_topk_prob", nxt)))
        step = get(cfg, "decoder_sparse_step", 1)
        mlp_only = get(cfg, "mlp_only_layers", [])
        spec["moe_layers"] = set(
            i for i in range(spec["num_layers"])
            if i not in mlp_only and spec["E"] > 0 and (i + 1) % step == 0)
        if qwen2 or nxt:
            spec["shared"] = get(cfg, "shared_expert_intermediate_size",
                                 5632 if qwen2 else 512)
            spec["shared_gate"] = spec["shared"] > 0
    elif family == "olmoe":
        spec.update(sizes(cfg, 2048, 64, 8, 2048, 16,
                          experts="num_experts"),
                    routing="softmax",
                    norm_topk=bool(get(cfg, "norm_topk_prob", False)))
        spec["moe_layers"] = set(range(spec["num_layers"]))
    elif family in ("deepseek_v2", "deepseek_v3", "kimi_k2", "deepseek_v32",
                    "glm4_moe", "dots1"):
        v2 = family == "deepseek_v2"
        # Configuration-class defaults (Glm4MoeConfig, Dots1Config differ).
        d = {"glm4_moe": dict(H=4096, E=128, K=8, I=1408, L=46, G=1, TG=1,
                              dense=1, shared=1, norm=True, rsf=1.0),
             "dots1": dict(H=4608, E=None, K=None, I=1408, L=62, G=1, TG=1,
                           dense=0, shared=0, norm=False, rsf=1.0),
             "deepseek_v2": dict(H=4096, E=64, K=None, I=1407, L=30, G=1,
                                 TG=1, dense=0, shared=2, norm=False,
                                 rsf=1.0)}.get(
            family, dict(H=7168, E=256, K=8, I=2048, L=61, G=8, TG=4, dense=3,
                         shared=1, norm=True, rsf=2.5))
        spec.update(H=get(cfg, "hidden_size", d["H"]),
                    E=get(cfg, "n_routed_experts", d["E"]),
                    K=get(cfg, "num_experts_per_tok", d["K"]),
                    I=get(cfg, "moe_intermediate_size", d["I"]),
                    num_layers=get(cfg, "num_hidden_layers", d["L"]),
                    act=activation(get(cfg, "hidden_act", "silu")),
                    n_group=get(cfg, "n_group", d["G"]),
                    topk_group=get(cfg, "topk_group", d["TG"]))
        if spec["E"] is None:
            fail("n_routed_experts is required")
        first_dense = get(cfg, "first_k_dense_replace", d["dense"])
        # Glm4Moe and Dots1 read no moe_layer_freq.
        freq = 1 if family in ("glm4_moe", "dots1") else \
            get(cfg, "moe_layer_freq", 1)
        spec["moe_layers"] = set(i for i in range(spec["num_layers"])
                                 if i >= first_dense and i % freq == 0)
        spec["shared"] = get(cfg, "n_shared_experts", d["shared"]) * spec["I"]
        if v2:
            scoring = get(cfg, "scoring_func", "softmax")
            if scoring != "softmax":
                fail("deepseek_v2 scoring_func %r is not supported" % scoring)
            method = get(cfg, "topk_method", "greedy")
            if method not in ("greedy", "group_limited_greedy"):
                fail("deepseek_v2 topk_method %r is not supported" % method)
            spec.update(routing="deepseek_v2", topk_method=method,
                        norm_topk=bool(get(cfg, "norm_topk_prob", False)),
                        scaling=float(get(cfg, "routed_scaling_factor", 1.0)))
        else:
            scoring = get(cfg, "scoring_func", "sigmoid")
            if scoring != "sigmoid":
                fail("%s scoring_func %r is not supported" % (family, scoring))
            method = get(cfg, "topk_method", "noaux_tc")
            if method != "noaux_tc":
                fail("%s topk_method %r is not supported" % (family, method))
            spec.update(routing="deepseek_v3",
                        norm_topk=bool(get(cfg, "norm_topk_prob", d["norm"])),
                        scaling=float(get(cfg, "routed_scaling_factor",
                                          d["rsf"])))
        if spec["K"] is None:
            fail("num_experts_per_tok is required")
    elif family == "gpt_oss":
        k = cfg.get("num_experts_per_tok", cfg.get("experts_per_token", 4))
        spec.update(H=get(cfg, "hidden_size", 2880),
                    E=get(cfg, "num_local_experts", 128), K=k,
                    I=get(cfg, "intermediate_size", 2880),
                    num_layers=get(cfg, "num_hidden_layers", 36),
                    act="swiglu_oai", routing="softmax_after_topk",
                    router_bias=True, expert_bias=True,
                    limit=float(get(cfg, "swiglu_limit", 7.0)), alpha=1.702)
        spec["moe_layers"] = set(range(spec["num_layers"]))
    elif family in ("llama4", "llama4_text"):
        spec.update(sizes(cfg, 5120, 16, 1, 8192, 48),
                    routing="sigmoid_after_topk", placement="input")
        spec["shared"] = spec["I"]
        step = get(cfg, "interleave_moe_layer_step", 1)
        layers = cfg.get("moe_layers")
        if layers is None:
            layers = range(step - 1, spec["num_layers"], step)
        spec["moe_layers"] = set(layers)
    elif family == "dbrx":
        ffn = cfg.get("ffn_config") or {}
        act = (ffn.get("ffn_act_fn") or {}).get("name", "silu")
        p = ffn.get("moe_normalize_expert_weights", 1.0)  # explicit null: off
        spec.update(H=get(cfg, "d_model", 2048),
                    E=get(ffn, "moe_num_experts", 4),
                    K=get(ffn, "moe_top_k", 1),
                    I=get(ffn, "ffn_hidden_size", 3584),
                    num_layers=get(cfg, "n_layers", 24),
                    act=activation(act), routing="dbrx", norm_p=p)
        spec["moe_layers"] = set(range(spec["num_layers"]))
    else:
        fail("unsupported model_type %r" % family)
    layer_kind(spec, layer)

    if not 1 <= spec["K"] <= spec["E"]:
        fail("top_k %d must be in [1, %d]" % (spec["K"], spec["E"]))
    if spec.get("n_group", 1) > 1 or spec.get("topk_group", 1) > 1:
        if spec["E"] % spec["n_group"] != 0:
            fail("n_group %d does not divide %d experts"
                 % (spec["n_group"], spec["E"]))
        if not 1 <= spec["topk_group"] <= spec["n_group"]:
            fail("topk_group %d must be in [1, n_group]" % spec["topk_group"])
    return spec


# --------------------------------------------------------------------------
# Weights: drawn and stored in checkpoint layout, read back into a common
# per-expert view (gate/up [E, I, H], down [E, H, I]) for the computation.
# --------------------------------------------------------------------------

# The finite e4m3fn magnitudes by code 0..126, and e2m1's by code 0..7.
E4M3 = np.array([(c & 7) * 2.0 ** -9 if c >> 3 == 0
                 else (8 + (c & 7)) * 2.0 ** ((c >> 3) - 10)
                 for c in range(127)])
E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])


def nearest_code(table, x):
    """Codes of the magnitudes in `table` (increasing) nearest to |x|,
    ties to the even code, with the sign in the bit above the table's."""
    a = np.minimum(np.abs(x), table[-1])
    hi = np.clip(np.searchsorted(table, a), 1, len(table) - 1)
    lo = hi - 1
    dlo, dhi = a - table[lo], table[hi] - a
    code = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi,
                                            np.where(lo % 2 == 0, lo, hi)))
    sign = 128 if len(table) > 8 else 8
    return code + np.where(np.signbit(x), sign, 0)


def quantize_fp8(v, block):
    """v [out, in] -> (F8_E4M3 codes, F32 scales, dequantized values)."""
    rows, cols = v.shape
    br, bc = block if block else (rows, cols)
    sr, sc = -(-rows // br), -(-cols // bc)
    scales = np.zeros((sr, sc), dtype=np.float32)
    codes = np.zeros(v.shape, dtype=np.uint8)
    deq = np.zeros(v.shape)
    for i in range(sr):
        for j in range(sc):
            b = v[i * br:(i + 1) * br, j * bc:(j + 1) * bc]
            s = np.float32(np.abs(b).max() / 448.0) or np.float32(1.0)
            scales[i, j] = s
            c = nearest_code(E4M3, b / np.float64(s))
            codes[i * br:(i + 1) * br, j * bc:(j + 1) * bc] = c
            mag = E4M3[c & 127]
            deq[i * br:(i + 1) * br, j * bc:(j + 1) * bc] = \
                np.where(c & 128, -mag, mag) * np.float64(s)
    return codes, scales, deq


def quantize_mxfp4(v):
    """v [E, out, in] -> (U8 blocks [E, out, in/32, 16], U8 scales
    [E, out, in/32], dequantized values)."""
    E, rows, cols = v.shape
    g = v.reshape(E, rows, cols // 32, 32)
    amax = np.abs(g).max(axis=3)
    exp = np.where(amax > 0, np.floor(np.log2(np.where(amax > 0, amax, 1.0)))
                   - 2, 0).astype(np.int64)
    exp = np.clip(exp, -127, 127)
    scale = np.ldexp(1.0, exp)[..., None]
    codes = nearest_code(E2M1, g / scale)
    mag = E2M1[codes & 7]
    deq = (np.where(codes & 8, -mag, mag) * scale).reshape(E, rows, cols)
    blocks = (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)
    return blocks, (exp + 127).astype(np.uint8), deq


class WeightFile:
    def __init__(self, rng, dtype, shape_router=None, quant=None):
        self.rng, self.dtype, self.tensors = rng, dtype, []
        self.shape_router = shape_router
        self.quant = quant

    def projection(self, name, shape, fan_in):
        """An expert's projection: [out, in] (`name` ends in .weight) or
        gpt-oss's [E, in, out]; quantized when the config says so."""
        if not self.quant:
            return self.weight(name, shape, fan_in)
        bound = 1.0 / math.sqrt(fan_in)
        v = self.rng.uniform(-bound, bound, size=shape)
        # Blocks of very different magnitudes, so that a scale applied to
        # the wrong block cannot go unnoticed.
        v *= 2.0 ** self.rng.integers(-3, 4, size=shape[:-1] + (1,))
        if self.quant[0] == "fp8":
            codes, scales, deq = quantize_fp8(v, self.quant[1])
            self.tensors.append((name, shape, "F8_E4M3", codes.tobytes()))
            self.tensors.append((name + "_scale_inv", scales.shape, "F32",
                                 scales.astype("<f4").tobytes()))
            return round_to(deq, self.dtype)[0].reshape(shape)
        t = np.transpose(v, (0, 2, 1))  # [E, out, in]
        blocks, scales, deq = quantize_mxfp4(t)
        self.tensors.append((name + "_blocks", blocks.shape, "U8",
                             blocks.tobytes()))
        self.tensors.append((name + "_scales", scales.shape, "U8",
                             scales.tobytes()))
        return round_to(np.transpose(deq, (0, 2, 1)),
                        self.dtype)[0].reshape(shape)

    def add(self, name, shape, bound, keep_f32=False, role=None):
        values = self.rng.uniform(-bound, bound, size=shape)
        if role and self.shape_router:
            # ERNIE's [1, E] correction bias is shaped as a vector.
            flat = len(shape) == 2 and shape[0] == 1
            values = self.shape_router(
                role, values.reshape(-1) if flat else values,
                self.rng).reshape(shape)
        rounded, raw, st_dtype = round_to(values, "F32" if keep_f32 else self.dtype)
        self.tensors.append((name, shape, st_dtype, raw))
        return rounded.reshape(shape)

    def weight(self, name, shape, fan_in, role=None):
        return self.add(name, shape, 1.0 / math.sqrt(fan_in), role=role)

    def bias(self, name, shape, role=None):
        return self.add(name, shape, 0.1, role=role)


def stress_router(spec):
    """--stress: reshapes the router's tensors as they are drawn so that
    selection meets its corner cases: experts E-1 and E-2 tie exactly
    (equal rows and biases: the lower index wins on both sides); E-3 and
    E-4 differ by about 1% of a row (a near tie that f32 still resolves);
    with the top-2-sum group score, expert 0 dominates its group on some
    tokens while its group-mates are suppressed, so its group can be
    dropped although it holds the best expert; correction biases are
    negative or exactly zero (a negative kept score loses to a dropped
    expert's 0.0)."""
    E, G = spec["E"], spec.get("n_group", 1)
    gs = E // G

    def shape(role, values, rng):
        v = values.copy()
        if role == "router" and G > 1 and gs >= 2 and \
                spec.get("group_score", "top2_sum" if spec["routing"]
                         == "deepseek_v3" else "max") == "top2_sum":
            v[0] = 6.0 * v[0]
            v[1:gs] = -v[0] / 6.0 + 0.1 * v[1:gs]
        if role == "correction_bias":
            v = rng.uniform(-0.1, 0.03, size=v.shape)
            v[::3] = 0.0
        if role in ("router", "router_bias", "correction_bias") and E >= 4:
            v[E - 1] = v[E - 2]
            if E >= 6 and role == "router":
                v[E - 3] = v[E - 4] + 0.01 * v[E - 5]
        return v
    return shape


# --stress: token t's input is scaled by TOKEN_SCALES[t % 8], so one batch
# holds tokens whose outputs differ by five orders of magnitude (and, for
# gpt-oss, pre-activations far past swiglu_limit).
TOKEN_SCALES = [1.0, 1e-3, 30.0, 0.05, 8.0, 1.0, 0.3, 60.0]


def make_weights(spec, layer, rng, dtype, stress=False):
    H, E, I = spec["H"], spec["E"], spec["I"]
    wf = WeightFile(rng, dtype, stress_router(spec) if stress else None,
                    spec.get("quant"))
    w = {"router_bias": None, "correction_bias": None, "gate_b": None,
         "up_b": None, "down_b": None, "shared": None, "shared_gate": None}
    family = spec["family"]
    gate = np.zeros((E, I, H))
    up = np.zeros((E, I, H))
    down = np.zeros((E, H, I))

    def shared_mlp(prefix, Is):
        g = wf.projection(prefix + ".gate_proj.weight", (Is, H), H)
        u = wf.projection(prefix + ".up_proj.weight", (Is, H), H)
        d = wf.projection(prefix + ".down_proj.weight", (H, Is), Is)
        return (g, u, d)

    if family in ("mixtral", "minimax", "minimax_m2", "phimoe"):
        p = "model.layers.%d.block_sparse_moe" % layer
        w["router"] = wf.weight(p + ".gate.weight", (E, H), H,
                                role="router")
        if family == "minimax_m2":
            w["correction_bias"] = wf.add(p + ".e_score_correction_bias",
                                          (E,), 0.05, keep_f32=True,
                                          role="correction_bias")
        for e in range(E):
            q = "%s.experts.%d" % (p, e)
            gate[e] = wf.projection(q + ".w1.weight", (I, H), H)
            up[e] = wf.projection(q + ".w3.weight", (I, H), H)
            down[e] = wf.projection(q + ".w2.weight", (H, I), I)
    elif family in ("qwen2_moe", "qwen3_moe", "qwen3_next", "olmoe",
                    "deepseek_v2", "deepseek_v3", "kimi_k2", "deepseek_v32",
                    "glm4_moe", "dots1", "jamba", "hunyuan_v1_moe",
                    "ernie4_5_moe"):
        module = "feed_forward" if family == "jamba" else "mlp"
        p = "model.layers.%d.%s" % (layer, module)
        router = {"jamba": ".router.weight",
                  "hunyuan_v1_moe": ".gate.wg.weight"}.get(family,
                                                           ".gate.weight")
        w["router"] = wf.weight(p + router, (E, H), H, role="router")
        if family == "ernie4_5_moe":
            # Ernie4_5_MoeStatics: [1, E], kept in f32.
            w["correction_bias"] = wf.add(
                p + ".moe_statics.e_score_correction_bias", (1, E), 0.05,
                keep_f32=True, role="correction_bias")[0]
            if spec["shared"] > 0:
                w["shared"] = shared_mlp(p + ".shared_experts", spec["shared"])
        if spec.get("routing") == "deepseek_v3":
            w["correction_bias"] = wf.add(p + ".gate.e_score_correction_bias",
                                          (E,), 0.05, keep_f32=True,
                                          role="correction_bias")
        for e in range(E):
            q = "%s.experts.%d" % (p, e)
            gate[e] = wf.projection(q + ".gate_proj.weight", (I, H), H)
            up[e] = wf.projection(q + ".up_proj.weight", (I, H), H)
            down[e] = wf.projection(q + ".down_proj.weight", (H, I), I)
        if family in ("qwen2_moe", "qwen3_next") and spec["shared"] > 0:
            w["shared"] = shared_mlp(p + ".shared_expert", spec["shared"])
            w["shared_gate"] = wf.weight(p + ".shared_expert_gate.weight",
                                         (1, H), H)
        elif family == "hunyuan_v1_moe":
            w["shared"] = shared_mlp(p + ".shared_mlp", spec["shared"])
        elif spec["routing"] in ("deepseek_v2", "deepseek_v3"):
            if spec["shared"] > 0:
                w["shared"] = shared_mlp(p + ".shared_experts", spec["shared"])
    elif family in ("granitemoe", "granitemoeshared"):
        p = "model.layers.%d.block_sparse_moe" % layer
        w["router"] = wf.weight(p + ".router.layer.weight", (E, H), H,
                                role="router")
        # ParallelExperts: F.linear(x, W[e]); input_linear's output is
        # chunked in two, the first half activated (gate), the second up.
        gu = wf.weight(p + ".input_linear.weight", (E, 2 * I, H), H)
        down = wf.weight(p + ".output_linear.weight", (E, H, I), I)
        gate, up = gu[:, :I], gu[:, I:]
        Is = spec["shared"]
        if Is > 0:
            # GraniteMoeSharedMLP sits on the decoder layer, beside the MoE.
            q = "model.layers.%d.shared_mlp" % layer
            sgu = wf.weight(q + ".input_linear.weight", (2 * Is, H), H)
            sd = wf.weight(q + ".output_linear.weight", (H, Is), Is)
            w["shared"] = (sgu[:Is], sgu[Is:], sd)
    elif family == "gpt_oss":
        p = "model.layers.%d.mlp" % layer
        w["router"] = wf.weight(p + ".router.weight", (E, H), H,
                                role="router")
        w["router_bias"] = wf.bias(p + ".router.bias", (E,),
                                  role="router_bias")
        gu = wf.projection(p + ".experts.gate_up_proj", (E, H, 2 * I), H)
        gub = wf.bias(p + ".experts.gate_up_proj_bias", (E, 2 * I))
        dn = wf.projection(p + ".experts.down_proj", (E, I, H), I)
        w["down_b"] = wf.bias(p + ".experts.down_proj_bias", (E, H))
        # x @ gate_up_proj[e]: column j is output j; gate = 0::2, up = 1::2.
        gate = np.transpose(gu[:, :, 0::2], (0, 2, 1))
        up = np.transpose(gu[:, :, 1::2], (0, 2, 1))
        w["gate_b"], w["up_b"] = gub[:, 0::2], gub[:, 1::2]
        down = np.transpose(dn, (0, 2, 1))
    elif family in ("llama4", "llama4_text"):
        p = "%smodel.layers.%d.feed_forward" % (
            "language_model." if family == "llama4" else "", layer)
        w["router"] = wf.weight(p + ".router.weight", (E, H), H,
                                role="router")
        gu = wf.weight(p + ".experts.gate_up_proj", (E, H, 2 * I), H)
        dn = wf.weight(p + ".experts.down_proj", (E, I, H), I)
        # gate_up.chunk(2, dim=-1): gate = first I columns, up = last I.
        gate = np.transpose(gu[:, :, :I], (0, 2, 1))
        up = np.transpose(gu[:, :, I:], (0, 2, 1))
        down = np.transpose(dn, (0, 2, 1))
        w["shared"] = shared_mlp(p + ".shared_expert", spec["shared"])
    elif family == "moe-opt":
        # The kernels' layout (docs/model-schema.md): gate rows, then up rows.
        p = "model.layers.%d.moe." % layer
        gated = spec["act"] != "relu_ungated"
        rows = 2 * I if gated else I
        w["router"] = wf.weight(p + "router_weight", (E, H), H,
                                role="router")
        if spec["router_bias"]:
            w["router_bias"] = wf.bias(p + "router_bias", (E,),
                                      role="router_bias")
        if spec["correction_bias"]:
            w["correction_bias"] = wf.add(p + "correction_bias", (E,), 0.05,
                                          keep_f32=True,
                                          role="correction_bias")
        gu = wf.weight(p + "gate_up", (E, rows, H), H)
        down = wf.weight(p + "down", (E, H, I), I)
        gate, up = (gu[:, :I], gu[:, I:]) if gated else (None, gu)
        if spec["expert_bias"]:
            gub = wf.bias(p + "gate_up_bias", (E, rows))
            w["gate_b"], w["up_b"] = (gub[:, :I], gub[:, I:]) if gated \
                else (None, gub)
            w["down_b"] = wf.bias(p + "down_bias", (E, H))
        Is = spec["shared"]
        if Is > 0:
            sgu = wf.weight(p + "shared_gate_up", (2 * Is if gated else Is, H), H)
            sd = wf.weight(p + "shared_down", (H, Is), Is)
            w["shared"] = (sgu[:Is], sgu[Is:], sd) if gated else (None, sgu, sd)
        if spec["shared_gate"]:
            w["shared_gate"] = wf.weight(p + "shared_gate", (1, H), H)
    elif family == "dbrx":
        p = "transformer.blocks.%d.ffn" % layer
        w["router"] = wf.weight(p + ".router.layer.weight", (E, H), H,
                                role="router")
        w1 = wf.weight(p + ".experts.mlp.w1", (E * I, H), H)
        v1 = wf.weight(p + ".experts.mlp.v1", (E * I, H), H)
        w2 = wf.weight(p + ".experts.mlp.w2", (E * I, H), I)
        # w1.view(E, I, H)[e] is used as x @ w1_e.t(); w2.view(E, I, H)[e]
        # as h @ w2_e.
        gate = w1.reshape(E, I, H)
        up = v1.reshape(E, I, H)
        down = np.transpose(w2.reshape(E, I, H), (0, 2, 1))
    w["gate"], w["up"], w["down"] = gate, up, down
    return w, wf.tensors


# --------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------

def softmax(v):
    m = v.max(axis=-1, keepdims=True)
    e = np.exp(v - m)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def topk(scores, k):
    """Indices of the k largest entries per row, ties toward lower index."""
    order = np.argsort(-scores, axis=-1, kind="stable")
    return order[:, :k]


def gap_ties(scores, k):
    """Tokens whose k-th and (k+1)-th largest scores differ by < NEAR_TIE
    (exact ties are counted: both sides take the lower index)."""
    if k >= scores.shape[1]:
        return np.zeros(scores.shape[0], dtype=bool)
    s = -np.sort(-scores, axis=-1)
    gap = s[:, k - 1] - s[:, k]
    STATS["exact ties"] += int(np.count_nonzero(gap == 0))
    return gap < NEAR_TIE


def drop_groups(choice, mask, k):
    """transformers' masked_fill(~mask, 0.0) before the final top-k: an
    expert of a dropped group scores 0.0, and so beats a kept expert whose
    biased score is negative."""
    best = np.argmax(choice, axis=1)
    STATS["best expert in a dropped group"] += int(np.count_nonzero(
        ~mask[np.arange(choice.shape[0]), best]))
    masked = np.where(mask, choice, 0.0)
    chosen = np.take_along_axis(mask, topk(masked, k), axis=1)
    STATS["dropped-group expert chosen"] += int(np.count_nonzero(
        ~chosen.all(axis=1)))
    return masked


def group_mask(group_scores, topk_group, group_size):
    kept = topk(group_scores, topk_group)
    mask = np.zeros(group_scores.shape, dtype=bool)
    np.put_along_axis(mask, kept, True, axis=1)
    return np.repeat(mask, group_size, axis=1)


def route(spec, w, x):
    """Returns (indices [T, K], weights [T, K], near-tie mask [T])."""
    T = x.shape[0]
    E, K = spec["E"], spec["K"]
    logits = x @ w["router"].T
    if w["router_bias"] is not None:
        logits = logits + w["router_bias"]
    kind = spec["routing"]
    ties = np.zeros(T, dtype=bool)

    if kind in ("softmax", "dbrx"):
        probs = softmax(logits)
        idx = topk(probs, K)
        wts = np.take_along_axis(probs, idx, axis=1)
        ties |= gap_ties(probs, K)
        if kind == "softmax" and spec["norm_topk"]:
            wts = wts / wts.sum(axis=1, keepdims=True)
        if kind == "dbrx" and spec["norm_p"] is not None:
            p = float(spec["norm_p"])
            norm = (np.abs(wts) ** p).sum(axis=1, keepdims=True) ** (1.0 / p)
            wts = wts / norm
    elif kind == "deepseek_v2":
        probs = softmax(logits)
        scores = probs
        if spec["topk_method"] == "group_limited_greedy":
            G, TG = spec["n_group"], spec["topk_group"]
            gscores = probs.reshape(T, G, E // G).max(axis=2)
            ties |= gap_ties(gscores, TG)
            scores = drop_groups(probs, group_mask(gscores, TG, E // G), K)
        idx = topk(scores, K)
        wts = np.take_along_axis(scores, idx, axis=1)
        ties |= gap_ties(scores, K)
        if K > 1 and spec["norm_topk"]:
            wts = wts / (wts.sum(axis=1, keepdims=True) + 1e-20)
        else:
            wts = wts * spec["scaling"]
    elif kind == "deepseek_v3":
        s = sigmoid(logits)
        choice = s + w["correction_bias"][None, :]
        G, TG = spec["n_group"], spec["topk_group"]
        gs = E // G
        if gs < 2:
            fail("groups of %d expert(s): the top-2 group score needs 2" % gs)
        top2 = -np.sort(-choice.reshape(T, G, gs), axis=2)[:, :, :2]
        gscores = top2.sum(axis=2)
        ties |= gap_ties(gscores, TG)
        choice = drop_groups(choice, group_mask(gscores, TG, gs), K)
        idx = topk(choice, K)
        ties |= gap_ties(choice, K)
        wts = np.take_along_axis(s, idx, axis=1)
        if spec["norm_topk"]:
            wts = wts / (wts.sum(axis=1, keepdims=True) + 1e-20)
        wts = wts * spec["scaling"]
    elif kind in ("ernie", "minimax_m2"):
        # Scores (ERNIE: softmax, MiniMax-M2: sigmoid) plus the bias choose;
        # the chosen scores, divided by their sum (ERNIE: clamped from
        # below at moe_norm_min), weigh.
        s = softmax(logits) if kind == "ernie" else sigmoid(logits)
        choice = s + w["correction_bias"][None, :]
        idx = topk(choice, K)
        ties |= gap_ties(choice, K)
        wts = np.take_along_axis(s, idx, axis=1)
        wts = wts / np.maximum(wts.sum(axis=1, keepdims=True),
                               spec.get("norm_min", 0.0))
    elif kind == "sparsemixer":
        idx, wts = sparsemixer(logits, K, spec["jitter_eps"], ties)
    elif kind == "softmax_after_topk":
        idx = topk(logits, K)
        ties |= gap_ties(logits, K)
        wts = softmax(np.take_along_axis(logits, idx, axis=1))
    elif kind == "sigmoid_after_topk":
        idx = topk(logits, K)
        ties |= gap_ties(logits, K)
        wts = sigmoid(np.take_along_axis(logits, idx, axis=1))
    elif kind == "generic":
        idx, wts, ties = route_generic(spec, w, logits, ties)
    else:
        raise AssertionError(kind)
    return idx, wts, ties


def sparsemixer(scores, k, jitter_eps, ties):
    """transformers' PhiMoE sparsemixer at inference (training=False), its
    two rounds generalized to k: round j takes the argmax of the scores with
    the earlier winners at -inf; `factor = scores.abs().clamp(min=max)`;
    experts whose `(max - scores) / factor > 2 * jitter_eps` are masked to
    -inf; the winner's weight is its softmax probability among the rest.
    Tokens with a gap within 1e-6 of the threshold are near ties."""
    T, E = scores.shape
    masked = scores.copy()
    idx = np.zeros((T, k), dtype=np.int64)
    wts = np.zeros((T, k))
    for j in range(k):
        ties |= gap_ties(masked, 1)
        top = masked.max(axis=1, keepdims=True)
        sel = np.argmax(masked, axis=1)
        factor = np.maximum(np.abs(scores), top)
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = (top - scores) / factor
        near = np.abs(gap - 2 * jitter_eps) < NEAR_TIE
        near[np.arange(T), sel] = False  # the winner's own gap is 0
        ties |= near.any(axis=1)
        gates = np.where(gap > 2 * jitter_eps, -np.inf, masked)
        STATS["sparsemixer rounds keeping several experts"] += int(
            np.count_nonzero(np.isfinite(gates).sum(axis=1) > 1))
        probs = softmax(gates)
        idx[:, j] = sel
        wts[:, j] = probs[np.arange(T), sel]
        masked[np.arange(T), sel] = -np.inf
    return idx, wts


def route_generic(spec, w, logits, ties):
    """moe-opt's own schema, as docs/model-schema.md describes its fields."""
    E, K = spec["E"], spec["K"]
    T = logits.shape[0]
    if spec["scoring"] == "sparsemixer":
        idx, wts = sparsemixer(logits, K, spec["jitter_eps"], ties)
    elif spec["scoring"] in ("softmax_after_topk", "sigmoid_after_topk"):
        idx = topk(logits, K)
        ties |= gap_ties(logits, K)
        chosen = np.take_along_axis(logits, idx, axis=1)
        wts = softmax(chosen) if spec["scoring"] == "softmax_after_topk" \
            else sigmoid(chosen)
    else:
        s = softmax(logits) if spec["scoring"] == "softmax" else sigmoid(logits)
        choice = s
        if w["correction_bias"] is not None:
            choice = s + w["correction_bias"][None, :]
        G, TG = spec["n_group"], spec["topk_group"]
        if G > 1:
            gs = E // G
            grouped = -np.sort(-choice.reshape(T, G, gs), axis=2)
            gscores = grouped[:, :, 0] if spec["group_score"] == "max" \
                else grouped[:, :, :2].sum(axis=2)
            ties |= gap_ties(gscores, TG)
            choice = drop_groups(choice, group_mask(gscores, TG, gs), K)
        idx = topk(choice, K)
        ties |= gap_ties(choice, K)
        wts = np.take_along_axis(s, idx, axis=1)
    if spec["normalization"] == "sum":
        wts = wts / (np.maximum(wts.sum(axis=1, keepdims=True),
                                spec["norm_min"]) + spec["norm_eps"])
    elif spec["normalization"] == "pnorm":
        p = spec["norm_p"]
        norm = (np.abs(wts) ** p).sum(axis=1, keepdims=True) ** (1.0 / p)
        wts = wts / (np.maximum(norm, spec["norm_min"]) + spec["norm_eps"])
    return idx, wts * spec["scaling"], ties


# --------------------------------------------------------------------------
# Experts
# --------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])


def act(name, v):
    if name == "silu":
        return v * sigmoid(v)
    if name == "gelu":
        return 0.5 * v * (1.0 + _erf(v / math.sqrt(2.0)))
    if name == "gelu_tanh":
        return 0.5 * v * (1.0 + np.tanh(math.sqrt(2.0 / math.pi)
                                        * (v + 0.044715 * v ** 3)))
    if name == "relu":
        return np.maximum(v, 0.0)
    raise AssertionError(name)


def ffn(spec, gate, up, down, xs, gate_b=None, up_b=None, down_b=None):
    """One gated (or, for relu_ungated, plain) FFN on rows xs."""
    u = xs @ up.T + (0.0 if up_b is None else up_b)
    if spec["act"] == "relu_ungated":
        h = np.maximum(u, 0.0)
    else:
        g = xs @ gate.T + (0.0 if gate_b is None else gate_b)
        if spec["act"] == "swiglu_oai":
            # gpt-oss: the gate clamped from above only, up both ways and
            # shifted by one.
            limit, alpha = spec["limit"], spec["alpha"]
            STATS["values past swiglu_limit"] += int(
                np.count_nonzero((g > limit) | (np.abs(u) > limit)))
            g = np.minimum(g, limit)
            u = np.clip(u, -limit, limit)
            h = (u + 1.0) * (g * sigmoid(alpha * g))
        else:
            h = act(spec["act"], g) * u
    return h @ down.T + (0.0 if down_b is None else down_b)


def expert_ffn(spec, w, e, xs):
    def pick(name):
        return None if w[name] is None else w[name][e]
    return ffn(spec, None if w["gate"] is None else w["gate"][e], w["up"][e],
               w["down"][e], xs, pick("gate_b"), pick("up_b"), pick("down_b"))


def moe_block(spec, w, x):
    T, H = x.shape
    idx, wts, ties = route(spec, w, x)
    y = np.zeros((T, H))
    for e in range(spec["E"]):
        tok, slot = np.nonzero(idx == e)
        if tok.size == 0:
            continue
        weight = wts[tok, slot][:, None]
        if spec["placement"] == "input":
            y[tok] += expert_ffn(spec, w, e, x[tok] * weight)
        else:
            y[tok] += expert_ffn(spec, w, e, x[tok]) * weight
    if w["shared"] is not None:
        g, u, d = w["shared"]
        out = ffn(spec, g, u, d, x)
        if w["shared_gate"] is not None:
            out = out * sigmoid(x @ w["shared_gate"].T)
        y += out
    return y, ties


def main():
    global NEAR_TIE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--layer", type=int, required=True)
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--dtype", choices=["f32", "f16", "bf16"], required=True)
    parser.add_argument("--weights-out", required=True)
    parser.add_argument("--input-out", required=True)
    parser.add_argument("--expected-out", required=True)
    parser.add_argument("--stress", action="store_true",
                        help="shape the router and the input to reach ties, "
                        "dropped groups, negative biases, the swiglu clamp "
                        "and tokens of very different magnitudes")
    parser.add_argument("--near-tie", type=float, default=NEAR_TIE,
                        help="selection margin below which a token is named "
                        "(0: none is, and exact ties go to the lower index "
                        "on both sides)")
    args = parser.parse_args()
    if args.tokens < 1:
        fail("--tokens must be positive")
    NEAR_TIE = args.near_tie

    spec = read_config(args.config, args.layer)
    st_dtype = {"f32": "F32", "f16": "F16", "bf16": "BF16"}[args.dtype]
    expected = {"f32": "float32", "f16": "float16",
                "bf16": "bfloat16"}[args.dtype]
    if spec["config_dtype"] not in (None, expected):
        note("warning: --dtype %s but the config says %s"
             % (args.dtype, spec["config_dtype"]))

    rng = np.random.default_rng(args.seed)
    w, tensors = make_weights(spec, args.layer, rng, st_dtype, args.stress)
    x = rng.uniform(-1.0, 1.0, size=(args.tokens, spec["H"]))
    if args.stress:
        x *= np.resize(TOKEN_SCALES, args.tokens)[:, None]
    x, x_raw, _ = round_to(x, st_dtype)
    x = x.reshape(args.tokens, spec["H"])
    write_safetensors(args.weights_out, tensors)
    write_safetensors(args.input_out,
                      [("hidden_states", x.shape, st_dtype, x_raw)])

    y, ties = moe_block(spec, w, x)
    write_safetensors(args.expected_out,
                      [("hidden_states", y.shape, "F32",
                        y.astype("<f4").tobytes())])
    for t in np.nonzero(ties)[0]:
        print("near-tie token %d" % t)
    for name, count in STATS.items():
        print("branch: %s: %d" % (name, count))
    if w["correction_bias"] is not None:
        b = w["correction_bias"]
        print("branch: correction biases negative/zero: %d/%d"
              % (np.count_nonzero(b < 0), np.count_nonzero(b == 0)))
    mags = np.abs(y).max(axis=1)
    print("branch: tokens below 1e-3 of the largest token: %d (max|y| %.3g "
          "to %.3g)" % (np.count_nonzero(mags < 1e-3 * mags.max()),
                        mags.min(), mags.max()))
    note("%s layer %d: H %d, %d experts, top-%d, I %d, shared %d; %d tokens, "
         "%s; %d near-tie tokens"
         % (spec["family"], args.layer, spec["H"], spec["E"], spec["K"],
            spec["I"], spec["shared"], args.tokens, args.dtype,
            int(ties.sum())))


if __name__ == "__main__":
    main()
