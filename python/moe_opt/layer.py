"""MoeLayer: one MoE layer of a model folder, compiled and ready to run."""

import contextlib
import threading

import numpy as np

from . import _arrays, _moert, _torch_op
from .checkpoint import ModelFolder
from .compiler import cached_kernels, function_of_layer
from .errors import MoeError

_TORCH_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def _parse_device(device):
    """("cpu" | "cuda" | "cuda-emu", CUDA device index or None)."""
    text = str(device)
    if text in ("cpu", "cuda-emu"):
        return text, None
    if text == "cuda" or text.startswith("cuda:"):
        index = None
        if text != "cuda":
            try:
                index = int(text[5:])
            except ValueError:
                raise ValueError(f"device {text!r}: not cuda:N") from None
        torch = _torch()
        if torch is None or not torch.cuda.is_available():
            raise MoeError(f"device {text!r}: no CUDA device (torch with "
                           "CUDA is needed for CUDA tensors)")
        if index is None:
            index = torch.cuda.current_device()
        if not 0 <= index < torch.cuda.device_count():
            raise ValueError(f"device {text!r}: there are "
                             f"{torch.cuda.device_count()} CUDA devices")
        return "cuda", index
    raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'cuda-emu', "
                     f"not {device!r}")


def _cuda_chip(torch, index):
    """The emitted chip for a device: sm_90 from compute capability 9.0 up
    (its PTX is JIT-compiled past 9.x), sm_80 for 8.x."""
    major, minor = torch.cuda.get_device_capability(index)
    if major >= 9:
        return "sm_90"
    if major == 8:
        return "sm_80"
    raise MoeError(f"cuda:{index} is sm_{major}{minor}; the kernels need "
                   "sm_80 or newer")


class MoeLayer:
    """One MoE layer of a model folder, on the CPU or a CUDA device.

    Build it with MoeLayer.from_pretrained; call it on [T, hidden] inputs.
    A layer runs one call at a time (calls from several threads queue)."""

    @classmethod
    def from_pretrained(cls, model_dir, layer, device="cpu", max_tokens=None,
                        cache_dir=None, chip=None):
        """Compiles (once, cached) and loads decoder layer `layer` of the
        model folder `model_dir` (config.json, and model.safetensors or the
        shards named by model.safetensors.index.json; only the files that
        hold this layer's tensors are opened, memory-mapped).

        device: "cpu" (moert's CPU backend, CPU tensors and numpy arrays),
        "cuda" / "cuda:N" (the CUDA backend; CUDA tensors, run on torch's
        current stream), or "cuda-emu" (the CUDA kernels on moert's SIMT
        emulator, for CPU tensors: slow, for tests; `chip` picks sm_80 or
        sm_90, default sm_90).
        max_tokens: the most tokens a call takes; workspaces for that many
        are allocated now, so that calls allocate nothing (what capturing
        a CUDA graph needs). None: the compiler's default limit, workspaces
        grow on demand.
        cache_dir: where compiled layers are kept (default
        $XDG_CACHE_HOME/moe_opt or ~/.cache/moe_opt)."""
        kind, index = _parse_device(device)
        folder = ModelFolder(model_dir)
        if max_tokens is not None:
            max_tokens = int(max_tokens)
            if max_tokens < 1:
                raise ValueError(f"max_tokens must be at least 1, not "
                                 f"{max_tokens}")
        if chip is not None and kind != "cuda-emu":
            raise ValueError("chip applies to device='cuda-emu' (CUDA takes "
                             "the device's own)")
        if kind == "cuda":
            torch = _torch()
            chip = _cuda_chip(torch, index)
        elif kind == "cuda-emu":
            chip = chip or "sm_90"
        else:
            chip = None
        kernels = cached_kernels(folder.config, target=kind, chip=chip,
                                 max_tokens=max_tokens, cache_dir=cache_dir)
        function = function_of_layer(kernels, int(layer))
        return cls(folder, int(layer), kind, index, chip, kernels, function,
                   max_tokens)

    def __init__(self, folder, decoder_layer, kind, cuda_index, chip, kernels,
                 function, max_tokens):
        self.model_dir = folder.path
        self.decoder_layer = decoder_layer
        self.kernel_dir = kernels
        self._kind = kind
        self._cuda_index = cuda_index
        self._lock = threading.Lock()
        # Set once a CUDA graph captured a call: the workspaces' addresses
        # are then in the graph and must never move.
        self._captured = False
        backend = {"cpu": _moert.BACKEND_CPU, "cuda": _moert.BACKEND_CUDA,
                   "cuda-emu": _moert.BACKEND_CUDA_EMU}[kind]
        manifest = kernels / "manifest.json"
        with self._device_guard():
            if kind == "cuda":
                # moert takes the current context's device: this one, with
                # torch's (primary) context created.
                torch = _torch()
                torch.cuda.init()
                torch.empty(1, device=f"cuda:{cuda_index}")
            self._layer = _moert.Layer(manifest, function, backend,
                                       chip if kind == "cuda-emu" else None)
            self._layer.guard = self._device_guard
            names = [t.replace("{L}", str(decoder_layer))
                     for t in self._layer.tensors()]
            for path in folder.files_holding(names):
                self._layer.load_weights(path, decoder_layer)
            self._layer.check_weights()
            if max_tokens is not None:
                self._layer.reserve(max_tokens)
        self.function = self._layer.function
        self.dtype = self._layer.dtype
        self.hidden_size = self._layer.hidden_size
        self.max_tokens = self._layer.max_tokens
        self.target = self._layer.target
        self._op_id = _torch_op.remember(self)
        # Resolved once, not per call: torch.compile traces __call__.
        self._op = _torch_op.op() if _torch() is not None else None

    def _device_guard(self):
        """libmoert makes the layer's CUDA context current and leaves it so:
        every call into it runs with torch's current device set to the
        layer's, and restored after."""
        if self._kind == "cuda":
            return _torch().cuda.device(self._cuda_index)
        return contextlib.nullcontext()

    @property
    def device(self):
        """"cpu", "cuda:N" or "cuda-emu"."""
        if self._kind == "cuda":
            return f"cuda:{self._cuda_index}"
        return self._kind

    def close(self):
        """Frees the layer's memory now (else when it is collected)."""
        _torch_op.forget(self._op_id)
        with self._lock:
            self._layer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"MoeLayer({str(self.model_dir)!r}, layer={self.decoder_layer}, "
                f"device={self.device!r}, function={self.function!r}, "
                f"dtype={self.dtype!r}, hidden_size={self.hidden_size})")

    def __call__(self, x):
        """The layer's output for x: a torch tensor or numpy array
        [T, hidden_size]; the result has x's type, dtype and device."""
        if isinstance(x, np.ndarray):
            return self._forward_numpy(x)
        torch = _torch()
        if torch is not None and isinstance(x, torch.Tensor):
            if self._op is not None:
                return _torch_op.call(x, self._op_id)
            return self.forward_tensor(x)
        raise TypeError("x must be a torch.Tensor or a numpy.ndarray, not "
                        f"{type(x).__name__}")

    def _check_shape(self, shape):
        if len(shape) != 2 or shape[1] != self.hidden_size:
            raise ValueError(f"x must be [tokens, {self.hidden_size}] for "
                             f"{self.function}, not {list(shape)}")

    def _run(self, input_ptr, output_ptr, tokens, stream=None,
             capturing=False):
        with self._lock, self._device_guard():
            if not self._layer.handle:
                raise MoeError("the layer was closed")
            if capturing or self._captured:
                # Growing the workspaces frees and allocates device memory:
                # impossible while capturing, and a use-after-free for the
                # graphs captured before.
                reserved = self._layer.reserved_tokens
                if tokens > reserved:
                    raise MoeError(
                        f"{tokens} tokens need larger workspaces than the "
                        f"{reserved} tokens reserved, which a CUDA graph "
                        "captured: give from_pretrained max_tokens")
                self._captured = True
            self._layer.run(input_ptr, output_ptr, tokens, stream)

    def forward_tensor(self, x):
        """__call__ for a torch tensor, without the custom op."""
        torch = _torch()
        self._check_shape(x.shape)
        dtype = getattr(torch, _TORCH_DTYPES[self.dtype])
        if x.dtype != dtype:
            raise TypeError(f"x is {x.dtype}; {self.function} takes {dtype}")
        wanted = "cuda" if self._kind == "cuda" else "cpu"
        if x.device.type != wanted or (
                wanted == "cuda" and x.device.index != self._cuda_index):
            raise ValueError(f"x is on {x.device}; this layer runs on "
                             f"{self.device} and takes "
                             f"{'CUDA' if wanted == 'cuda' else 'CPU'} tensors"
                             + (f" on cuda:{self._cuda_index}"
                                if wanted == "cuda" else ""))
        tokens = x.shape[0]
        y = torch.empty((tokens, self.hidden_size), dtype=dtype,
                        device=x.device)
        if tokens == 0:
            return y
        x = x.contiguous()
        if x.data_ptr() % 16:
            x = x.clone()
        stream, capturing = None, False
        if wanted == "cuda":
            # torch's current stream; nothing waits for the host.
            stream = torch.cuda.current_stream(x.device).cuda_stream
            capturing = torch.cuda.is_current_stream_capturing()
        self._run(x.data_ptr(), y.data_ptr(), tokens, stream, capturing)
        return y

    def _forward_numpy(self, x):
        self._check_shape(x.shape)
        wanted = np.dtype(_arrays.NUMPY_DTYPES[self.dtype])
        if x.dtype != wanted:
            raise TypeError(f"x is {x.dtype}; {self.function} ({self.dtype}) "
                            f"takes {wanted} numpy arrays")
        if self.dtype == "bf16":
            raw = _arrays.float32_to_bf16_bits(x)
        else:
            raw = x
        out = self.run_raw(raw)
        return _arrays.bf16_bits_to_float32(out) if self.dtype == "bf16" else out

    def run_raw(self, raw):
        """Runs on a host array of the layer's bits ([T, hidden], dtype
        uint16 for bf16, float16 or float32); returns the output's bits."""
        if self._kind == "cuda":
            raise ValueError("this layer runs on CUDA: pass CUDA tensors, not "
                             "host arrays")
        self._check_shape(raw.shape)
        raw = _arrays.aligned(raw)
        if raw.dtype != np.dtype(_arrays.RAW_DTYPES[self.dtype]):
            raise TypeError(f"raw input is {raw.dtype}, not the bits of "
                            f"{self.dtype}")
        out = np.empty_like(raw)
        if raw.shape[0]:
            self._run(raw.ctypes.data, out.ctypes.data, raw.shape[0])
        return out
