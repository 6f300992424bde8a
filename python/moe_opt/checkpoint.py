"""A model folder as Hugging Face publishes it: config.json, and the
weights in model.safetensors or in shards named by
model.safetensors.index.json."""

import json
from pathlib import Path

from .errors import MoeError

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"


class ModelFolder:
    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise MoeError(f"{self.path}: not a model folder (a directory "
                           "with config.json and safetensors weights)")
        self.config = self.path / "config.json"
        if not self.config.is_file():
            raise MoeError(f"{self.path}: no config.json")

    def files_holding(self, tensors):
        """The weight files that hold these tensors, in a stable order:
        through the index's weight_map when there is one (only the shards
        that hold one of them), else model.safetensors."""
        index = self.path / INDEX
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
                if not isinstance(weight_map, dict):
                    raise TypeError("weight_map is not an object")
            except OSError as e:
                raise MoeError(f"{index}: {e.strerror}") from None
            except (ValueError, KeyError, TypeError) as e:
                raise MoeError(f"{index}: not a safetensors index ({e})") \
                    from None
            files = []
            for tensor in tensors:
                if tensor not in weight_map:
                    raise MoeError(f"{index}: no tensor '{tensor}' in "
                                   "weight_map")
                name = weight_map[tensor]
                if (not isinstance(name, str) or "/" in name or "\0" in name
                        or name in ("", ".", "..")):
                    raise MoeError(f"{index}: weight_map['{tensor}'] is not "
                                   "a file name in the folder")
                if name not in files:
                    files.append(name)
            return [self.path / name for name in files]
        single = self.path / SINGLE
        if single.is_file():
            return [single]
        raise MoeError(f"{self.path}: neither {SINGLE} nor {INDEX}")
