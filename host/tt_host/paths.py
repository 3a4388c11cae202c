"""Where the project's files are: the firmware SDK (sources, boards, CMake files, the demo),
where its builds go, and the shared benchmark data.

Two layouts. In a **checkout** (an editable install, or ``$TT_ROOT``) the SDK is the repository
and builds go to its ``build/`` folder, as the CMake presets say. **Installed from a wheel**,
the SDK travels inside the package (``tt_host/sdk``, copied there by ``setup.py``) and builds go
to the user's cache (``$TT_HOME/build/<version>``), never into site-packages.
"""

from __future__ import annotations

import os
from pathlib import Path

from tt_host import __version__

_PACKAGE = Path(__file__).resolve().parent
#: The SDK a wheel carries (absent in a checkout).
PACKAGED_SDK = _PACKAGE / "sdk"


def _sdk_root() -> Path:
    if os.environ.get("TT_ROOT"):
        return Path(os.environ["TT_ROOT"])
    checkout = _PACKAGE.parents[1]
    if (checkout / "firmware").is_dir() and (checkout / "boards").is_dir():
        return checkout
    return PACKAGED_SDK


#: Root of the tt sources: ``$TT_ROOT``, the checkout this package runs from, or the SDK inside
#: the installed package. Holds ``firmware/``, ``boards/``, ``cmake/``, the CMake files, ``examples/``.
REPO_ROOT = _sdk_root()


def build_root(sdk: Path | None = None) -> Path:
    """Where ``cmake`` builds the presets of ``sdk`` (default :data:`REPO_ROOT`): ``$TT_BUILD``,
    the checkout's ``build/``, or the user's cache for the SDK inside an installed package."""
    if os.environ.get("TT_BUILD"):
        return Path(os.environ["TT_BUILD"])
    sdk = sdk or REPO_ROOT
    if sdk.resolve() != PACKAGED_SDK:
        return sdk / "build"
    from tt_host.workflows.cache import default_root

    return default_root() / "build" / __version__


def build_dir(preset: str, sdk: Path | None = None) -> Path:
    """The build folder of a CMake preset: ``cmake --preset P -B build_dir(P)``."""
    return build_root(sdk) / preset


#: Shared benchmark models and schemes: ``$TT_SHARED`` or ``../shared`` beside the repository.
SHARED_DIR = Path(os.environ.get("TT_SHARED", REPO_ROOT.parent / "shared"))
