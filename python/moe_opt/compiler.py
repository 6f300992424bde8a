"""Compiling a model's config.json with moe-translate --emit-kernels, and
the cache of what it emitted."""

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import _build
from .errors import MoeError


def emit_kernels(config, out_dir, *, target="all", chip=None,
                 max_tokens=None, extra_args=()):
    """Runs `moe-translate CONFIG --emit-kernels OUT_DIR` and returns OUT_DIR.

    target: "all" (host library and device code, moe-translate's default),
    "cpu" (the host library only), "cuda" (device code for `chip` only) or
    "cuda-emu" (device code and its SIMT emulator library for `chip`).
    Raises MoeError with moe-translate's diagnostics when it fails."""
    args = [str(_build.moe_translate()), str(config), "--emit-kernels",
            str(out_dir)]
    if target == "cpu":
        args.append("--no-device-code")
    elif target in ("cuda", "cuda-emu"):
        args += ["--no-host-library", "--chips", chip]
        if target == "cuda-emu":
            args.append("--emulator")
    elif target != "all":
        raise ValueError(f"unknown target {target!r}")
    if chip and target == "all":
        args += ["--chips", chip]
    if max_tokens is not None:
        args.append(f"--max-tokens={int(max_tokens)}")
    args += list(extra_args)
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        raise MoeError(done.stderr.strip() or
                       f"moe-translate exited with {done.returncode}")
    return Path(out_dir)


def _compiler_identity(path):
    """What makes a newer compiler recompile: its --version (the commit)
    and the binary's size and time, which change at every rebuild."""
    stat = os.stat(path)
    return _version(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _version(path, size, mtime_ns):
    done = subprocess.run([path, "--version"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return f"{done.stdout.strip()}|{size}|{mtime_ns}"


def _toolkit_identity():
    """The CUDA toolkit moe-translate would find (--cuda-path is not used
    here): without ptxas it writes PTX only, which a later compile with
    ptxas should not reuse."""
    return {"CUDA_HOME": os.environ.get("CUDA_HOME"),
            "CUDA_PATH": os.environ.get("CUDA_PATH"),
            "ptxas": shutil.which("ptxas"),
            "default": os.path.exists("/usr/local/cuda/bin/ptxas")}


def _check_cache_dir(cache):
    """The cache holds libraries this process loads: refuse one that
    another user owns or may write (a shared /tmp folder, say)."""
    stat = os.stat(cache)
    if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
        raise MoeError(f"{cache}: the cache folder must be yours and "
                       "writable by you only (it holds libraries that are "
                       "loaded into this process)")


def default_cache_dir():
    """$XDG_CACHE_HOME/moe_opt, else ~/.cache/moe_opt."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "moe_opt"


def cached_kernels(config, *, target, chip=None, max_tokens=None,
                   cache_dir=None):
    """The emitted directory for CONFIG, compiled on the first call.

    Keyed by the config's bytes, the target and chip, max_tokens and the
    compiler's identity, so a changed config or a rebuilt compiler gets a
    directory of its own. A directory appears whole (compiled elsewhere,
    then renamed) or not at all, so concurrent callers are safe."""
    compiler = str(_build.moe_translate())
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    scratch = None
    try:
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_cache_dir(cache)
        # Compiled from its own path, so that diagnostics name it (a change
        # between this read and the compiler's is not caught).
        text = Path(config).read_bytes()
        key = hashlib.sha256(json.dumps({
            "config": hashlib.sha256(text).hexdigest(),
            "target": target, "chip": chip,
            "max_tokens": None if max_tokens is None else int(max_tokens),
            "compiler": _compiler_identity(compiler),
            "toolkit": _toolkit_identity() if target != "cpu" else None,
        }, sort_keys=True).encode()).hexdigest()
        final = cache / key[:32]
        if (final / "manifest.json").is_file():
            return final
        scratch = Path(tempfile.mkdtemp(prefix=".compiling-", dir=cache))
        emit_kernels(config, scratch / "kernels",
                     target=target, chip=chip, max_tokens=max_tokens)
        if final.exists() and not (final / "manifest.json").is_file():
            shutil.rmtree(final, ignore_errors=True)  # a broken entry
        try:
            os.rename(scratch / "kernels", final)
        except OSError:
            if not (final / "manifest.json").is_file():
                raise
        return final
    except OSError as e:
        raise MoeError(f"compile cache {cache}: {e.filename or ''}: "
                       f"{e.strerror or e}") from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def function_of_layer(kernel_dir, decoder_layer):
    """The manifest's layer function whose decoder_layers hold
    decoder_layer (a manifest lists each MoE function's layers)."""
    manifest = Path(kernel_dir) / "manifest.json"
    layers = json.loads(manifest.read_text())["layers"]
    for entry in layers:
        if decoder_layer in entry.get("decoder_layers", []):
            return entry["function"]
    moe_layers = sorted(i for e in layers for i in e.get("decoder_layers", []))
    raise MoeError(f"decoder layer {decoder_layer} is not a MoE layer of this "
                   f"model; its MoE layers are {_ranges(moe_layers)}")


def _ranges(values):
    """[0, 1, 2, 5] -> "0-2, 5"."""
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(parts) or "none"
