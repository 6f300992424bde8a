"""Runs each model folder's layer through moe_opt (torch and numpy inputs)
and checks it: bitwise equal to `moe-run --emitted` on the same files (the
directory moe_opt compiled), and within tolerance of the independent fp64
reference (hf_numpy_reference.py, compare_safetensors.py).

  families.py --moe-run MOE_RUN --reference INPUTS_DIR --work DIR
              CONFIG:LAYER:DTYPE...

Prints "<config>: PASS" per model, or the first difference."""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import moe_opt
from moe_opt._safetensors import read_hidden_states, write_hidden_states

TORCH = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}


def as_torch(dtype, raw):
    if dtype == "bf16":
        return torch.from_numpy(raw.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(raw)


def torch_bits(y):
    if y.dtype == torch.bfloat16:
        return y.view(torch.int16).numpy().view(np.uint16)
    return y.numpy()


def check(args, spec):
    config, layer, dtype = spec.split(":")
    layer = int(layer)
    name = Path(config).stem
    folder = Path(args.work) / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes(Path(config).read_bytes())
    x_file, ref_file = folder.parent / f"{name}.x", folder.parent / f"{name}.ref"
    ties = subprocess.run(
        [sys.executable, f"{args.reference}/hf_numpy_reference.py",
         str(folder / "config.json"), "--layer", str(layer), "--tokens", "9",
         "--seed", "5", "--dtype", dtype,
         "--weights-out", str(folder / "model.safetensors"),
         "--input-out", str(x_file), "--expected-out", str(ref_file)],
        check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True).stdout
    (folder.parent / f"{name}.ties").write_text(ties)

    model = moe_opt.MoeLayer.from_pretrained(folder, layer=layer,
                                             cache_dir=args.work + "/cache")
    assert model.dtype == dtype, (model.dtype, dtype)
    raw_dtype, x_raw = read_hidden_states(x_file)
    x = as_torch(dtype, x_raw)
    y = model(x)
    assert y.dtype == x.dtype and y.shape == x.shape and y.device == x.device
    y_bits = torch_bits(y)
    # numpy: bf16 layers take and give float32 (rounded to bf16 on the way in).
    x_numpy = x.float().numpy() if dtype == "bf16" else x.numpy()
    y_numpy = model(x_numpy)
    assert y_numpy.dtype == x_numpy.dtype
    if dtype == "bf16":
        assert np.array_equal(y_numpy, y.float().numpy()), "numpy != torch"
    else:
        assert np.array_equal(y_numpy, y_bits), "numpy != torch"

    y_run = folder.parent / f"{name}.moe-run"
    subprocess.run([args.moe_run, str(folder / "config.json"), "--layer",
                    str(layer), "--weights", str(folder / "model.safetensors"),
                    "--input", str(x_file), "--output", str(y_run),
                    "--emitted", str(model.kernel_dir)], check=True,
                   stdout=subprocess.DEVNULL)
    _, run_bits = read_hidden_states(y_run)
    if not np.array_equal(run_bits, y_bits):
        differ = np.argwhere(run_bits != y_bits)[0]
        sys.exit(f"{name}: moe_opt and moe-run differ at {differ.tolist()}")

    y_file = folder.parent / f"{name}.y"
    write_hidden_states(y_file, dtype, y_bits)
    compare = subprocess.run(
        [sys.executable, f"{args.reference}/compare_safetensors.py",
         str(y_file), str(ref_file), "--dtype", dtype,
         "--skip-tokens-from", str(folder.parent / f"{name}.ties")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if compare.returncode != 0:
        sys.exit(f"{name}: against the reference:\n{compare.stdout}")
    print(f"{name}: PASS ({model.function}, {dtype})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--moe-run", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    for spec in args.models:
        check(args, spec)


if __name__ == "__main__":
    main()
