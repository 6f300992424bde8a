"""moe_opt's model folders, cache and errors, on a two-layer Mixtral-like
config (CONFIG): prints one line per check; any failure raises.

  api.py CONFIG REFERENCE_INPUTS_DIR WORK_DIR"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

import moe_opt

config, reference, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
cache = work / "cache"
sys.path.insert(0, reference)
from edit_safetensors import read, write  # noqa: E402  [name, dtype, shape, bytes]


def make_weights(layer, out):
    """Layer `layer`'s Hugging Face tensors, written by the fp64 reference."""
    subprocess.run([sys.executable, f"{reference}/hf_numpy_reference.py",
                    str(config), "--layer", str(layer), "--tokens", "6",
                    "--seed", str(40 + layer), "--dtype", "bf16",
                    "--weights-out", str(out), "--input-out", str(out) + ".x",
                    "--expected-out", str(out) + ".ref"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def raises(what, call, *fragments):
    try:
        call()
    except (moe_opt.MoeError, ValueError, TypeError) as e:
        message = str(e)
        for fragment in fragments:
            assert fragment in message, f"{what}: {message!r} lacks {fragment!r}"
        print(f"{what}: {type(e).__name__}: {message.splitlines()[0]}")
        return
    raise AssertionError(f"{what}: no exception")


def folder(name):
    path = work / name
    path.mkdir(parents=True)
    shutil.copy(config, path / "config.json")
    return path


# One file holding layer 1.
single = folder("single")
make_weights(1, single / "model.safetensors")
x = torch.rand(6, 64).to(torch.bfloat16) - 0.5
layer = moe_opt.MoeLayer.from_pretrained(single, layer=1, cache_dir=cache)
expected = layer(x)
print("single file:", layer)

# Shards: layer 1's tensors over two files, layer 0's in a third that is
# not a safetensors file; the index names all three. Loading layer 1 opens
# only its two shards.
sharded = folder("sharded")
tensors = {t[0]: t for t in read(single / "model.safetensors")}
names = sorted(tensors)
half = len(names) // 2
write(sharded / "model-00001-of-00003.safetensors",
      [tensors[n] for n in names[:half]])
write(sharded / "model-00002-of-00003.safetensors",
      [tensors[n] for n in names[half:]])
make_weights(0, work / "layer0.safetensors")
layer0_names = sorted(t[0] for t in read(work / "layer0.safetensors"))
(sharded / "model-00003-of-00003.safetensors").write_bytes(b"not safetensors")
weight_map = {n: "model-00001-of-00003.safetensors" for n in names[:half]}
weight_map.update({n: "model-00002-of-00003.safetensors" for n in names[half:]})
weight_map.update({n: "model-00003-of-00003.safetensors" for n in layer0_names})
(sharded / "model.safetensors.index.json").write_text(
    json.dumps({"metadata": {}, "weight_map": weight_map}))
from_shards = moe_opt.MoeLayer.from_pretrained(sharded, layer=1, cache_dir=cache)
assert torch.equal(from_shards(x).view(torch.int16), expected.view(torch.int16))
assert from_shards.kernel_dir == layer.kernel_dir, "same config, same cache entry"
print("shards: the same bits as one file; one compile for both folders")
raises("layer 0 from the broken shard",
       lambda: moe_opt.MoeLayer.from_pretrained(sharded, layer=0, cache_dir=cache),
       "model-00003-of-00003.safetensors")

# Missing tensors: from the index, and from a single file.
missing = folder("missing-in-index")
for f in sharded.glob("model-0000[12]*"):
    shutil.copy(f, missing)
partial = dict(weight_map)
del partial[names[0]]
(missing / "model.safetensors.index.json").write_text(
    json.dumps({"weight_map": partial}))
raises("a tensor the index lacks",
       lambda: moe_opt.MoeLayer.from_pretrained(missing, layer=1, cache_dir=cache),
       f"no tensor '{names[0]}' in weight_map")
short = folder("missing-in-file")
write(short / "model.safetensors", [tensors[n] for n in names[1:]])
raises("a tensor the file lacks",
       lambda: moe_opt.MoeLayer.from_pretrained(short, layer=1, cache_dir=cache),
       f"tensor '{names[0]}' was in no file")

# Inputs: strides, alignment, sizes, types.
storage = torch.empty(6 * 64 + 1, dtype=torch.bfloat16)
unaligned = storage[1:].view(6, 64)
unaligned.copy_(x)
assert torch.equal(layer(unaligned).view(torch.int16), expected.view(torch.int16))
transposed = x.t().contiguous().t()
assert not transposed.is_contiguous()
assert torch.equal(layer(transposed).view(torch.int16), expected.view(torch.int16))
row = layer(x[2:3])
assert torch.equal(row.view(torch.int16), expected[2:3].view(torch.int16))
print("unaligned, strided and single-row inputs: the same bits")
assert layer(x[:0]).shape == (0, 64)
raises("wrong hidden size", lambda: layer(torch.zeros(2, 32, dtype=torch.bfloat16)),
       "x must be [tokens, 64]")
raises("wrong rank", lambda: layer(torch.zeros(64, dtype=torch.bfloat16)),
       "not [64]")
raises("wrong dtype", lambda: layer(x.float()), "takes torch.bfloat16")
raises("wrong numpy dtype", lambda: layer(x.double().numpy()), "takes float32")
raises("not an array", lambda: layer([[0.0] * 64]), "torch.Tensor or a numpy")
limited = moe_opt.MoeLayer.from_pretrained(single, layer=1, max_tokens=4,
                                           cache_dir=cache)
assert limited.max_tokens == 4
raises("more tokens than max_tokens", lambda: limited(x), "exceeds max_tokens 4")
assert torch.equal(limited(x[:4]).view(torch.int16), expected[:4].view(torch.int16))
limited.close()
raises("a closed layer", lambda: limited(x[:1]), "closed")

# Folders and configs.
raises("not a folder", lambda: moe_opt.MoeLayer.from_pretrained(work / "nothing", layer=0),
       "not a model folder")
empty = work / "empty"
empty.mkdir()
raises("no config.json", lambda: moe_opt.MoeLayer.from_pretrained(empty, layer=0),
       "no config.json")
no_weights = folder("no-weights")
raises("no weights", lambda: moe_opt.MoeLayer.from_pretrained(no_weights, layer=1, cache_dir=cache),
       "neither model.safetensors nor model.safetensors.index.json")
bad = folder("bad-config")
(bad / "config.json").write_text('{"model_type": "mixtral", "hidden_size": 64, "num_hidden_layers": 2,\n'
                                 ' "intermediate_size": 48, "num_local_experts": 4, '
                                 '"num_experts_per_tok": 8}')
raises("a bad config", lambda: moe_opt.MoeLayer.from_pretrained(bad, layer=0, cache_dir=cache),
       "config.json:")
raises("not a MoE layer", lambda: moe_opt.MoeLayer.from_pretrained(single, layer=5, cache_dir=cache),
       "its MoE layers are 0-1")
raises("a device we do not run on", lambda: moe_opt.MoeLayer.from_pretrained(single, layer=1, device="mps"),
       "device must be")
raises("CUDA without a GPU", lambda: moe_opt.MoeLayer.from_pretrained(single, layer=1, device="cuda"),
       "no CUDA device")

# The cache: a changed config compiles anew; the default folder is
# $XDG_CACHE_HOME/moe_opt.
changed = folder("changed")
shutil.copy(single / "model.safetensors", changed)
text = json.loads(config.read_text())
text["num_hidden_layers"] = 3
(changed / "config.json").write_text(json.dumps(text))
recompiled = moe_opt.MoeLayer.from_pretrained(changed, layer=1, cache_dir=cache)
assert recompiled.kernel_dir != layer.kernel_dir
os.environ["XDG_CACHE_HOME"] = str(work / "xdg")
default = moe_opt.MoeLayer.from_pretrained(single, layer=1)
assert default.kernel_dir.parent == work / "xdg" / "moe_opt", default.kernel_dir
print("cache: a changed config compiles anew; default under $XDG_CACHE_HOME")
# The op is registered exactly where torch has torch.library.custom_op.
has_custom_op = hasattr(getattr(torch, "library", None), "custom_op")
assert (moe_opt._torch_op.op() is not None) == has_custom_op
print("torch custom op: registered where torch has custom_op")

# More bad inputs, each an exception of the documented kind.
raises("a malformed device", lambda: moe_opt.MoeLayer.from_pretrained(single, layer=1, device="cuda:x"),
       "not cuda:N")
raises("a chip without the emulator", lambda: moe_opt.MoeLayer.from_pretrained(single, layer=1, chip="sm_80", cache_dir=cache),
       "chip applies to device='cuda-emu'")
shared = work / "shared-cache"
shared.mkdir(mode=0o777)
os.chmod(shared, 0o777)
raises("a cache others may write", lambda: moe_opt.MoeLayer.from_pretrained(single, layer=1, cache_dir=shared),
       "writable by you only")
bad_index = folder("bad-index")
(bad_index / "model.safetensors.index.json").write_text(
    json.dumps({"weight_map": {n: "../single/model.safetensors" for n in names}}))
raises("an index naming a file outside the folder",
       lambda: moe_opt.MoeLayer.from_pretrained(bad_index, layer=1, cache_dir=cache),
       "is not a file name in the folder")
