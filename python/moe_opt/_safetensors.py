"""Reads and writes the one [T, H] tensor of an input or output file of
`python -m moe_opt run` (what moe-run reads and writes: `hidden_states`).
The weights are never read here: libmoert maps and packs them."""

import json
import struct

import numpy as np

from .errors import MoeError

_DTYPES = {"BF16": ("bf16", np.uint16), "F16": ("f16", np.float16),
           "F32": ("f32", np.float32)}


def read_hidden_states(path):
    """(moert dtype, raw array) of `hidden_states`, or of the file's only
    tensor."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise MoeError(f"{path}: {e.strerror}") from None
    try:
        (length,) = struct.unpack("<Q", data[:8])
        if length > len(data) - 8:
            raise ValueError("the header runs past the end of the file")
        header = json.loads(data[8:8 + length])
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        if "hidden_states" in tensors:
            name = "hidden_states"
        elif len(tensors) == 1:
            (name,) = tensors
        else:
            raise ValueError("no tensor 'hidden_states', and not one tensor")
        entry = tensors[name]
        if entry["dtype"] not in _DTYPES:
            raise ValueError(f"'{name}' is {entry['dtype']}, not BF16, F16 "
                             "or F32")
        dtype, raw = _DTYPES[entry["dtype"]]
        shape = [int(d) for d in entry["shape"]]
        begin, end = (int(o) for o in entry["data_offsets"])
        count = shape[0] * shape[1] if len(shape) == 2 else -1
        if len(shape) != 2 or end - begin != count * np.dtype(raw).itemsize \
                or not 0 <= begin <= end <= len(data) - 8 - length:
            raise ValueError(f"'{name}' is not a [T, H] tensor within the file")
        start = 8 + length + begin
        array = np.frombuffer(data, dtype=raw, count=count, offset=start)
        return dtype, array.reshape(shape).copy()
    except (ValueError, KeyError, TypeError, AttributeError,
            struct.error) as e:
        raise MoeError(f"{path}: not a safetensors file with a [T, H] "
                       f"tensor: {e}") from None


def write_hidden_states(path, dtype, raw):
    name = {v[0]: k for k, v in _DTYPES.items()}[dtype]
    body = np.ascontiguousarray(raw).tobytes()
    header = json.dumps({"hidden_states": {
        "dtype": name, "shape": list(raw.shape),
        "data_offsets": [0, len(body)]}}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + body)
