"""Where the project's files are: the repository (firmware sources, boards) and shared data."""

from __future__ import annotations

import os
from pathlib import Path

#: Root of the tt repository: ``$TT_ROOT`` or the checkout this package was installed from.
REPO_ROOT = Path(os.environ.get("TT_ROOT", Path(__file__).resolve().parents[2]))

#: Shared benchmark models and schemes: ``$TT_SHARED`` or ``../shared`` beside the repository.
SHARED_DIR = Path(os.environ.get("TT_SHARED", REPO_ROOT.parent / "shared"))
