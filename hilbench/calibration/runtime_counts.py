"""hilbench's own instructions per inference on the emulated twins, measured, never pasted.

``hilbench calibrate --measure-runtime`` compiles each MLPerf Tiny reference model, builds the
firmware for every catalog twin, runs one inference under QEMU ``-icount`` on a fixed
pseudo-random input and writes the counts, with the git commit they were measured at, to
``data/hilbench_instruction_counts.csv``. The reality check reads that file. The runtime gets
faster over time, so the file says when and from which commit it was measured.
``benchmarks/instructions_table.py`` uses the same measurement for its tables.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import hilbench
from hilbench.errors import HilbenchError

INPUT_SEED = 20261126
RUNTIME_COUNT_COLUMNS = ("model", "benchmark", "target", "instructions", "kernels", "opt_level",
                         "git_sha", "measured_at", "hilbench_version")


@dataclass
class Cell:
    """One model on one core: instructions per inference and the ELF's footprint, or why not."""

    instructions: int | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    error: str | None = None


def fixed_input(compiled) -> bytes:
    """The same pseudo-random input bytes for a model on every core."""
    rng = np.random.default_rng(INPUT_SEED)
    return b"".join(rng.integers(0, 256, size=spec.bytes, dtype=np.uint8).tobytes()
                    for spec in compiled.inputs)


def measure(model_name: str, model_path: Path, targets: Iterable[str], opt_level: str,
            kernels: str, log: Callable[[str], None]) -> dict[str, Cell]:
    """Instructions per inference of ``model_path`` on each emulated target (QEMU -icount)."""
    from hilbench.build.builder import build_firmware
    from hilbench.compile import compile_model
    from hilbench.deploy.qemu import start_firmware
    from hilbench.measure.footprint import elf_footprint
    from hilbench.paths import cache_root
    from hilbench.session import DutSession

    targets = list(targets)
    try:
        folder = cache_root() / "instructions-table" / kernels / model_name.replace("/", "_")
        compiled = compile_model(model_path, folder, kernels=kernels)
    except HilbenchError as exc:
        return {target: Cell(error=f"compile: {exc}") for target in targets}
    data = fixed_input(compiled)
    cells: dict[str, Cell] = {}
    for target in targets:
        log(f"{model_name} on {target} ...")
        try:
            firmware = build_firmware(target, compiled, opt_level=opt_level)
            footprint = elf_footprint(firmware.elf_path)
            with start_firmware(firmware) as endpoint, \
                    DutSession.from_endpoint(endpoint, inference_timeout=600) as dut:
                dut.load_input(data)
                result = dut.infer(n=1, warmup=0)
                if not result.ticks:
                    raise HilbenchError("the firmware reported no ticks")
                instructions = endpoint.instructions_from_ticks(result.ticks[0], result.timer_hz)
            cells[target] = Cell(instructions, footprint.flash_bytes, footprint.ram_bytes)
        except HilbenchError as exc:
            cells[target] = Cell(error=str(exc).splitlines()[0])
    return cells


def twin_targets(catalog) -> list[str]:
    """The firmware targets of the catalog's emulated twins, each once, in catalog order."""
    return list(dict.fromkeys(board.twin.target for board in catalog.boards.values()
                              if board.twin is not None))


def measure_runtime_counts(catalog, output: Path, models: dict[str, Path],
                           log: Callable[[str], None], opt_level: str = "O2",
                           kernels: str = "auto") -> int:
    """Measure every model on every twin of ``catalog`` and write the counts CSV atomically.

    ``models`` maps MLPerf Tiny benchmark ids (kws, vww, ic, ad) to .tflite files. Returns the
    number of counts written; a model that fails on a target is an error naming both.
    """
    from hilbench.record.atomic import atomic_write_text
    from hilbench.record.provenance import git_sha, utc_now_iso

    targets = twin_targets(catalog)
    sha, when = git_sha(), utc_now_iso()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RUNTIME_COUNT_COLUMNS)
    count = 0
    for benchmark, path in models.items():
        for target, cell in measure(path.stem, path, targets, opt_level, kernels, log).items():
            if cell.error:
                raise HilbenchError(f"{path.name} on {target}: {cell.error}")
            writer.writerow((path.stem, benchmark, target, cell.instructions, kernels, opt_level,
                             sha, when, hilbench.__version__))
            count += 1
    atomic_write_text(Path(output), buffer.getvalue())
    return count


# What decides hilbench's instruction counts: the C runtime and DUT core, and the compiler
# that generates the model's calls.
RUNTIME_SOURCES = ("firmware_targets", "hilbench/compile")


def changed_since(measured_sha: str, repo: Path | None = None) -> list[str]:
    """The runtime source folders that changed between the commit the counts were measured at
    and the working tree of ``repo`` (default: this checkout), per git; [] when unchanged or
    when git cannot tell (not a checkout, or an unknown commit)."""
    import subprocess

    from hilbench.paths import REPO_DIR

    repo = repo or REPO_DIR
    sha = measured_sha.removesuffix("-dirty")
    if not sha:
        return []
    try:
        diff = subprocess.run(["git", "-C", str(repo), "diff", "--name-only", sha, "--",
                               *RUNTIME_SOURCES], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if diff.returncode != 0:
        return []
    return sorted({line.split("/")[0] if line.startswith("firmware_targets") else "hilbench/compile"
                   for line in diff.stdout.splitlines() if line})
