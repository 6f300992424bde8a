"""Installs the moe_opt package against a moe-opt build.

The package calls the build's libmoert (through ctypes) and moe-translate;
it records where the build is at install time: $MOE_OPT_BUILD_DIR, else the
checkout's build/ (beside this folder). Nothing is downloaded or compiled:
`pip install ./python` (add --no-index --no-build-isolation offline).
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
NEEDED = ("bin/moe-translate", "lib/libmoert.so")


def moe_build_dir():
    build = Path(os.environ.get("MOE_OPT_BUILD_DIR") or HERE.parent / "build")
    build = build.resolve()
    for name in NEEDED:
        if not (build / name).is_file():
            sys.exit(f"moe_opt: {build / name} does not exist: build moe-opt "
                     "first (bash scripts/setup.sh), or set MOE_OPT_BUILD_DIR "
                     "to a build directory")
    return build


class BuildPyWithBuildDir(build_py):
    """build_py that also writes moe_opt/_install.py: the build's path."""

    def run(self):
        build = moe_build_dir()
        super().run()
        target = Path(self.build_lib) / "moe_opt" / "_install.py"
        target.write_text("# Written by setup.py: the moe-opt build this "
                          "package was installed against.\n"
                          f"BUILD_DIR = {str(build)!r}\n")


setup(
    name="moe_opt",
    version="0.1.0",
    description="Compile and run Mixture-of-Experts layers with moe-opt",
    packages=["moe_opt"],
    python_requires=">=3.9",
    install_requires=["numpy"],
    cmdclass={"build_py": BuildPyWithBuildDir},
)
