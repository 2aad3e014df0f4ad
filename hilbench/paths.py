"""Where hilbench finds its firmware sources, zoo models and caches."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def firmware_root() -> Path:
    """The firmware_targets/ folder (override with HILBENCH_FIRMWARE)."""
    return Path(os.environ.get("HILBENCH_FIRMWARE", REPO_DIR / "firmware_targets"))


def zoo_root() -> Path:
    """The models_zoo/ folder (override with HILBENCH_ZOO)."""
    return Path(os.environ.get("HILBENCH_ZOO", REPO_DIR / "models_zoo"))


def cache_root() -> Path:
    """Build cache (override with HILBENCH_CACHE; default ~/.cache/hilbench)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hilbench"
    return Path(os.environ.get("HILBENCH_CACHE", default))


def shared_models_root() -> Path:
    """MLPerf Tiny reference models kept beside the checkout (read-only, never copied)."""
    return Path(os.environ.get("HILBENCH_SHARED_MODELS", REPO_DIR.parent / "shared" / "models" / "mlperf_tiny"))
