"""python -m moe_opt: thin command-line wrappers of the package.

  python -m moe_opt compile MODEL_DIR -o OUT [--chips sm_80,sm_90]
      [--max-tokens N] [--cpu-only]
  python -m moe_opt run MODEL_DIR --layer L --input X.safetensors
      --output Y.safetensors [--device cpu|cuda-emu] [--cache-dir DIR]
"""

import argparse
import sys

from .compiler import emit_kernels
from .checkpoint import ModelFolder
from .errors import MoeError
from .layer import MoeLayer
from ._safetensors import read_hidden_states, write_hidden_states


def compile_command(args):
    folder = ModelFolder(args.model_dir)
    extra = [f"--chips={args.chips}"] if args.chips else []
    emit_kernels(folder.config, args.output,
                 target="cpu" if args.cpu_only else "all",
                 max_tokens=args.max_tokens, extra_args=extra)
    print(args.output)


def run_command(args):
    layer = MoeLayer.from_pretrained(args.model_dir, layer=args.layer,
                                     device=args.device,
                                     cache_dir=args.cache_dir)
    dtype, raw = read_hidden_states(args.input)
    if dtype != layer.dtype:
        raise MoeError(f"{args.input}: hidden_states are {dtype}; layer "
                       f"{args.layer} ({layer.function}) takes {layer.dtype}")
    write_hidden_states(args.output, dtype, layer.run_raw(raw))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m moe_opt",
                                     description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compile_parser = commands.add_parser(
        "compile", help="moe-translate --emit-kernels on a model folder")
    compile_parser.add_argument("model_dir")
    compile_parser.add_argument("-o", "--output", required=True,
                                help="the emitted directory")
    compile_parser.add_argument("--chips", help="target chips (default: "
                                "moe-translate's, sm_80,sm_90)")
    compile_parser.add_argument("--max-tokens", type=int)
    compile_parser.add_argument("--cpu-only", action="store_true",
                                help="the host library only, no device code")
    run_parser = commands.add_parser(
        "run", help="run one layer on a [T, hidden] safetensors input")
    run_parser.add_argument("model_dir")
    run_parser.add_argument("--layer", type=int, required=True)
    run_parser.add_argument("--input", required=True)
    run_parser.add_argument("--output", required=True)
    run_parser.add_argument("--device", default="cpu",
                            choices=["cpu", "cuda-emu"],
                            help="cpu, or the CUDA kernels on the emulator")
    run_parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    try:
        {"compile": compile_command, "run": run_command}[args.command](args)
    except (MoeError, ValueError, TypeError) as e:
        print(f"moe_opt: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"moe_opt: error: {e.filename or ''}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
