#!/usr/bin/env python3
"""Compares the `hidden_states` tensor of two safetensors files.

  compare_safetensors.py Y.safetensors Yref.safetensors --dtype {f32,f16,bf16}
      [--skip-tokens-from NEAR_TIE_LOG]

Y is the output under test, Yref the reference (hf_numpy_reference.py).
Both may be F32, F16 or BF16 (F64 too). The rule is moe-run --check's
(tools/moe-run/CheckOutput.cpp): every element of token t must satisfy

  |y[t,h] - r[t,h]| <= rtol * |r[t,h]| + atol * max(max_h |r[t,h]|, floor)

so each token is judged against its own magnitude, with (rtol, atol) =
(1e-5, 2e-5) for f32, (4e-3, 2e-3) for f16 and (2e-2, 1e-2) for bf16, and
floor the dtype's smallest normal number (subnormal intermediates of a tiny
f16 token hold fewer bits).
Rows (tokens) named by `near-tie token t` lines in NEAR_TIE_LOG are
skipped. Prints the figures and the worst token, then PASS or FAIL; exits 1
on FAIL and 2 on unreadable input.
"""
import argparse
import json
import re
import struct
import sys

import numpy as np

TOLERANCES = {"f32": (1e-5, 2e-5, 2.0 ** -126), "f16": (4e-3, 2e-3, 2.0 ** -14),
              "bf16": (2e-2, 1e-2, 2.0 ** -126)}


def fail(message):
    sys.stderr.write("compare_safetensors.py: error: %s\n" % message)
    sys.exit(2)


def read_tensor(path, name="hidden_states"):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        fail("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        fail("%s: header length %d runs past the end of the file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    if name not in header:
        fail("%s: no tensor %r (has %s)"
             % (path, name, sorted(k for k in header if k != "__metadata__")))
    entry = header[name]
    shape = [int(d) for d in entry["shape"]]
    begin, end = entry["data_offsets"]
    raw = data[8 + n + begin:8 + n + end]
    count = int(np.prod(shape)) if shape else 1
    dtype = entry["dtype"]
    if dtype == "F32":
        values = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    elif dtype == "F16":
        values = np.frombuffer(raw, dtype="<f2").astype(np.float64)
    elif dtype == "F64":
        values = np.frombuffer(raw, dtype="<f8").astype(np.float64)
    elif dtype == "BF16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        values = bits.view(np.float32).astype(np.float64)
    else:
        fail("%s: %s has unsupported dtype %s" % (path, name, dtype))
    if values.size != count:
        fail("%s: %s holds %d values, its shape %s needs %d"
             % (path, name, values.size, shape, count))
    return values.reshape(shape), dtype


def read_skipped(path):
    tokens = set()
    with open(path) as f:
        for line in f:
            m = re.search(r"near-tie token (\d+)", line)
            if m:
                tokens.add(int(m.group(1)))
    return tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output")
    parser.add_argument("reference")
    parser.add_argument("--dtype", choices=sorted(TOLERANCES), required=True)
    parser.add_argument("--skip-tokens-from", metavar="NEAR_TIE_LOG")
    args = parser.parse_args()

    y, y_dtype = read_tensor(args.output)
    r, r_dtype = read_tensor(args.reference)
    if y.shape != r.shape:
        print("shape mismatch: %s is %s, %s is %s"
              % (args.output, list(y.shape), args.reference, list(r.shape)))
        print("FAIL")
        return 1
    if y.ndim != 2:
        fail("hidden_states must be [T, H], got %s" % list(y.shape))

    skipped = read_skipped(args.skip_tokens_from) if args.skip_tokens_from else set()
    keep = np.ones(y.shape[0], dtype=bool)
    for t in skipped:
        if 0 <= t < y.shape[0]:
            keep[t] = False
    y, r = y[keep], r[keep]

    rtol, atol, floor = TOLERANCES[args.dtype]
    rows = np.nonzero(keep)[0]
    diff = np.abs(y - r)
    scale = np.abs(r).max(axis=1, keepdims=True) if r.size else np.zeros((0, 1))
    tol = rtol * np.abs(r) + atol * np.maximum(scale, floor)
    bad = ~(diff <= tol)  # NaN counts as beyond
    beyond = int(np.count_nonzero(bad))
    ratio = diff / tol  # tol > 0: the floor
    ratio[np.isnan(ratio)] = np.inf
    print("max abs error %.3e; tolerance per token: rtol %.1g, atol %.1g * "
          "max|ref| of the token (at least %.2g) (%s vs %s)"
          % (float(np.nanmax(diff)) if diff.size else 0.0, rtol, atol, floor,
             y_dtype, r_dtype))
    if ratio.size:
        t, h = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        s_t = float(scale[t, 0])
        print("worst token %d (max|ref| %.4g): element %d off by %.3g = %.3g "
              "of the token's max|ref|, %.3g of its tolerance"
              % (rows[t], s_t, h, diff[t, h],
                 diff[t, h] / s_t if s_t > 0 else diff[t, h], ratio[t, h]))
    print("%d values compared, %d beyond tolerance, %d tokens skipped"
          % (diff.size, beyond, int((~keep).sum())))
    if beyond or diff.size == 0:
        print("%d of %d compared tokens beyond tolerance"
              % (int(np.count_nonzero(bad.any(axis=1))), y.shape[0]))
        for t, h in np.argwhere(bad)[:5]:
            print("  token %d, element %d: got %.6g, expected %.6g"
                  % (rows[t], h, y[t, h], r[t, h]))
        print("FAIL")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
