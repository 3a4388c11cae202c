"""Build and load the host build of the C runtime (``build/host/firmware/libtt.so``).

``load()`` finds the library (``$TT_LIBTT`` or the ``host`` preset's build folder), rebuilds it
with CMake when a firmware source is newer, and declares every prototype the other modules of
this package registered in :data:`PROTOTYPES`.
"""

from __future__ import annotations

import ctypes as C
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from tt_host.errors import BuildError, ToolMissing
from tt_host.paths import REPO_ROOT, build_dir

#: C function name -> (restype, argtypes); filled by the modules that wrap the functions.
PROTOTYPES: dict[str, tuple] = {}


BUILD_DIR = build_dir("host")
LIBRARY = BUILD_DIR / "firmware" / "libtt.so"


def _newest_source() -> float:
    newest = 0.0
    for pattern in ("firmware/**/*.c", "firmware/**/*.h", "firmware/**/*.cmake", "firmware/**/CMakeLists.txt"):
        for p in REPO_ROOT.glob(pattern):
            newest = max(newest, p.stat().st_mtime)
    return newest


def build() -> Path:
    """Configure and build the ``host`` preset (incremental); return the library path."""
    if shutil.which("cmake") is None or not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        raise ToolMissing("cmake and a C compiler are needed to build the host runtime, which plans and checks "
                          "training steps (apt-get install cmake gcc)")
    for cmd in (["cmake", "--preset", "host", "-B", str(BUILD_DIR)],
                ["cmake", "--build", str(BUILD_DIR), "-j2", "--target", "tt"]):
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return LIBRARY


@lru_cache(maxsize=1)
def load() -> C.CDLL:
    """The host runtime library with its kernel prototypes declared (built on demand)."""
    override = os.environ.get("TT_LIBTT")
    if override:
        path = Path(override)
    else:
        path = LIBRARY
        if not path.exists() or path.stat().st_mtime < _newest_source():
            build()
    lib = C.CDLL(str(path))
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib
