"""moe_opt: compile and run Mixture-of-Experts layers with moe-opt.

    import moe_opt
    layer = moe_opt.MoeLayer.from_pretrained("Qwen3-30B-A3B", layer=0)
    y = layer(x)   # x: [tokens, hidden] torch tensor or numpy array

See docs/python.md in the moe-opt checkout."""

from .compiler import default_cache_dir, emit_kernels
from .errors import MoeError
from .layer import MoeLayer

__all__ = ["MoeLayer", "MoeError", "emit_kernels", "default_cache_dir"]
__version__ = "0.1.0"
