"""Checks on the labels that every measured figure carries (see ARCHITECTURE.md).

A figure without a truthful label is worse than no figure, so the measure stage refuses
labels that are unknown or that contradict each other (an emulated run cannot have been
timed by a real device timer).
"""

from __future__ import annotations

from hilbench.errors import MeasurementError
from hilbench.record.schema import (ENERGY_SOURCES, ENERGY_SOURCES_BY_MODE, LATENCY_SOURCES,
                                    LATENCY_SOURCES_BY_MODE, MODES)


def check_mode(mode: str) -> None:
    """Raise MeasurementError unless ``mode`` is one of hardware|emulated|host."""
    if mode not in MODES:
        raise MeasurementError(f"mode {mode!r} is not a known mode (known: {', '.join(MODES)})")


def check_latency_labels(mode: str, latency_source: str) -> None:
    """Raise MeasurementError if the (mode, latency_source) pair is unknown or contradictory."""
    check_mode(mode)
    if latency_source not in LATENCY_SOURCES:
        raise MeasurementError(
            f"latency_source {latency_source!r} is not known (known: {', '.join(LATENCY_SOURCES)})")
    allowed = LATENCY_SOURCES_BY_MODE[mode]
    if latency_source not in allowed:
        raise MeasurementError(
            f"latency_source {latency_source!r} cannot describe a run in mode {mode!r} "
            f"(use one of: {', '.join(allowed)})")


def check_energy_labels(mode: str, energy_source: str) -> None:
    """Raise MeasurementError if the (mode, energy_source) pair is unknown or contradictory."""
    check_mode(mode)
    if energy_source not in ENERGY_SOURCES:
        raise MeasurementError(
            f"energy_source {energy_source!r} is not known "
            f"(known: {', '.join(repr(s) for s in ENERGY_SOURCES)})")
    allowed = ENERGY_SOURCES_BY_MODE[mode]
    if energy_source not in allowed:
        raise MeasurementError(
            f"energy_source {energy_source!r} cannot describe a run in mode {mode!r} "
            f"(use one of: {', '.join(repr(s) for s in allowed)})")
