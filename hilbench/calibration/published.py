"""The calibration data: published MLPerf Tiny results and measured instruction counts.

Every table here is a pandas DataFrame read from the files in ``data/`` (their provenance is
``data/PROVENANCE.md``). This module only reads and labels the data: which software family a
published row ran, which catalog board it was measured on, and whether its software runs the
instruction stream that the TFLite Micro + CMSIS-NN counts describe. The fit is in
:mod:`hilbench.calibration.cpi_fit`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hilbench.errors import ConfigError

DATA_DIR = Path(__file__).with_name("data")
PUBLISHED_CSV = DATA_DIR / "mlperf_tiny_published.csv"
TFLM_COUNTS_CSV = DATA_DIR / "tflm_instruction_counts.csv"
RUNTIME_COUNTS_CSV = DATA_DIR / "hilbench_instruction_counts.csv"
PROVENANCE = "hilbench/calibration/data/PROVENANCE.md"

# The MLPerf Tiny benchmark ids and the reference model each one runs.
BENCHMARK_MODELS = {"kws": "kws_ref_model", "vww": "vww_96_int8", "ic": "pretrainedResnet_quant",
                    "ad": "ad01_int8"}

# Published "Board Name" -> catalog board. The L4R5ZI-P is the SMPS variant of the same MCU
# at the same clock: the same latency, another power supply (see power.py).
CATALOG_BOARDS = {
    "NUCLEO-L4R5ZI": "nucleo-l4r5zi", "Nucleo-L4R5ZI": "nucleo-l4r5zi",
    "NUCLEO-L4R5ZI-P": "nucleo-l4r5zi",
    "NUCLEO-H7A3ZI": "nucleo-h7a3zi", "NUCLEO-H7A3ZI-Q": "nucleo-h7a3zi",
    "NUCLEO-U575ZI-Q": "nucleo-u575zi",
}

# Cores whose CMSIS-NN code path is the Cortex-M4's (Thumb-2 + DSP): the M4 counts are a proxy
# for them. The M55 and M85 run Helium (MVE) paths, the M0+ has no DSP extension.
M4_PROXY_CORES = ("Cortex-M4", "Cortex-M7", "Cortex-M33")


@dataclass(frozen=True)
class SoftwareFamily:
    """How a published row's software relates to the counted TFLM + CMSIS-NN instructions."""

    name: str
    pattern: str
    """A regular expression matched against the published ``software`` text."""
    cmsis_nn: bool
    """Its int8 kernels are CMSIS-NN's: a CPI fitted on it is a CMSIS-NN CPI."""
    board_cpi: bool
    """Its rows may set the board's catalog CPI (same kernel generation as the counts)."""
    note: str


# First match wins: the order matters where texts overlap (ONNC also names CMSIS-NN).
SOFTWARE_FAMILIES = (
    SoftwareFamily(
        "TFLM v2.3.1 + CMSIS-NN", r"TFLite Micro v2\.3\.1 \+ CMSIS-NN", True, False,
        "v0.5 reference (2020): older TFLM and CMSIS-NN kernels, about 2x the cycles of the "
        "later CMSIS-NN rows; fitted on its own, never sets the board's CPI"),
    SoftwareFamily(
        "TFLM + CMSIS-NN", r"TFLite Micro \+ CMSIS-NN", True, True,
        "TFLM with its CMSIS-NN kernels, as the instruction counts"),
    SoftwareFamily(
        "microTVM + CMSIS-NN", r"microTVM .*\+ CMSIS-NN", True, True,
        "microTVM calling CMSIS-NN (51263182) for its int8 layers"),
    SoftwareFamily("microTVM native", r"microTVM .*native", False, False,
                   "TVM's own schedules, no CMSIS-NN"),
    SoftwareFamily("ONNC + CMSIS-NN legacy", r"ONNC", False, False,
                   "legacy CMSIS_5 q7 kernels, another instruction stream"),
    SoftwareFamily("TFLM + MVP accelerator", r"MVP", False, False,
                   "offloads to a matrix-vector accelerator"),
    SoftwareFamily("X-CUBE-AI", r"X-CUBE-AI", False, False, "ST's own kernels"),
    SoftwareFamily("ST Edge AI + DSP co-processor", r"ST Edge AI", False, False,
                   "offloads to a DSP co-processor"),
    SoftwareFamily("Plumerai", r"Plumerai", False, False, "Plumerai's own kernels"),
    SoftwareFamily("Bosch HALE", r"Bosch HALE", False, False, "Bosch's own code generator"),
)


def software_family(software: str) -> SoftwareFamily:
    """The family of a published ``software`` text; ConfigError when none matches."""
    for family in SOFTWARE_FAMILIES:
        if re.search(family.pattern, software):
            return family
    raise ConfigError(f"published software {software!r} matches no family in "
                      "hilbench.calibration.published.SOFTWARE_FAMILIES; add one")


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ConfigError(f"{what} {path} is not a readable CSV file: {error}") from None


def load_published(path: Path = PUBLISHED_CSV) -> pd.DataFrame:
    """The published results, one row per (round, submitter, system, benchmark), with:

    ``family`` and its flags ``cmsis_nn`` and ``board_cpi``; ``catalog_board`` (empty when
    the board is not in hilbench's catalog); ``core_name`` (e.g. ``Cortex-M4``);
    ``cycles`` = latency x clock; ``avg_power_mw`` = energy / latency; ``source`` (repository
    and performance-file path, for citing).
    """
    table = _read_csv(path, "published results table")
    missing = {"round", "submitter", "system", "board", "core", "clock_mhz", "software",
               "benchmark", "latency_ms", "energy_uj", "source_repo", "source_path"} - set(table)
    if missing:
        raise ConfigError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    families = table["software"].map(software_family)
    # Bosch's *_float systems ran the float32 model: same software text, another workload.
    float_model = table["system"].str.contains("_float", regex=False)
    table["family"] = families.map(lambda family: family.name).where(
        ~float_model, families.map(lambda family: family.name) + " (float32 model)")
    table["cmsis_nn"] = families.map(lambda family: family.cmsis_nn)
    table["board_cpi"] = families.map(lambda family: family.board_cpi)
    table["catalog_board"] = table["board"].map(CATALOG_BOARDS).fillna("")
    table["core_name"] = table["core"].str.extract(r"(Cortex-M\d+)", expand=False).fillna("")
    table["cycles"] = table["latency_ms"] * 1e-3 * table["clock_mhz"] * 1e6
    table["avg_power_mw"] = table["energy_uj"] / table["latency_ms"]
    table["source"] = table["source_repo"] + ":" + table["source_path"].str.split(";").str[0]
    return table


def load_tflm_counts(path: Path = TFLM_COUNTS_CSV, kernels: str = "cmsis-nn") -> pd.Series:
    """TFLM instructions per inference on the Cortex-M4 twin, indexed by benchmark id."""
    table = _read_csv(path, "TFLM instruction counts")
    chosen = table[table["kernels"] == kernels]
    return chosen.set_index("benchmark")["instructions"].astype(float)


def load_runtime_counts(path: Path = RUNTIME_COUNTS_CSV) -> pd.DataFrame | None:
    """hilbench's own instruction counts (written by ``hilbench calibrate --measure-runtime``),
    or None when the file was never measured."""
    if not Path(path).is_file():
        return None
    return _read_csv(path, "hilbench instruction counts")
