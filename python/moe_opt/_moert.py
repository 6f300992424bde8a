"""ctypes binding of libmoert's C API (runtime/include/moert/moert.h).

Only the calls the package makes; every failing call raises MoeError with
moert_last_error()'s message."""

import contextlib
import ctypes
import threading
from ctypes import POINTER, c_char_p, c_int, c_int64, c_uint, c_uint64, c_void_p

from . import _build
from .errors import MoeError

BACKEND_CPU = 0
BACKEND_CUDA = 1
BACKEND_CUDA_EMU = 2


# moert_emu_options.progress's type.
EMU_PROGRESS = ctypes.CFUNCTYPE(None, c_void_p, c_char_p, c_uint64, c_uint64,
                                c_uint64)


class EmuOptions(ctypes.Structure):
    """moert_emu_options (all of it: libmoert reads every field)."""
    _fields_ = [("chip", c_char_p), ("shuffle_seed", c_uint64),
                ("concurrent_blocks", c_int), ("unchecked", c_int),
                ("profile", c_int), ("profile_column_stride", c_uint),
                ("progress", EMU_PROGRESS), ("progress_user", c_void_p)]


_SIGNATURES = {
    "moert_status_name": (c_char_p, [c_int]),
    "moert_last_error": (c_char_p, []),
    "moert_layer_load": (c_int, [c_char_p, c_char_p, c_int, POINTER(c_void_p)]),
    "moert_layer_load_emulated": (c_int, [c_char_p, c_char_p,
                                          POINTER(EmuOptions),
                                          POINTER(c_void_p)]),
    "moert_layer_load_weights": (c_int, [c_void_p, c_char_p, c_int64]),
    "moert_layer_check_weights": (c_int, [c_void_p]),
    "moert_layer_reserve": (c_int, [c_void_p, c_int64]),
    "moert_layer_run": (c_int, [c_void_p, c_void_p, c_void_p, c_int64,
                                c_void_p]),
    "moert_layer_destroy": (None, [c_void_p]),
    "moert_layer_function": (c_char_p, [c_void_p]),
    "moert_layer_dtype": (c_char_p, [c_void_p]),
    "moert_layer_hidden_size": (c_int64, [c_void_p]),
    "moert_layer_max_tokens": (c_int64, [c_void_p]),
    "moert_layer_reserved_tokens": (c_int64, [c_void_p]),
    "moert_layer_target": (c_char_p, [c_void_p]),
    "moert_layer_num_tensors": (c_int64, [c_void_p]),
    "moert_layer_tensor": (c_char_p, [c_void_p, c_int64]),
}

_lib = None
_lib_lock = threading.Lock()


def lib():
    """libmoert.so of the build, loaded once."""
    global _lib
    if _lib is not None:  # no lock: __del__ may run inside lib() below
        return _lib
    with _lib_lock:
        if _lib is None:
            path = _build.libmoert()
            try:
                loaded = ctypes.CDLL(str(path))
            except OSError as e:
                raise MoeError(f"cannot load {path}: {e}") from None
            for name, (restype, argtypes) in _SIGNATURES.items():
                function = getattr(loaded, name)
                function.restype = restype
                function.argtypes = argtypes
            _lib = loaded
        return _lib


def check(status):
    """Raises MoeError for a failed status. moert's message is per thread,
    and ctypes calls it from the thread that made the failing call."""
    if status != 0:
        name = lib().moert_status_name(status).decode()
        message = lib().moert_last_error().decode(errors="replace")
        raise MoeError(message or name, status=name)


class Layer:
    """An owned moert_layer handle."""

    def __init__(self, manifest, function, backend, emu_chip=None):
        self.handle = c_void_p()  # __del__ runs even when loading fails
        # What close() runs under: on CUDA, the layer's device, because
        # libmoert makes its context current and leaves it so.
        self.guard = contextlib.nullcontext
        handle = c_void_p()
        if backend == BACKEND_CUDA_EMU:
            options = EmuOptions()
            options.chip = emu_chip.encode() if emu_chip else None
            check(lib().moert_layer_load_emulated(
                str(manifest).encode(), function.encode(),
                ctypes.byref(options), ctypes.byref(handle)))
        else:
            check(lib().moert_layer_load(str(manifest).encode(),
                                         function.encode(), backend,
                                         ctypes.byref(handle)))
        self.handle = handle

    def close(self):
        if self.handle:
            with self.guard():
                lib().moert_layer_destroy(self.handle)
            self.handle = c_void_p()

    def __del__(self):
        if _lib is not None:
            self.close()

    def load_weights(self, path, decoder_layer):
        check(lib().moert_layer_load_weights(self.handle, str(path).encode(),
                                             decoder_layer))

    def check_weights(self):
        check(lib().moert_layer_check_weights(self.handle))

    def reserve(self, tokens):
        check(lib().moert_layer_reserve(self.handle, tokens))

    def run(self, input_ptr, output_ptr, tokens, stream=None):
        check(lib().moert_layer_run(self.handle, input_ptr, output_ptr,
                                    tokens, stream))

    def tensors(self):
        count = lib().moert_layer_num_tensors(self.handle)
        return [lib().moert_layer_tensor(self.handle, i).decode()
                for i in range(count)]

    @property
    def function(self):
        return lib().moert_layer_function(self.handle).decode()

    @property
    def dtype(self):
        return lib().moert_layer_dtype(self.handle).decode()

    @property
    def hidden_size(self):
        return lib().moert_layer_hidden_size(self.handle)

    @property
    def reserved_tokens(self):
        return lib().moert_layer_reserved_tokens(self.handle)

    @property
    def max_tokens(self):
        return lib().moert_layer_max_tokens(self.handle)

    @property
    def target(self):
        return lib().moert_layer_target(self.handle).decode()
