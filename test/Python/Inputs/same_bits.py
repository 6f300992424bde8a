"""same_bits.py A.safetensors B.safetensors: exit 0 when both hold the same
hidden_states bits (dtype, shape and values), else say where they differ."""
import sys

import numpy as np

from moe_opt._safetensors import read_hidden_states

(dtype_a, a), (dtype_b, b) = (read_hidden_states(p) for p in sys.argv[1:3])
if dtype_a != dtype_b or a.shape != b.shape:
    sys.exit(f"{dtype_a} {list(a.shape)} vs {dtype_b} {list(b.shape)}")
if not np.array_equal(a, b):
    sys.exit(f"differ first at {np.argwhere(a != b)[0].tolist()}")
print(f"same bits: {dtype_a} {list(a.shape)}")
