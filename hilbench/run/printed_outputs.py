"""Recover a plain MLPerf Tiny DUT's quantized outputs from the floats it printed.

A plain DUT prints each output element as ``float(q - zero_point) * scale`` with three
decimals (``m-results-[...]``). Some firmware rounds (``printf("%0.3f")`` of a C library),
some truncates (the small printf of many embedded SDKs: 0.0039 prints as 0.003). Neither
says which. The recovery tries every value q of the output dtype under each convention:
it is exact when, under one convention, every printed number matches exactly one q (and the
other convention does not give a different, equally unique answer). Otherwise it says why,
and no guessed tensor comes out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hilbench.mlperf_wire import dequantize_like_reference_firmware

CONVENTIONS = ("round", "truncate")


@dataclass(frozen=True)
class PrintedRecovery:
    """The outcome of a recovery.

    values: the quantized outputs (rows, elements) in the model's dtype, or None when the
    recovery is not exact. convention: how the DUT formats its numbers ('round' or
    'truncate'), when it could be told. reason: why the recovery is not exact ('' if it is).
    """

    values: np.ndarray | None
    convention: str | None
    reason: str = ""

    @property
    def exact(self) -> bool:
        return self.values is not None


def _formatted(value: float, convention: str) -> float:
    """The number a DUT prints for ``value`` with three decimals, read back as a float."""
    if convention == "round":
        return float(f"{value:.3f}")
    return math.trunc(value * 1000.0) / 1000.0


def recover_printed_outputs(printed: np.ndarray, dtype: str, scale: float,
                            zero_point: int) -> PrintedRecovery:
    """The quantized tensor behind ``printed`` (rows x elements of printed floats)."""
    printed = np.atleast_2d(np.asarray(printed, dtype=np.float64))
    kind = np.dtype(dtype)
    if kind.kind not in "iu" or kind.itemsize > 2 or not scale:
        return PrintedRecovery(None, None, f"{dtype} outputs are not recovered from printed text "
                                           "(only 8- and 16-bit quantized outputs are)")
    info = np.iinfo(kind)
    candidates = np.arange(info.min, info.max + 1, dtype=np.int64)
    dequantized = dequantize_like_reference_firmware(candidates, scale, zero_point)  # the DUT's own
    answers: dict[str, np.ndarray] = {}
    problems: dict[str, str] = {}
    for convention in CONVENTIONS:
        table: dict[float, list[int]] = {}
        for q, value in zip(candidates, dequantized.astype(np.float64)):
            table.setdefault(_formatted(float(value), convention) + 0.0, []).append(int(q))
        values = np.empty(printed.shape, dtype=kind)
        problem = ""
        for index, number in np.ndenumerate(printed):
            matches = table.get(float(number) + 0.0, [])
            if len(matches) != 1:
                problem = (f"the printed {number:.3f} (row {index[0]}, element {index[1]}) matches "
                           + (f"{len(matches)} {dtype} values ({matches[0]}..{matches[-1]})"
                              if matches else f"no {dtype} value")
                           + f" at scale {scale:g}, zero point {zero_point} when {convention}ed")
                break
            values[index] = matches[0]
        if problem:
            problems[convention] = problem
        else:
            answers[convention] = values
    if len(answers) == 2 and not np.array_equal(answers["round"], answers["truncate"]):
        return PrintedRecovery(None, None, "the printed numbers fit both rounding and truncation "
                                           "with different values; the DUT's formatting cannot be told")
    if answers:
        convention = "truncate" if "truncate" in answers and "round" not in answers else \
            ("round" if "truncate" not in answers else "round or truncate (same values)")
        return PrintedRecovery(next(iter(answers.values())), convention)
    return PrintedRecovery(None, None, "; ".join(problems.values()))
