# lit configuration of the moe-opt test suite.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "MOE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "validate-schema.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moe_obj_root, "test")

config.environment["FILECHECK_OPTS"] = (
    "-enable-var-scope --allow-unused-prefixes=false"
)
config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%moe_src_root", config.moe_src_root))
config.substitutions.append(("%moe_obj_root", config.moe_obj_root))
# Debian's python3 (with python3-jsonschema and numpy), whatever python3 is
# first on PATH.
config.substitutions.append(("%debian-python", "/usr/bin/python3"))
config.substitutions.append(
    ("%validate-schema",
     "/usr/bin/python3 " + os.path.join(config.test_source_root, "Docs",
                                        "validate-schema.py")))

# The numpy oracle: hf_numpy_reference.py's files through moe-run, compared.
config.substitutions.append(
    ("%crosscheck",
     "bash " + os.path.join(config.test_source_root, "Integration", "CPU",
                            "Inputs", "crosscheck.sh")))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# --param moe_tools_dir=DIR runs the suite with the tools in DIR (the
# tolerance headroom benchmark wraps moe-run to record its --check figures).
tool_dirs = [lit_config.params.get("moe_tools_dir", config.moe_tools_dir),
             config.llvm_tools_dir]
tools = ["moe-opt", "moe-translate", "moe-run"]
llvm_config.add_tool_substitutions(tools, tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# The ASan + UBSan build (scripts/test.sh --sanitize): a test may leave it
# out when it only repeats, with other numbers, paths that tests run under
# the sanitizers already cover (UNSUPPORTED: sanitizer), to keep CI's time.
if getattr(config, "moe_sanitize", "").upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("sanitizer")
# The moe_opt package in the build's virtual environment (python/CMakeLists.txt;
# not in the sanitizer build). MOE_OPT_BUILD_DIR is not passed on: the tests
# use the build recorded at install, as a user's import does.
moe_python = os.path.join(config.moe_obj_root, "python-venv", "bin", "python")
if os.path.exists(moe_python):
    config.available_features.add("moe-python")
    config.substitutions.append(("%moe-python", moe_python))
config.substitutions.append(
    ("%hf-reference",
     os.path.join(config.test_source_root, "Integration", "CPU", "Inputs")))
# CUDA's compiler (compile-only checks of the GPU harness; no GPU needed).
if os.path.exists("/usr/local/cuda/bin/nvcc"):
    config.available_features.add("nvcc")
# ptxas: cubins from gpu-module-to-binary, and the static checks on them.
if os.path.exists("/usr/local/cuda/bin/ptxas"):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", "/usr/local/cuda/bin/ptxas"))
# cuobjdump: the SASS of the cubins (tensor-core instructions). Not every
# CUDA install has it; the PTX checks stand in where it is missing.
if os.path.exists("/usr/local/cuda/bin/cuobjdump"):
    config.available_features.add("cuobjdump")
    config.substitutions.append(("%cuobjdump", "/usr/local/cuda/bin/cuobjdump"))
