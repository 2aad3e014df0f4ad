"""The spin model of tests/twin_fixtures/spin_model/ as a compiled model for the builder.

Its invoke runs exactly 2 * n instructions in a loop for an input n (uint32), plus a fixed
overhead, so the difference of two measurements is known to the instruction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

SPIN_DIR = Path(__file__).resolve().parent / "spin_model"
INSTRUCTIONS_PER_SPIN = 2


@dataclass(frozen=True)
class SpinCompiledModel:
    model_name: str
    model_sha256: str
    source_files: list[Path]
    include_dirs: list[Path]
    runtime_sources: list[Path] = field(default_factory=list)
    runtime_sha256: str = ""


def spin_compiled_model() -> SpinCompiledModel:
    """The spin model's sources as the builder wants them."""
    digest = hashlib.sha256()
    for path in sorted(SPIN_DIR.glob("*.[ch]")):
        digest.update(path.read_bytes())
    return SpinCompiledModel(
        model_name="spin",
        model_sha256=digest.hexdigest(),
        source_files=sorted(SPIN_DIR.glob("*.c")),
        include_dirs=[SPIN_DIR],
    )
