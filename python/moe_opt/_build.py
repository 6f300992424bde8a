"""Where the moe-opt build is: its libmoert.so and moe-translate."""

import os
from pathlib import Path

from .errors import MoeError


def build_dir() -> Path:
    """$MOE_OPT_BUILD_DIR, else the build recorded at install time, else
    (running from the checkout) the checkout's build/."""
    env = os.environ.get("MOE_OPT_BUILD_DIR")
    if env:
        build, origin = Path(env), "MOE_OPT_BUILD_DIR"
    else:
        try:
            from ._install import BUILD_DIR
            build, origin = Path(BUILD_DIR), "the build recorded at install"
        except ImportError:
            build = Path(__file__).resolve().parents[2] / "build"
            origin = "the checkout's build directory"
    for name in ("bin/moe-translate", "lib/libmoert.so"):
        if not (build / name).is_file():
            raise MoeError(f"{build / name} does not exist ({origin}): "
                           "rebuild moe-opt, or set MOE_OPT_BUILD_DIR to a "
                           "build directory")
    return build


def moe_translate() -> Path:
    return build_dir() / "bin" / "moe-translate"


def libmoert() -> Path:
    return build_dir() / "lib" / "libmoert.so"
