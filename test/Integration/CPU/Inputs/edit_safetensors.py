#!/usr/bin/env python3
"""Edits a safetensors file the way a checkpoint can go wrong or differ:

  edit_safetensors.py IN OUT [--drop NAME] [--to-bf16 SUFFIX]
                             [--set NAME INDEX VALUE] [--reshape NAME DIMS]

--drop removes a tensor; --to-bf16 stores every F32 tensor whose name ends
with SUFFIX as BF16 (round to nearest even), as a model saved after
.to(torch.bfloat16) holds it; --set overwrites element INDEX of an F32 (a
float, "nan" allowed) or U8 (a byte) tensor; --reshape gives a tensor the
comma-separated shape DIMS of the same size (e.g. ERNIE's [1, E] bias
squeezed to [E], as vLLM's loader holds it). Standard library only.
"""
import argparse
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        tensors.append([name, entry["dtype"], entry["shape"],
                        bytearray(data[begin:end])])
    return tensors


def write(path, tensors):
    header, offset = {}, 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for tensor in tensors:
            f.write(tensor[3])


def to_bf16(raw):
    out = bytearray()
    for (bits,) in struct.iter_unpack("<I", raw):
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        out += struct.pack("<H", bits & 0xFFFF)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--drop", action="append", default=[])
    parser.add_argument("--to-bf16", action="append", default=[])
    parser.add_argument("--set", nargs=3, action="append", default=[])
    parser.add_argument("--reshape", nargs=2, action="append", default=[])
    args = parser.parse_args()
    tensors = [t for t in read(args.input) if t[0] not in args.drop]
    by_name = {t[0]: t for t in tensors}
    for name, index, value in args.set:
        tensor, index = by_name[name], int(index)
        if tensor[1] == "F32":
            struct.pack_into("<f", tensor[3], 4 * index, float(value))
        else:
            tensor[3][index] = int(value)
    for name, dims in args.reshape:
        shape = [int(d) for d in dims.split(",")]
        count = 1
        for d in shape:
            count *= d
        old = 1
        for d in by_name[name][2]:
            old *= d
        if count != old:
            sys.exit("edit_safetensors.py: %s has %d values, not %d"
                     % (name, old, count))
        by_name[name][2] = shape
    for tensor in tensors:
        if tensor[1] == "F32" and any(tensor[0].endswith(s)
                                      for s in args.to_bf16):
            tensor[1], tensor[3] = "BF16", to_bf16(tensor[3])
    write(args.output, tensors)


if __name__ == "__main__":
    main()
