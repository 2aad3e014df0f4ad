"""Where hilbench finds its firmware sources, zoo models and caches.

The repository keeps firmware_targets/ and models_zoo/ at its top level; a built wheel
carries them inside the package (hilbench/firmware_targets, hilbench/models_zoo, mapped at
build time by pyproject.toml). Both layouts are found here, the installed one first.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def _bundled(folder: str) -> Path:
    """``folder`` inside the installed package, else at the top of the checkout."""
    inside = PACKAGE_DIR / folder
    return inside if inside.is_dir() else REPO_DIR / folder


def firmware_root() -> Path:
    """The firmware_targets/ folder (override with HILBENCH_FIRMWARE)."""
    return Path(os.environ.get("HILBENCH_FIRMWARE") or _bundled("firmware_targets"))


def zoo_root() -> Path:
    """The models_zoo/ folder (override with HILBENCH_ZOO)."""
    return Path(os.environ.get("HILBENCH_ZOO") or _bundled("models_zoo"))


def cache_root() -> Path:
    """Build cache (override with HILBENCH_CACHE; default ~/.cache/hilbench)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hilbench"
    return Path(os.environ.get("HILBENCH_CACHE", default))
