#!/usr/bin/env python3
"""Prints a markdown table of instructions per inference per model on every emulated core.

For each model (the four MLPerf Tiny int8 reference models, then every int8 model of the zoo)
and each QEMU twin, it compiles the model with hilbench.compile, builds the firmware, runs one
inference under QEMU -icount on a fixed pseudo-random input and converts the device's timer
ticks into an instruction count. A second table gives flash and RAM from each ELF.

    python benchmarks/instructions_table.py                  # everything (several minutes)
    python benchmarks/instructions_table.py --models kws_ref_model --targets mps2-an386

The counts are QEMU instruction counts (icount), deterministic and exact, not cycles: a real
core needs CPI(core) cycles per instruction on average (docs/emulation.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hilbench import mlperf_tiny
from hilbench.build.builder import OPT_LEVELS
from hilbench.build.recipe import known_targets, load_recipe
from hilbench.calibration.published import BENCHMARK_MODELS, load_tflm_counts
from hilbench.calibration.runtime_counts import Cell, measure
from hilbench.deploy.qemu import ICOUNT_SHIFT, cpu_from_flags
from hilbench.paths import zoo_root

# The twin the TFLM + CMSIS-NN figures were measured on (hilbench/calibration/data/PROVENANCE.md).
TFLM_TARGET = "mps2-an386"

KERNEL_DESCRIPTIONS = {
    "auto": "kernels=auto: SMLAD/SXTB16 inner loops on cores with the DSP extension, portable C on the M3",
    "portable": "kernels=portable: plain C on every core",
}


def available_models() -> dict[str, Path]:
    """Model name -> .tflite: the MLPerf Tiny int8 models that are present (verified; see
    'hilbench models'), then the zoo's int8 models."""
    models = dict(mlperf_tiny.present_int8_models())
    for path in sorted(zoo_root().glob("*/int8.tflite")):
        models[f"zoo/{path.parent.name}"] = path
    return models


def emulated_targets() -> list[str]:
    """The firmware targets run by QEMU (recipe mode 'emulated')."""
    return [name for name in known_targets() if load_recipe(name).mode == "emulated"]


def core_label(target: str) -> str:
    return f"{cpu_from_flags(load_recipe(target).cpu_flags)} ({target})"


def tflm_cmsis_nn_instructions() -> dict[str, int]:
    """Model name -> TFLM + CMSIS-NN instructions per inference on the Cortex-M4 twin."""
    return {BENCHMARK_MODELS[benchmark]: int(count)
            for benchmark, count in load_tflm_counts(kernels="cmsis-nn").items()}


def markdown(results: dict[str, dict[str, Cell]], targets: list[str], opt_level: str, kernels: str) -> str:
    count_header = "| model | " + " | ".join(core_label(t) for t in targets) + " |"
    count_rule = "|---|" + "---:|" * len(targets)
    tflm = tflm_cmsis_nn_instructions()
    with_ratio = TFLM_TARGET in targets and any(m in tflm for m in results)
    if with_ratio:
        count_header += " × TFLM + CMSIS-NN (M4) |"
        count_rule += "---:|"
    header = "| model | " + " | ".join(core_label(t) for t in targets) + " |"
    rule = "|---|" + "---:|" * len(targets)
    lines = [
        f"Instructions per inference on the emulated cores: QEMU 7.2 instruction counts (-icount shift={ICOUNT_SHIFT}), "
        "not cycles. Deterministic: the same firmware and input give the same count on every run. "
        f"hilbench int8 runtime ({KERNEL_DESCRIPTIONS[kernels]}), firmware built with arm-none-eabi-gcc "
        f"-{opt_level}; one inference on a fixed "
        "pseudo-random input. Latency estimate = instructions x CPI(core) / clock_hz (docs/emulation.md).",
    ]
    if with_ratio:
        lines.append(
            "Last column: the Cortex-M4 count over TFLite Micro + CMSIS-NN's on the same twin "
            "(" + ", ".join(f"{m} {c:,}" for m, c in tflm.items()) + " instructions, measured "
            "the same way: hilbench/calibration/data/PROVENANCE.md).")
    lines += ["", count_header, count_rule]
    for model, cells in results.items():
        row = [_count(cells[t]) for t in targets]
        if with_ratio:
            row.append(_ratio(cells[TFLM_TARGET], tflm.get(model)))
        lines.append(f"| {model} | " + " | ".join(row) + " |")
    lines += ["", "Flash / RAM of each firmware image (whole ELF: runtime, DUT core, weights; RAM = data + bss, "
              "including the tensor arena), KiB:", "", header, rule]
    for model, cells in results.items():
        row = [_footprint(cells[t]) for t in targets]
        lines.append(f"| {model} | " + " | ".join(row) + " |")
    errors = [(m, t, c.error) for m, cells in results.items() for t, c in cells.items() if c.error]
    if errors:
        lines += ["", "Not measured:"] + [f"- {m} on {t}: {e}" for m, t, e in errors]
    return "\n".join(lines)


def _count(cell: Cell) -> str:
    return f"{cell.instructions:,}" if cell.instructions is not None else "n/a"


def _ratio(cell: Cell, tflm_instructions: int | None) -> str:
    if cell.instructions is None or tflm_instructions is None:
        return ""
    return f"{cell.instructions / tflm_instructions:.3f}"


def _footprint(cell: Cell) -> str:
    if cell.flash_bytes is None:
        return "n/a"
    return f"{cell.flash_bytes / 1024:.1f} / {cell.ram_bytes / 1024:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", help="model names (default: all; see --list)")
    parser.add_argument("--targets", nargs="*", help="emulated targets (default: all)")
    parser.add_argument("--opt", default="O2", choices=OPT_LEVELS, help="optimisation level (default O2)")
    parser.add_argument("--kernels", default="auto", choices=sorted(KERNEL_DESCRIPTIONS),
                        help="kernel set: auto = DSP inner loops on cores that have them (default), "
                             "portable = plain C everywhere")
    parser.add_argument("--list", action="store_true", help="list the models and targets, then exit")
    args = parser.parse_args(argv)

    models = available_models()
    targets = emulated_targets()
    if args.list:
        print("models: " + ", ".join(models))
        print("targets: " + ", ".join(targets))
        return 0
    chosen_models = args.models or list(models)
    unknown = [m for m in chosen_models if m not in models]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(models)})")
    chosen_targets = args.targets or targets
    unknown = [t for t in chosen_targets if t not in targets]
    if unknown:
        parser.error(f"unknown emulated target(s) {', '.join(unknown)} (known: {', '.join(targets)})")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = {m: measure(m, models[m], chosen_targets, args.opt, args.kernels, log) for m in chosen_models}
    print(markdown(results, chosen_targets, args.opt, args.kernels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
