"""Fit an effective CPI per board from published CMSIS-NN results, and cross-validate it.

The model: a published latency is ``instructions x CPI / clock``, with ``instructions`` the
TFLite Micro + CMSIS-NN count of the model on the Cortex-M4 twin (a proxy for the Cortex-M7
and M33, which run the same Thumb-2 + DSP code) and one CPI per (board, software family).

The CPI of a group is the geometric mean of its rows' ``cycles / instructions``: it minimises
the squared log error, so a 20% miss counts the same on a 5 ms and on a 500 ms model.
Leave-one-model-out cross-validation predicts each row from the CPI of the group's *other*
models, which is what a twin does for a model it was never calibrated on.

Only CMSIS-NN families are fitted. X-CUBE-AI, Plumerai, Bosch HALE, microTVM's native
schedules and the others run other instruction streams: they are shown beside the
predictions (:mod:`hilbench.calibration.reality`), never mixed into a CMSIS-NN CPI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hilbench.calibration.published import M4_PROXY_CORES

GROUP = ["board", "family"]


def _join_unique(values: pd.Series) -> str:
    return ", ".join(dict.fromkeys(str(value) for value in values))


def calibration_pairs(published: pd.DataFrame, instructions: pd.Series) -> pd.DataFrame:
    """One row per (board, software family, benchmark) of CMSIS-NN software on a core the M4
    counts stand for. Reproductions (the same software on the same board in a later round, e.g.
    Krai's and cTuning's re-runs of OctoML's microTVM) are one pair: the median of their
    latencies, with every round and source kept."""
    rows = published[published["cmsis_nn"] & published["core_name"].isin(M4_PROXY_CORES)]
    pairs = (rows.groupby(["board", "family", "benchmark"], sort=True)
             .agg(catalog_board=("catalog_board", "first"), core=("core_name", "first"),
                  clock_mhz=("clock_mhz", "first"), board_cpi=("board_cpi", "first"),
                  published_ms=("latency_ms", "median"), cycles=("cycles", "median"),
                  rounds=("round", _join_unique), submitters=("submitter", _join_unique),
                  software=("software", "first"), sources=("source", _join_unique),
                  published_rows=("latency_ms", "size"))
             .reset_index())
    pairs["instructions"] = pairs["benchmark"].map(instructions)
    pairs = pairs.dropna(subset=["instructions"])
    pairs["cpi_observed"] = pairs["cycles"] / pairs["instructions"]
    return pairs


def geometric_mean(values: pd.Series) -> float:
    """The CPI that minimises the squared log error over ``values`` (observed CPIs)."""
    return float(np.exp(np.log(values.astype(float)).mean())) if len(values) else float("nan")


def leave_one_model_out(pairs: pd.DataFrame, group: list[str] = GROUP) -> pd.DataFrame:
    """``pairs`` with ``cpi_cv`` (the group's CPI without this row's model), ``predicted_ms``
    and ``error_pct`` (predicted / published - 1, in %). A group with a single model cannot
    predict it: its figures stay NaN."""
    pairs = pairs.copy()
    cv = pd.Series(np.nan, index=pairs.index)
    for _, members in pairs.groupby(group):
        for index in members.index:
            others = members["cpi_observed"].drop(index)
            cv[index] = geometric_mean(others) if len(others) else np.nan
    pairs["cpi_cv"] = cv
    pairs["predicted_ms"] = pairs["instructions"] * pairs["cpi_cv"] / (pairs["clock_mhz"] * 1e3)
    pairs["error_pct"] = (pairs["predicted_ms"] / pairs["published_ms"] - 1) * 100
    return pairs


@dataclass(frozen=True)
class BoardCpi:
    """The CPI a catalog board ships: its value, where it comes from and how well it predicts."""

    board: str
    cpi: float
    families: str
    rounds: str
    models: int
    error_band_pct: float
    """Largest absolute leave-one-model-out error of the fitted rows."""
    median_error_pct: float

    def source(self) -> str:
        """One line for the catalog's cpi_calibration.source."""
        return (f"MLPerf Tiny published results, {self.families} ({self.rounds}), against the "
                "TFLM + CMSIS-NN instruction counts of the Cortex-M4 twin")

    def fit(self) -> str:
        """One line for the catalog's cpi_calibration.fit."""
        return (f"geometric mean of cycles/instructions over {self.models} models; "
                f"leave-one-model-out median |error| {self.median_error_pct:.1f}%, "
                f"max {self.error_band_pct:.1f}%")


def board_cpis(validated: pd.DataFrame) -> dict[str, BoardCpi]:
    """The CPI of each catalog board, from the families allowed to set it (``board_cpi``),
    pooled when a board has several, with the error band of their cross-validated rows."""
    fitted = validated[validated["board_cpi"] & (validated["catalog_board"] != "")]
    result = {}
    for board, rows in fitted.groupby("catalog_board"):
        errors = rows["error_pct"].abs().dropna()
        result[board] = BoardCpi(
            board=board, cpi=geometric_mean(rows["cpi_observed"]),
            families=_join_unique(rows["family"]),
            rounds=_join_unique(", ".join(rows["rounds"]).split(", ")),
            models=rows["benchmark"].nunique(),
            error_band_pct=float(errors.max()) if len(errors) else float("nan"),
            median_error_pct=float(errors.median()) if len(errors) else float("nan"))
    return result


def median_abs_error(validated: pd.DataFrame) -> tuple[float, int]:
    """The median absolute cross-validated error in %, and over how many pairs."""
    errors = validated["error_pct"].abs().dropna()
    return (float(errors.median()) if len(errors) else float("nan")), int(len(errors))
