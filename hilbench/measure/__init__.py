"""The measure stage: turns plain data from the run stage into labelled figures.

Pure arithmetic on figures; it never drives a DUT. The procedure that does
(:mod:`hilbench.procedure`) sits above it and calls these functions.

- :mod:`.latency`: latency statistics (MLPerf Tiny windows, percentiles, bootstrap CI)
- :mod:`.accuracy`: top-1 / ROC AUC, float reference, delta, bit-exact rate
- :mod:`.energy`: energy per inference from a marked power trace, or from a power model;
  :mod:`.energy_capture` reads JLS files, :mod:`.energy_probe` drives a live Joulescope
- :mod:`.footprint`: flash, RAM and stack of a firmware ELF
- :mod:`.reference`: the tflite-micro interpreter as the host reference

See docs/measurements.md for how each figure is measured and labelled.
"""

from hilbench.measure.accuracy import (AccuracyResult, bitexact_rate, dequantize, evaluate_accuracy,
                                       model_accuracy, reconstruction_error, roc_auc, task_scores,
                                       top1_accuracy)
from hilbench.measure.energy import (EnergyResult, PowerTrace, SampledSignal, mark_times_s,
                                     measure_energy, modeled_energy, power_trace_from_signals)
from hilbench.measure.energy_capture import read_jls_capture
from hilbench.measure.energy_probe import JoulescopeProbe
from hilbench.measure.footprint import Footprint, StackEstimate, elf_footprint, estimate_stack
from hilbench.measure.latency import (LatencyStats, bootstrap_median_ci, icount_to_seconds,
                                      inferences_per_window, summarize_latency,
                                      summarize_window_latency)

__all__ = [
    "AccuracyResult", "bitexact_rate", "dequantize", "evaluate_accuracy", "model_accuracy",
    "reconstruction_error", "roc_auc", "task_scores", "top1_accuracy",
    "EnergyResult", "PowerTrace", "SampledSignal", "mark_times_s", "measure_energy",
    "modeled_energy", "power_trace_from_signals", "read_jls_capture", "JoulescopeProbe",
    "Footprint", "StackEstimate", "elf_footprint", "estimate_stack",
    "LatencyStats", "bootstrap_median_ci", "icount_to_seconds", "inferences_per_window",
    "summarize_latency", "summarize_window_latency",
]
