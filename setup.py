"""Packaging hook (the rest of the metadata is in pyproject.toml): a wheel carries the firmware
SDK inside the package, ``tt_host/sdk``, so that ``pip install .`` (not only an editable install
of the checkout) gives a ``tt-host`` that builds, emulates and demonstrates boards;
``tt_host.paths`` finds it there and builds into the user's cache instead."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: What the SDK is: firmware sources, board support, the CMake project, and the demo's model and samples.
SDK = ("firmware", "boards", "cmake", "CMakeLists.txt", "CMakePresets.json", "examples/demo_model",
       "examples/camera_samples")


class BuildPyWithSdk(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "tt_host" / "sdk"
        shutil.rmtree(target, ignore_errors=True)  # nothing left over from an earlier build
        for item in SDK:
            src, dst = root / item, target / item
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": BuildPyWithSdk})
