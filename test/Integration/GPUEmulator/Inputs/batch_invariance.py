#!/usr/bin/env python3
"""Batch invariance of a layer's output: one token, alone and inside other
batches, must give bitwise the same output row.

  batch_invariance.py make POOL.safetensors TOKEN DIR SIZE:POS ...
      Writes DIR/SIZE-POS.safetensors for each SIZE:POS: a batch of SIZE
      tokens of POOL's hidden_states, with token TOKEN of the pool at
      position POS and other pool tokens (a different mix for each batch)
      elsewhere.
  batch_invariance.py check POOL_OUT.safetensors TOKEN DIR SIZE:POS ...
      Compares row POS of DIR/SIZE-POS.out.safetensors with row TOKEN of
      POOL_OUT (the pool's own output) byte for byte; prints one line per
      batch and exits 1 on the first difference.

Standard library only (tensors are raw rows of bytes here); the files are
read and written by ../../CPU/Inputs/edit_safetensors.py.
"""
import os
import sys

# The safetensors reader and writer of the CPU tests' inputs (imported
# without writing __pycache__ into the source tree).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "CPU",
                                "Inputs"))
import edit_safetensors  # noqa: E402


def read(path):
    """hidden_states of `path`: its dtype, hidden size and rows of bytes."""
    for name, dtype, shape, raw in edit_safetensors.read(path):
        if name == "hidden_states":
            tokens, hidden = shape
            width = len(raw) // tokens
            return dtype, hidden, [bytes(raw[t * width:(t + 1) * width])
                                   for t in range(tokens)]
    sys.exit(f"batch_invariance.py: {path} has no hidden_states")


def write(path, dtype, hidden, rows):
    edit_safetensors.write(path, [["hidden_states", dtype, [len(rows), hidden],
                                   b"".join(rows)]])


def batches(specs):
    for spec in specs:
        size, position = (int(v) for v in spec.split(":"))
        if not 0 <= position < size:
            sys.exit(f"batch_invariance.py: position {position} is outside "
                     f"a batch of {size}")
        yield size, position


def main():
    if len(sys.argv) < 6 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    mode, pool, token, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        sys.argv[4]
    dtype, hidden, rows = read(pool)
    if not 0 <= token < len(rows):
        sys.exit(f"batch_invariance.py: token {token} is outside the pool "
                 f"of {len(rows)}")
    others = [r for t, r in enumerate(rows) if t != token]
    for n, (size, position) in enumerate(batches(sys.argv[5:])):
        name = f"{folder}/{size}-{position}"
        if mode == "make":
            if size - 1 > len(others):
                sys.exit(f"batch_invariance.py: the pool has too few tokens "
                         f"for a batch of {size}")
            # A different stretch of the pool for each batch.
            start = (n * 37) % len(others)
            mix = (others[start:] + others[:start])[:size - 1]
            write(name + ".safetensors", dtype, hidden,
                  mix[:position] + [rows[token]] + mix[position:])
            continue
        _, _, out = read(name + ".out.safetensors")
        if len(out) != size:
            sys.exit(f"{name}: {len(out)} output rows, expected {size}")
        same = out[position] == rows[token]
        print(f"batch of {size}, token at {position}: "
              f"{'bitwise equal' if same else 'DIFFERS'}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
