"""Footprint and cost of the hilbench int8 runtime on the MLPerf Tiny int8 models.

Prints one table per kernel set: flash (weights + model parameters and kernel code, compiled
for Cortex-M4 with arm-none-eabi-gcc -O2 when it is installed), arena bytes beside TFLM's, and
instructions per inference:
  - host: x86-64 instructions inside hb_model_invoke under valgrind --tool=callgrind
    (deterministic; wall time on the host clock if valgrind is missing). Not Cortex-M4 figures.
  - emulated (with --emulated-m4): Cortex-M4 instructions of one hb_model_invoke on QEMU
    mps2-an386 with -icount shift=0, timed with SysTick at 40 instructions per tick, the same
    method as the TFLM figures published with the MLPerf Tiny models (tests/support/m4_emulated.py).

    python benchmarks/runtime_bench.py [--models kws_ref_model ...] [--kernels portable auto]
                                       [--emulated-m4]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hilbench.compile import CompiledModel, compile_model  # noqa: E402
from hilbench import mlperf_tiny  # noqa: E402
from hilbench.calibration.published import TFLM_COUNTS_CSV  # noqa: E402
from tests.support import m4_emulated  # noqa: E402
from tests.support.host_runner import build_host_runner  # noqa: E402

MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


def tflm_reference() -> dict[str, dict[str, int]]:
    """TFLM on the emulated Cortex-M4 (QEMU mps2-an386, icount), per model: arena bytes and
    instructions with the reference and the CMSIS-NN kernels
    (hilbench/calibration/data/tflm_instruction_counts.csv, PROVENANCE.md beside it)."""
    table = pd.read_csv(TFLM_COUNTS_CSV)
    figures: dict[str, dict[str, int]] = {}
    for row in table.itertuples():
        entry = figures.setdefault(row.model, {"arena": int(row.arena_bytes)})
        entry["cmsis_instr" if row.kernels == "cmsis-nn" else "ref_instr"] = int(row.instructions)
    return figures


TFLM_REFERENCE = tflm_reference()
CORTEX_M4_FLAGS = list(m4_emulated.CORTEX_M4_FLAGS)


def cortex_m4_flash_bytes(compiled: CompiledModel) -> tuple[int, int] | None:
    """(code bytes, weight bytes) of the model and its kernels compiled for Cortex-M4."""
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if not gcc or not size:
        return None
    includes = [f"-I{d}" for d in compiled.include_dirs]
    defines = [f"-D{k}={v}" for k, v in compiled.compile_definitions.items()]
    code = weights = 0
    with tempfile.TemporaryDirectory() as tmp:
        for source in compiled.source_files + compiled.runtime_sources:
            obj = Path(tmp) / (source.stem + ".o")
            subprocess.run([gcc, *CORTEX_M4_FLAGS, *defines, *includes, "-c", str(source),
                            "-o", str(obj)], check=True)
            text, data = (int(v) for v in subprocess.run(
                [size, str(obj)], check=True, capture_output=True,
                text=True).stdout.splitlines()[1].split()[:2])
            if source.name == "hb_model_data.c":
                weights += text + data
            else:
                code += text + data
    return code, weights


def host_instructions_per_inference(compiled: CompiledModel, inferences: int = 2) -> int | None:
    """x86-64 instructions executed inside hb_model_invoke, per inference (callgrind)."""
    if not shutil.which("valgrind"):
        return None
    exe = build_host_runner(compiled)
    spec = compiled.inputs[0]
    data = np.random.default_rng(0).integers(-128, 128, size=(inferences,) + spec.shape,
                                             dtype=np.int8).tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=hb_model_invoke",
                        f"--callgrind-out-file={out}", str(exe)], input=data, check=True,
                       capture_output=True)
        totals = re.search(r"^(?:totals|summary):\s+(\d+)", out.read_text(), re.MULTILINE)
    return int(totals.group(1)) // inferences


def emulated_m4_instructions(compiled: CompiledModel) -> int | None:
    """Cortex-M4 instructions of one hb_model_invoke on QEMU mps2-an386 (icount, SysTick)."""
    if not m4_emulated.tools_available():
        return None
    row = np.random.default_rng(0).integers(-128, 128, size=compiled.inputs[0].shape,
                                            dtype=np.int8)
    instructions, _ = m4_emulated.run_on_emulated_m4(compiled, row)
    return instructions


def host_wall_us_per_inference(compiled: CompiledModel, inferences: int = 20) -> float:
    exe = build_host_runner(compiled)
    spec = compiled.inputs[0]
    data = np.zeros((inferences,) + spec.shape, np.int8).tobytes()
    start = time.perf_counter()
    subprocess.run([str(exe)], input=data, check=True, capture_output=True)
    return (time.perf_counter() - start) / inferences * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--kernels", nargs="+", default=["portable"],
                        choices=["portable", "auto"])
    parser.add_argument("--emulated-m4", action="store_true",
                        help="also count Cortex-M4 instructions on QEMU mps2-an386 (slow)")
    args = parser.parse_args(argv)
    for kernels in args.kernels:
        print_table(args.models, kernels, args.emulated_m4)
    return 0


def print_table(models: list[str], kernels: str, emulated: bool) -> None:
    header = ["model", "flash B", "code+params B (M4)", "arena B", "TFLM arena B",
              "instr/inference [host x86-64, callgrind]"]
    if emulated:
        header += ["instr/inference [emulated M4, icount]", "x TFLM+CMSIS-NN [emulated M4]"]
    header += ["TFLM ref kernels [emulated M4]", "TFLM+CMSIS-NN [emulated M4]"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            compiled = compile_model(mlperf_tiny.model_path(name), Path(tmp) / name,
                                     kernels=kernels)
            flash = cortex_m4_flash_bytes(compiled)
            instructions = host_instructions_per_inference(compiled)
            tflm = TFLM_REFERENCE.get(name, {})
            row = [
                name,
                f"{flash[0] + flash[1]:,}" if flash else f"{compiled.weight_bytes:,} + ?",
                f"{flash[0]:,}" if flash else "n/a (no arm-none-eabi-gcc)",
                f"{compiled.arena_bytes:,}",
                f"{tflm['arena']:,}" if tflm else "",
                f"{instructions:,}" if instructions is not None
                else f"{host_wall_us_per_inference(compiled):.0f} us [host-clock]",
            ]
            if emulated:
                m4 = emulated_m4_instructions(compiled)
                row.append(f"{m4:,}" if m4 is not None else "n/a (no qemu/arm gcc)")
                row.append(f"{m4 / tflm['cmsis_instr']:.3f}" if m4 is not None and tflm else "")
            row += [f"{tflm['ref_instr']:,}" if tflm else "",
                    f"{tflm['cmsis_instr']:,}" if tflm else ""]
            rows.append(row)
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print(f"\nhilbench int8 runtime, kernels={kernels}. mode labels in brackets: host figures are "
          "x86-64 instructions, not Cortex-M4 ones; TFLM columns are published figures, not measured here.")
    for row in [header, ["-" * w for w in widths]] + rows:
        print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths)))


if __name__ == "__main__":
    sys.exit(main())
