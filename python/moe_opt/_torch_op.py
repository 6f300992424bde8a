"""The layer call as a torch custom op, where torch has
torch.library.custom_op (2.4 and later), so that torch.compile and CUDA
graphs see one opaque op instead of a Python call they cannot trace. With
older torch (Debian's 1.13) layers are called directly. Inference only: no
autograd formula is registered. The op's layer id means something in this
process only (torch.export would bake it in)."""

import itertools
import threading
import weakref

_layers = weakref.WeakValueDictionary()  # op id -> MoeLayer
_ids = itertools.count(1)
_lock = threading.Lock()
_op = None
_registered = False


def remember(layer):
    """An id through which the op finds the layer (ops take no objects)."""
    with _lock:
        op_id = next(_ids)
        _layers[op_id] = layer
        return op_id


def forget(op_id):
    with _lock:
        _layers.pop(op_id, None)


def _layer(op_id):
    layer = _layers.get(op_id)
    if layer is None:
        raise RuntimeError(f"moe_opt: no live MoeLayer with id {op_id}")
    return layer


def op():
    """torch.ops.moe_opt.layer(x, layer_id), registered on first use; None
    when this torch has no torch.library.custom_op."""
    global _op, _registered
    with _lock:
        if _registered:
            return _op
        import torch
        custom_op = getattr(getattr(torch, "library", None), "custom_op", None)
        if custom_op is None:
            _registered = True
            return None

        @custom_op("moe_opt::layer", mutates_args=())
        def layer(x: torch.Tensor, layer_id: int) -> torch.Tensor:
            return _layer(layer_id).forward_tensor(x)

        @layer.register_fake
        def _(x, layer_id):
            return x.new_empty(x.shape)

        _op = layer
        _registered = True
        return _op


def call(x, op_id):
    """The registered op on x (through torch.ops, as torch.compile sees it)."""
    import torch
    return torch.ops.moe_opt.layer(x, op_id)
