"""Measure cloud inference of one model: round trips, server compute and accuracy over test vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hilbench.cloud.client import COMPUTE_SOURCE_NOT_REPORTED, ROUND_TRIP_SOURCE, OpenInferenceClient
from hilbench.errors import MeasurementError


@dataclass(frozen=True)
class CloudMeasurement:
    """What was measured against one served model over N vectors (one request per vector).

    Round trips are host-clock times of the whole HTTP exchange; ``server_compute_ms_*`` is None
    when the server does not report compute time (``compute_source`` says ``not-reported``).
    ``accuracy`` is top-1 against the labels, or None when no labels were given.
    """

    model: str
    server_url: str
    requests: int
    round_trip_ms: tuple[float, ...]
    round_trip_ms_p50: float
    round_trip_ms_p90: float
    server_compute_ms_p50: float | None
    server_compute_ms_p90: float | None
    compute_source: str
    accuracy: float | None
    input_elements: int
    outputs: dict[str, np.ndarray] = field(repr=False)
    round_trip_source: str = ROUND_TRIP_SOURCE


def percentile_ms(samples: Sequence[float], percent: float) -> float:
    """Percentile with linear interpolation between samples (numpy's default)."""
    return float(np.percentile(np.asarray(samples, dtype=np.float64), percent))


def top1_accuracy(scores: np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Fraction of rows whose highest score is at the label's index; rows are vectors."""
    scores = np.asarray(scores)
    labels = np.asarray(labels).reshape(-1)
    rows = scores.reshape(scores.shape[0], -1)
    if rows.shape[0] != labels.shape[0]:
        raise MeasurementError(f"{rows.shape[0]} outputs but {labels.shape[0]} labels; give one label per test vector")
    if labels.size == 0:
        raise MeasurementError("no labelled vectors: accuracy needs at least one")
    if labels.min() < 0 or labels.max() >= rows.shape[1]:
        raise MeasurementError(f"labels must be class indices in [0, {rows.shape[1] - 1}], got range [{labels.min()}, {labels.max()}]")
    return float(np.mean(np.argmax(rows, axis=1) == labels))


def measure_cloud(
    client: OpenInferenceClient,
    model: str,
    vectors: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    warmup: int = 1,
) -> CloudMeasurement:
    """Send each row of ``vectors`` (shape [N, *input shape without batch]) as one request.

    ``warmup`` extra requests with the first vector go first and are not counted (they pay for
    lazy initialisation in the server). Accuracy is top-1 of the model's first output.
    """
    vectors = np.asarray(vectors)
    if vectors.ndim < 2 or vectors.shape[0] == 0:
        raise MeasurementError(f"vectors must have shape [N, ...] with N >= 1, got {vectors.shape}")
    for _ in range(warmup):
        client.infer(model, vectors[:1])

    round_trips: list[float] = []
    computes: list[float] = []
    compute_sources: set[str] = set()
    outputs: dict[str, list[np.ndarray]] = {}
    for row in range(vectors.shape[0]):
        result = client.infer(model, vectors[row : row + 1])
        round_trips.append(result.round_trip_ms)
        compute_sources.add(result.compute_source)
        if result.server_compute_ms is not None:
            computes.append(result.server_compute_ms)
        for name, array in result.outputs.items():
            outputs.setdefault(name, []).append(array)

    # A server either reports compute time for every request or for none; mixing would bias p50.
    compute_source = compute_sources.pop() if len(compute_sources) == 1 else COMPUTE_SOURCE_NOT_REPORTED
    if compute_source == COMPUTE_SOURCE_NOT_REPORTED:
        computes = []
    stacked = {name: np.concatenate(arrays, axis=0) for name, arrays in outputs.items()}
    accuracy = None
    if labels is not None:
        first_output = next(iter(stacked.values()))
        accuracy = top1_accuracy(first_output, labels)
    return CloudMeasurement(
        model=model,
        server_url=client.url,
        requests=len(round_trips),
        round_trip_ms=tuple(round_trips),
        round_trip_ms_p50=percentile_ms(round_trips, 50),
        round_trip_ms_p90=percentile_ms(round_trips, 90),
        server_compute_ms_p50=percentile_ms(computes, 50) if computes else None,
        server_compute_ms_p90=percentile_ms(computes, 90) if computes else None,
        compute_source=compute_source,
        accuracy=accuracy,
        input_elements=int(np.prod(vectors.shape[1:])),
        outputs=stacked,
    )
