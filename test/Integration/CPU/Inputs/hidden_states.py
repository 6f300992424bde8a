#!/usr/bin/env python3
"""Test inputs the random generator cannot make, written as safetensors with
the standard library only.

  hidden_states.py same-rows OUT --tokens T --hidden H --dtype {f32,bf16}
      hidden_states [T, H] whose rows are all equal (every token routes the
      same way).
  hidden_states.py copy-row IN OUT --tensor NAME --from I --to J
      IN with row J of tensor NAME replaced by row I (a router weight with
      two equal rows makes an exact tie between two experts).
"""
import argparse
import json
import random
import struct


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return header, data[8 + n:]


def write(path, tensors):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, offset, blobs = {}, 0, []
    for name, dtype, shape, raw in sorted(tensors):
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def to_bf16(value):
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    bits += 0x7FFF + ((bits >> 16) & 1)  # round to nearest even
    return struct.pack("<H", bits >> 16)


def same_rows(args):
    rng = random.Random(7)
    row = [rng.uniform(-1, 1) for _ in range(args.hidden)]
    if args.dtype == "bf16":
        raw = b"".join(to_bf16(v) for v in row) * args.tokens
        dtype = "BF16"
    else:
        raw = struct.pack(f"<{args.hidden}f", *row) * args.tokens
        dtype = "F32"
    write(args.out, [("hidden_states", dtype, [args.tokens, args.hidden], raw)])


def copy_row(args):
    header, data = read(args.input)
    tensors = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[begin:end])
        if name == args.tensor:
            row = (end - begin) // entry["shape"][0]
            raw[args.to * row:(args.to + 1) * row] = \
                raw[args.source * row:(args.source + 1) * row]
        tensors.append((name, entry["dtype"], entry["shape"], bytes(raw)))
    write(args.output, tensors)


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="command", required=True)
p = sub.add_parser("same-rows")
p.add_argument("out")
p.add_argument("--tokens", type=int, required=True)
p.add_argument("--hidden", type=int, required=True)
p.add_argument("--dtype", choices=["f32", "bf16"], required=True)
p = sub.add_parser("copy-row")
p.add_argument("input")
p.add_argument("output")
p.add_argument("--tensor", required=True)
p.add_argument("--from", dest="source", type=int, required=True)
p.add_argument("--to", type=int, required=True)
args = parser.parse_args()
{"same-rows": same_rows, "copy-row": copy_row}[args.command](args)
