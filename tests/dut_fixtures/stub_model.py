"""The stub model of tests/dut_fixtures/stub_model/ as a compiled model, and its outputs in Python.

It has the fields of hilbench.compile's CompiledModel that the builder reads, so the DUT core can
be built and tested before (and independently of) the real model compiler.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STUB_DIR = Path(__file__).resolve().parent / "stub_model"
INPUT_BYTES = 40
OUTPUT_BYTES = 8
WEIGHTS = np.array([(i % 7) - 3 for i in range(INPUT_BYTES)], dtype=np.int32)
FOLDED_SCALE, FOLDED_ZERO_POINT = 0.5, -3
SUMS_SCALE, SUMS_ZERO_POINT = 0.0625, 0


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int
    bytes: int


@dataclass(frozen=True)
class StubCompiledModel:
    model_name: str
    model_sha256: str
    source_files: list[Path]
    include_dirs: list[Path]
    runtime_sources: list[Path] = field(default_factory=list)
    runtime_sha256: str = ""
    arena_bytes: int = 48
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    compile_definitions: dict[str, str] = field(default_factory=dict)


def stub_compiled_model(source_dir: Path = STUB_DIR) -> StubCompiledModel:
    """The stub model's sources as the builder wants them; model_sha256 hashes those sources."""
    sources = sorted(source_dir.glob("*.c"))
    digest = hashlib.sha256()
    for path in sorted(source_dir.glob("*.[ch]")):
        digest.update(path.read_bytes())
    return StubCompiledModel(
        model_name="stub40",
        model_sha256=digest.hexdigest(),
        source_files=sources,
        include_dirs=[source_dir],
        inputs=(TensorSpec("x", (1, 40), "int8", 0.1, 0, 40),),
        outputs=(
            TensorSpec("folded", (1, 4), "int8", FOLDED_SCALE, FOLDED_ZERO_POINT, 4),
            TensorSpec("sums", (1, 2), "int16", SUMS_SCALE, SUMS_ZERO_POINT, 4),
        ),
    )


def expected_raw_output(input_bytes: bytes) -> bytes:
    """The output bytes (folded int8[4] then sums int16[2], little endian) for one input."""
    x = np.frombuffer(input_bytes, dtype=np.int8).astype(np.int32)
    folded = np.array([x[j::4].sum() for j in range(4)], dtype=np.int64)
    folded_bytes = (folded & 0xFF).astype(np.uint8).tobytes()
    sums = np.array([x.sum(), (x * WEIGHTS).sum()], dtype=np.int64).astype("<i2")
    return folded_bytes + sums.tobytes()


def expected_results(input_bytes: bytes) -> list[float]:
    """The dequantized outputs as the m-results line prints them: printf("%0.3f") rounding."""
    raw = expected_raw_output(input_bytes)
    folded = np.frombuffer(raw[:4], dtype=np.int8).astype(np.float32)
    sums = np.frombuffer(raw[4:], dtype="<i2").astype(np.float32)
    values = list((folded - np.float32(FOLDED_ZERO_POINT)) * np.float32(FOLDED_SCALE))
    values += list((sums - np.float32(SUMS_ZERO_POINT)) * np.float32(SUMS_SCALE))
    return [float(f"{float(v):.3f}") for v in values]
