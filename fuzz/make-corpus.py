#!/usr/bin/env python3
"""Regenerates the seed corpora under fuzz/corpus/ (standard library only).

  python3 fuzz/make-corpus.py

import-json/  the published configs (test/Import/Inputs/*.config.json), the
              examples (examples/*.json), every `#--- NAME.json` section of
              the lit tests (good and bad descriptions of every family), and
              the hand-made ones below (small configs of each family, bad
              JSON).
mlir/         the .mlir tests of the dialect, the passes, the exporter and
              the lowering, split at `// -----` and at `//--- NAME` sections.
safetensors/  small files written here: F32, F16 and BF16, with and without
              __metadata__, scalars and zero-element tensors, plus broken
              ones (truncated, bad JSON, overlaps, wrong sizes, ...).

The corpora are committed; rerun this after adding tests and commit the
result. Files are named after their source, so reruns are stable.
"""

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def reset(name):
    path = CORPUS / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def write(directory, name, data):
    path = directory / name
    assert not path.exists(), f"duplicate corpus file {path}"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def split_sections(text, marker):
    """The `<marker> NAME` sections of a split-file test, as (name, body)."""
    sections = []
    pattern = re.compile(r"^" + re.escape(marker) + r" (\S+)\s*$", re.M)
    matches = list(pattern.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections.append((m.group(1), text[m.end() + 1:end]))
    return sections


# --------------------------------------------------------------------------
# import-json
# --------------------------------------------------------------------------

HAND_MADE_JSON = {
    # One small config per family, with the fields the reader looks at.
    "hand-mixtral.json": {
        "model_type": "mixtral", "hidden_size": 64, "num_hidden_layers": 2,
        "num_local_experts": 4, "num_experts_per_tok": 2,
        "intermediate_size": 32, "hidden_act": "silu",
        "torch_dtype": "bfloat16"},
    "hand-olmoe.json": {
        "model_type": "olmoe", "hidden_size": 64, "num_hidden_layers": 2,
        "num_experts": 8, "num_experts_per_tok": 2, "intermediate_size": 16,
        "norm_topk_prob": True, "dtype": "float32"},
    "hand-qwen2-moe.json": {
        "model_type": "qwen2_moe", "hidden_size": 64, "num_hidden_layers": 4,
        "num_experts": 8, "num_experts_per_tok": 2,
        "moe_intermediate_size": 16, "shared_expert_intermediate_size": 32,
        "decoder_sparse_step": 2, "mlp_only_layers": [0],
        "norm_topk_prob": False, "torch_dtype": "float16"},
    "hand-qwen3-moe.json": {
        "model_type": "qwen3_moe", "hidden_size": 64, "num_hidden_layers": 3,
        "num_experts": 8, "num_experts_per_tok": 4,
        "moe_intermediate_size": 16, "norm_topk_prob": True,
        "mlp_only_layers": [], "decoder_sparse_step": 1},
    "hand-deepseek-v2.json": {
        "model_type": "deepseek_v2", "hidden_size": 64,
        "num_hidden_layers": 3, "n_routed_experts": 8,
        "num_experts_per_tok": 2, "moe_intermediate_size": 16,
        "n_shared_experts": 2, "first_k_dense_replace": 1,
        "moe_layer_freq": 1, "topk_method": "group_limited_greedy",
        "n_group": 4, "topk_group": 2, "routed_scaling_factor": 16.0,
        "scoring_func": "softmax", "norm_topk_prob": False},
    "hand-deepseek-v3.json": {
        "model_type": "deepseek_v3", "hidden_size": 64,
        "num_hidden_layers": 4, "n_routed_experts": 16,
        "num_experts_per_tok": 4, "moe_intermediate_size": 16,
        "n_shared_experts": 1, "first_k_dense_replace": 1, "n_group": 4,
        "topk_group": 2, "topk_method": "noaux_tc", "scoring_func": "sigmoid",
        "norm_topk_prob": True, "routed_scaling_factor": 2.5,
        "quantization_config": {"quant_method": "fp8"}},
    "hand-kimi-k2.json": {
        "model_type": "kimi_k2", "hidden_size": 32, "num_hidden_layers": 2,
        "n_routed_experts": 8, "num_experts_per_tok": 2,
        "moe_intermediate_size": 8, "first_k_dense_replace": 0, "n_group": 1,
        "topk_group": 1},
    "hand-gpt-oss.json": {
        "model_type": "gpt_oss", "hidden_size": 64, "num_hidden_layers": 2,
        "num_local_experts": 4, "num_experts_per_tok": 2,
        "intermediate_size": 32, "swiglu_limit": 7.0,
        "quantization_config": {"quant_method": "mxfp4"}},
    "hand-llama4.json": {
        "model_type": "llama4", "text_config": {
            "model_type": "llama4_text", "hidden_size": 64,
            "num_hidden_layers": 4, "num_local_experts": 4,
            "num_experts_per_tok": 1, "intermediate_size": 32,
            "interleave_moe_layer_step": 2},
        "torch_dtype": "bfloat16"},
    "hand-llama4-text.json": {
        "model_type": "llama4_text", "hidden_size": 64,
        "num_hidden_layers": 4, "num_local_experts": 4,
        "num_experts_per_tok": 1, "intermediate_size": 32,
        "moe_layers": [1, 3]},
    "hand-dbrx.json": {
        "model_type": "dbrx", "d_model": 64, "n_layers": 2,
        "ffn_config": {"moe_num_experts": 4, "moe_top_k": 2,
                       "ffn_hidden_size": 32,
                       "moe_normalize_expert_weights": 1,
                       "ffn_act_fn": {"name": "silu"}}},
    # moe-opt's own schema: every optional field, relu, a shared expert.
    "hand-own-full.json": {
        "format": "moe-opt/v1", "name": "own", "source": "moe-opt",
        "hidden_size": 16, "num_layers": 3, "dtype": "f16",
        "moe_layers": [
            {"layers": [0, 2], "num_experts": 4, "intermediate_size": 8,
             "routing": {"scoring": "softmax", "top_k": 2,
                         "normalization": "pnorm", "norm_p": 2.0,
                         "norm_epsilon": 1e-6, "n_group": 2,
                         "topk_group": 1, "group_score": "max",
                         "scaling_factor": 1.5, "placement": "output",
                         "router_bias": True, "correction_bias": False},
             "experts": {"activation": "relu", "alpha": 1.0, "limit": 3.0,
                         "bias": True},
             "shared_expert": {"intermediate_size": 8,
                               "sigmoid_gate": True}},
            {"layers": [1], "num_experts": 2, "intermediate_size": 4,
             "routing": {"scoring": "sigmoid_after_topk", "top_k": 1,
                         "placement": "input"},
             "experts": {"activation": "swiglu_oai"}}]},
    "hand-own-minimal.json": {
        "format": "moe-opt/v1", "name": "m", "hidden_size": 8,
        "num_layers": 1, "dtype": "bf16",
        "moe_layers": [{"layers": [0], "num_experts": 2,
                        "intermediate_size": 4,
                        "routing": {"scoring": "softmax", "top_k": 1},
                        "experts": {"activation": "gelu_glu"}}]},
}

BAD_JSON = {
    "bad-empty.json": "",
    "bad-not-object.json": "[1, 2, 3]\n",
    "bad-truncated.json": '{"model_type": "mixtral", "hidden_size": 6',
    "bad-trailing-comma.json": '{"model_type": "mixtral",}\n',
    "bad-duplicate-key.json":
        '{"model_type": "mixtral", "model_type": "dbrx"}\n',
    "bad-nul-byte.json": '{"model_type": "mix\x00tral"}\n',
    "bad-deep-nesting.json": "[" * 70 + "]" * 70 + "\n",
    "bad-invalid-utf8.json": b'{"format": "moe-opt/v1", "name": "\xff\xfe"}\n',
    "bad-huge-number.json":
        '{"model_type": "mixtral", "hidden_size": 1e400}\n',
    "bad-neither-schema.json": '{"name": "x"}\n',
    "bad-unknown-model-type.json": '{"model_type": "llama"}\n',
    "bad-negative-sizes.json":
        '{"model_type": "mixtral", "hidden_size": -1, "num_hidden_layers": 2,'
        ' "num_local_experts": 4, "num_experts_per_tok": 2,'
        ' "intermediate_size": 8}\n',
    "bad-int64-overflow.json":
        '{"model_type": "mixtral", "hidden_size": 18446744073709551615,'
        ' "num_hidden_layers": 9223372036854775807, "num_local_experts": 4,'
        ' "num_experts_per_tok": 2, "intermediate_size": 8}\n',
    "bad-escapes-in-keys.json":
        '{"model_\\u0074ype": "mixtral", "hidden\\"size": 4, "\\ud83d\\ude00": 1}\n',
}


def make_import_json():
    out = reset("import-json")
    for path in sorted((ROOT / "test/Import/Inputs").glob("*.config.json")):
        write(out, "published-" + path.name, path.read_bytes())
    for path in sorted((ROOT / "examples").glob("*.json")):
        write(out, "example-" + path.name, path.read_bytes())
    for test in sorted((ROOT / "test").rglob("*.test")):
        stem = test.relative_to(ROOT / "test").with_suffix("")
        prefix = "test-" + "-".join(stem.parts).lower()
        for name, body in split_sections(test.read_text(), "#---"):
            if name.endswith(".json"):
                write(out, f"{prefix}-{name}", body)
    for name, value in HAND_MADE_JSON.items():
        write(out, name, json.dumps(value, indent=1) + "\n")
    for name, text in BAD_JSON.items():
        write(out, name, text)
    return out


# --------------------------------------------------------------------------
# mlir
# --------------------------------------------------------------------------

def top_level_ops(lines):
    """The top-level ops of a test file: each from an unindented line that
    starts an op to the unindented `}` that closes it."""
    pieces, current = [], None
    for line in lines:
        if current is None:
            if re.match(r"(func\.func|module)\b", line):
                current = [line]
                if line.rstrip().endswith("}") and line.count("{") == line.count("}"):
                    pieces.append(line + "\n")
                    current = None
            continue
        current.append(line)
        if line.startswith("}"):
            pieces.append("\n".join(current) + "\n")
            current = None
    return pieces


# Every moe op with fully static shapes: one number changed by the fuzzer
# then reaches the verifiers' and the passes' size arithmetic (T * K, E + 1,
# 2 * I), which dynamic token counts skip.
HAND_MADE_MLIR = {
    "hand-static-router-gate.mlir": """\
func.func @f(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) -> (tensor<4x2xf32>, tensor<4x2xi32>) {
  %l = moe.router %x, %w bias %b : tensor<4x16xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %w2, %i = moe.gate %l correction_bias %b routing <scoring = sigmoid, topK = 2, normalization = sum, nGroup = 4, topkGroup = 2, groupScore = top2_sum> : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return %w2, %i : tensor<4x2xf32>, tensor<4x2xi32>
}
""",
    "hand-static-dispatch.mlir": """\
func.func @f(%ids: tensor<4x2xi32>) -> (tensor<8xi32>, tensor<9xi32>) {
  %p, %o = moe.dispatch %ids {num_experts = 8} : tensor<4x2xi32> -> tensor<8xi32>, tensor<9xi32>
  return %p, %o : tensor<8xi32>, tensor<9xi32>
}
""",
    "hand-static-experts-combine.mlir": """\
func.func @f(%x: tensor<4x16xf32>, %p: tensor<8xi32>, %o: tensor<9xi32>, %gu: tensor<8x16x16xf32>, %d: tensor<8x16x8xf32>, %w: tensor<4x2xf32>) -> tensor<4x16xf32> {
  %r = moe.experts %x, %p, %o, %gu, %d ffn <activation = silu_glu> {top_k = 2} : (tensor<4x16xf32>, tensor<8xi32>, tensor<9xi32>, tensor<8x16x16xf32>, tensor<8x16x8xf32>) -> tensor<8x16xf32>
  %c = moe.combine %r, %p weights %w {top_k = 2} : (tensor<8x16xf32>, tensor<8xi32>, tensor<4x2xf32>) -> tensor<4x16xf32>
  return %c : tensor<4x16xf32>
}
""",
    "hand-static-shared-expert-no-gate.mlir": """\
func.func @f(%x: tensor<4x16xf32>, %gu: tensor<16x16xf32>, %d: tensor<16x8xf32>) -> tensor<4x16xf32> {
  %0 = moe.shared_expert %x, %gu, %d ffn <activation = gelu_glu> : (tensor<4x16xf32>, tensor<16x16xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}
""",
    "hand-static-layer.mlir": """\
module attributes {moe.model = {name = "s", source = "moe-opt", num_layers = 2 : i64}, moe.layer_map = {f = array<i64: 0, 1>}} {
  func.func @f(%x: tensor<4x16xf32>, %rw: tensor<8x16xf32>, %gu: tensor<8x8x16xf32>, %d: tensor<8x16x8xf32>, %sgu: tensor<8x16xf32>, %sd: tensor<16x8xf32>) -> tensor<4x16xf32> {
    %0 = moe.layer %x, %rw experts(%gu, %d) shared(%sgu, %sd) routing <scoring = softmax, topK = 2, normalization = sum> ffn <activation = relu> : (tensor<4x16xf32>, tensor<8x16xf32>, tensor<8x8x16xf32>, tensor<8x16x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
    return %0 : tensor<4x16xf32>
  }
}
""",
}


def make_mlir():
    out = reset("mlir")
    for name, text in HAND_MADE_MLIR.items():
        write(out, name, text)
    sources = []
    for folder in ("Dialect/Moe", "Transforms", "Export", "Tools",
                   "Conversion/MoeToLinalg"):
        sources += sorted((ROOT / "test" / folder).glob("*.mlir"))
    for path in sources:
        prefix = "-".join(path.relative_to(ROOT / "test").with_suffix("")
                          .parts).lower()
        text = path.read_text()
        sections = split_sections(text, "//---")
        if sections:
            for name, body in sections:
                if name.endswith(".mlir"):
                    write(out, f"{prefix}-{name}", body)
            continue
        chunks = re.split(r"^// -----\s*$", text, flags=re.M)
        for i, chunk in enumerate(chunks):
            # Drop the RUN/CHECK comments: they only lengthen the inputs.
            lines = [l for l in chunk.splitlines()
                     if not re.match(r"\s*//\s*(RUN|CHECK|[A-Z_]+:)", l)]
            body = "\n".join(lines).strip() + "\n"
            if body.strip():
                write(out, f"{prefix}-{i:02d}.mlir", body)
            # Each top-level op (func.func, module) also on its own: short
            # inputs mutate better.
            pieces = top_level_ops(lines)
            if len(pieces) > 1:
                for j, piece in enumerate(pieces):
                    write(out, f"{prefix}-{i:02d}-{j:02d}.mlir", piece)
    # What the importer hands moe-opt's passes: the module of each example
    # and hand-made description (skipped when no moe-translate is built).
    translate = Path(os.environ.get("MOE_TRANSLATE",
                                    ROOT / "build/bin/moe-translate"))
    if translate.exists():
        inputs = sorted((ROOT / "examples").glob("*.json"))
        inputs += sorted((CORPUS / "import-json").glob("hand-*.json"))
        for path in inputs:
            result = subprocess.run(
                [str(translate), "--import-moe-json", str(path)],
                capture_output=True, text=True)
            if result.returncode == 0:
                name = path.name.replace(".config.json", "-hf.json")
                name = name.replace(".json", ".mlir")
                write(out, "imported-" + name, result.stdout)
    else:
        print(f"note: {translate} not built; no imported-*.mlir seeds")
    return out


# --------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------

def f16_bits(value):
    return struct.unpack("<H", struct.pack("<e", value))[0]


def bf16_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0] >> 16


def encode(dtype, values):
    if dtype == "F32":
        return struct.pack(f"<{len(values)}f", *values)
    if dtype == "F16":
        return struct.pack(f"<{len(values)}H", *[f16_bits(v) for v in values])
    if dtype == "BF16":
        return struct.pack(f"<{len(values)}H", *[bf16_bits(v) for v in values])
    raise ValueError(dtype)


def safetensors(tensors, metadata=None, pad=True, order=None):
    """A file in the layout the Python package writes. `tensors` maps
    name -> (dtype, shape, values)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name in order or sorted(tensors):
        dtype, shape, values = tensors[name]
        blob = encode(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def raw(header_text, data=b"", length=None):
    header = header_text.encode() if isinstance(header_text, str) else header_text
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def make_safetensors():
    out = reset("safetensors")
    vals = [0.5, -1.25, 3.0, 0.0, -0.0, 65504.0]
    good = {
        "f32-2x3-metadata.safetensors": safetensors(
            {"w": ("F32", [2, 3], vals)}, metadata={"format": "pt"}),
        "f16-vector.safetensors": safetensors(
            {"bias": ("F16", [6], vals)}),
        "bf16-matrix.safetensors": safetensors(
            {"model.layers.0.mlp.gate.weight": ("BF16", [2, 2],
                                                [1.0, -2.0, 0.25, 1e-3])},
            metadata={"format": "pt", "source": "moe-run"}),
        "f32-scalar.safetensors": safetensors({"s": ("F32", [], [42.0])}),
        "zero-element.safetensors": safetensors(
            {"empty": ("F32", [0, 4], []), "after": ("F16", [1], [1.0])}),
        "mixed-dtypes.safetensors": safetensors(
            {"a": ("F32", [2], [1.0, 2.0]), "b": ("F16", [3], [1, 2, 3]),
             "c": ("BF16", [1, 2], [-1.0, 1.0])},
            metadata={}),
        "unpadded-header.safetensors": safetensors(
            {"x": ("F32", [1], [1.0])}, pad=False),
        # Offsets in the header not in name order.
        "offsets-unsorted.safetensors": safetensors(
            {"a": ("F16", [2], [1, 2]), "b": ("F32", [1], [3.0])},
            order=["b", "a"]),
        "moe-layer-names.safetensors": safetensors({
            "model.layers.0.block_sparse_moe.gate.weight":
                ("BF16", [2, 4], [0.1] * 8),
            "model.layers.0.block_sparse_moe.experts.0.w1.weight":
                ("BF16", [2, 4], [0.2] * 8),
            "model.layers.0.block_sparse_moe.experts.0.w2.weight":
                ("BF16", [4, 2], [0.3] * 8),
            "model.layers.0.block_sparse_moe.experts.0.w3.weight":
                ("BF16", [2, 4], [0.4] * 8)}),
        "nan-inf.safetensors": safetensors(
            {"f": ("F32", [3], [float("nan"), float("inf"), -float("inf")]),
             "h": ("F16", [2], [float("nan"), float("inf")])}),
        "unicode-name.safetensors": safetensors(
            {"t\u00e9nsor\U0001F600": ("F32", [1], [1.0])},
            metadata={"n\u00f6te": "\u00fc"}),
    }
    bad = {
        "bad-empty.safetensors": b"",
        "bad-short.safetensors": b"\x08\x00\x00\x00\x00\x00\x00",
        "bad-header-past-end.safetensors": raw("{}", length=64),
        "bad-header-too-large.safetensors": raw("{}", length=200 << 20),
        "bad-header-not-json.safetensors": raw("{not json}"),
        "bad-header-array.safetensors": raw("[]"),
        "bad-nul-in-header.safetensors": raw('{"a\x00":1}'),
        "bad-duplicate-name.safetensors": raw(
            '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
            '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
            b"\0" * 4),
        "bad-overlap.safetensors": raw(
            '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
            b"\0" * 8),
        "bad-dtype.safetensors": raw(
            '{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
        "bad-size-mismatch.safetensors": raw(
            '{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}',
            b"\0" * 4),
        "bad-offsets-past-data.safetensors": raw(
            '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}',
            b"\0" * 8),
        "bad-negative-dim.safetensors": raw(
            '{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}'),
        "bad-overflow-shape.safetensors": raw(
            '{"a":{"dtype":"F32","shape":[4294967296,4294967296,0],'
            '"data_offsets":[0,0]}}'),
        "bad-metadata-not-string.safetensors": raw(
            '{"__metadata__":{"format":1}}'),
        "bad-metadata-not-object.safetensors": raw('{"__metadata__":[]}'),
        "bad-begin-after-end.safetensors": raw(
            '{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}',
            b"\0" * 8),
        "bad-missing-fields.safetensors": raw('{"a":{"dtype":"F32"}}'),
        "bad-deep-nesting.safetensors": raw(
            '{"a":' + "[" * 20 + "]" * 20 + "}"),
    }
    for name, data in {**good, **bad}.items():
        write(out, name, data)
    return out


if __name__ == "__main__":
    for make in (make_import_json, make_mlir, make_safetensors):
        directory = make()
        count = sum(1 for _ in directory.iterdir())
        print(f"{directory.relative_to(ROOT)}: {count} files")
