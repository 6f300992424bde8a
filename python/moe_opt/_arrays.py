"""numpy arrays in and out of a layer: dtypes, bf16, alignment."""

import numpy as np

# moert dtype -> the numpy dtype of a layer's input and output. numpy has
# no bfloat16: bf16 layers take float32 arrays, rounded to bf16 on the way
# in (to nearest even, as torch rounds) and widened exactly on the way out.
NUMPY_DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.float32}
# The dtype of the bits moert reads and writes.
RAW_DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}


def float32_to_bf16_bits(values):
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    wide = bits.astype(np.uint64)
    rounded = ((wide + 0x7FFF + ((wide >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(values)
    # A NaN stays a (quiet) NaN; rounding could carry it into infinity.
    rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


def bf16_bits_to_float32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def aligned(array):
    """The C-contiguous array, copied when its data is not 16-byte aligned
    (moert reads the input's rows 16 bytes at a time)."""
    array = np.ascontiguousarray(array)
    if array.ctypes.data % 16:
        array = array.copy()
        if array.ctypes.data % 16:  # numpy's allocator aligns to 16 or more
            raise MemoryError("cannot allocate a 16-byte aligned array")
    return array
