#!/usr/bin/env python3
"""Writes hand-made broken safetensors files, one per way a file can lie,
into OUT_DIR (standard library only). The names say what is wrong."""
import json
import struct
import sys

out = sys.argv[1]


def header_file(name, header, data=b"", length=None):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(text) if length is None else length
    with open(f"{out}/{name}.safetensors", "wb") as f:
        f.write(struct.pack("<Q", n) + text + data)


def raw(name, data):
    with open(f"{out}/{name}.safetensors", "wb") as f:
        f.write(data)


good = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
raw("empty", b"")
raw("shorter-than-length-field", b"\x08\x00\x00")
header_file("header-length-beyond-file", good, bytes(16), length=4096)
header_file("header-length-absurd", good, bytes(16), length=1 << 62)
header_file("header-not-json", b"{not json", bytes(16))
header_file("header-array", [1, 2, 3])
header_file("entry-not-object", {"w": [1, 2]})
header_file("dtype-f8", {"w": {"dtype": "F8_E5M2", "shape": [2],
                                        "data_offsets": [0, 2]}}, bytes(2))
header_file("dtype-missing", {"w": {"shape": [2], "data_offsets": [0, 8]}},
            bytes(8))
header_file("shape-negative", {"w": {"dtype": "F32", "shape": [-2],
                                     "data_offsets": [0, 8]}}, bytes(8))
header_file("shape-overflow", {"w": {"dtype": "F32",
                                     "shape": [1 << 40, 1 << 40],
                                     "data_offsets": [0, 8]}}, bytes(8))
header_file("offsets-reversed", {"w": {"dtype": "F32", "shape": [2],
                                       "data_offsets": [8, 0]}}, bytes(8))
header_file("offsets-beyond-data", {"w": {"dtype": "F32", "shape": [4],
                                          "data_offsets": [0, 16]}}, bytes(8))
header_file("size-mismatch", {"w": {"dtype": "F32", "shape": [2, 3],
                                    "data_offsets": [0, 16]}}, bytes(16))
header_file("overlapping", {
    "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
    "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, bytes(24))
header_file("duplicate-name", b'{"w":{"dtype":"F32","shape":[1],'
            b'"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],'
            b'"data_offsets":[0,4]}}', bytes(4))
header_file("nul-in-header", b'{"w":{"dtype":"F32","shape":[1],'
            b'"data_offsets":[0,4]}}\x00', bytes(4))
header_file("metadata-not-string", {"__metadata__": {"format": 1}})
# A valid header whose data was cut off.
header_file("truncated-data", good, bytes(10))
