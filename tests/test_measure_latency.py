"""Latency statistics: MLPerf Tiny windows, percentiles, bootstrap CI, icount conversion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hilbench.errors import MeasurementError
from hilbench.measure.latency import (bootstrap_median_ci, icount_to_seconds, inferences_per_window,
                                      summarize_latency, summarize_window_latency)


def test_window_median_is_the_median_of_window_means_and_warmup_is_dropped():
    # The first inference of each window is a slow warm-up (cold caches) and must not count.
    windows = [[0.050, 0.001, 0.001, 0.001],
               [0.050, 0.002, 0.002, 0.002],
               [0.050, 0.004, 0.004, 0.004]]
    stats = summarize_latency(windows, mode="hardware", latency_source="device-timer",
                              warmup_per_window=1)
    assert stats.windows == 3 and stats.inferences == 9
    assert stats.latency_ms_window_median == pytest.approx(2.0)
    assert stats.latency_ms_max == pytest.approx(4.0)
    assert stats.latency_ms_min == pytest.approx(1.0)
    assert stats.latency_ms_mean == pytest.approx(7.0 / 3.0)


def test_percentiles_over_inferences():
    times = np.arange(1, 101) * 1e-3  # 1..100 ms
    stats = summarize_latency([times[:50], times[50:]], mode="hardware", latency_source="device-timer",
                              clock_hz=80e6)
    assert stats.latency_ms_p50 == pytest.approx(50.5)
    assert stats.latency_ms_p90 == pytest.approx(90.1)
    assert stats.latency_ms_stddev == pytest.approx(np.std(np.arange(1, 101), ddof=1))
    assert stats.cycles_per_inference == round(50.5e-3 * 80e6)
    assert stats.latency_ms_p50_ci95_low < 50.5 < stats.latency_ms_p50_ci95_high


def test_host_round_trip_is_kept_apart():
    windows = [[0.010] * 5] * 3
    without = summarize_latency(windows, mode="hardware", latency_source="device-timer")
    with_rtt = summarize_latency(windows, mode="hardware", latency_source="device-timer",
                                 host_round_trip_s=0.035)
    assert with_rtt.host_round_trip_ms == pytest.approx(35.0)
    assert without.host_round_trip_ms is None
    for name in ("latency_ms_p50", "latency_ms_p90", "latency_ms_mean", "latency_ms_window_median"):
        assert getattr(with_rtt, name) == getattr(without, name)


def test_result_columns_carry_the_labels():
    stats = summarize_latency([[0.002, 0.003]], mode="emulated", latency_source="icount")
    columns = stats.result_columns()
    assert columns["mode"] == "emulated" and columns["latency_source"] == "icount"
    assert columns["latency_ms_p50"] == pytest.approx(2.5)


def test_bootstrap_is_reproducible_and_covers_the_true_median():
    rng = np.random.default_rng(1)
    # Lognormal inference times: true median exp(mu).
    mu, true_median = np.log(5e-3), 5e-3
    data = rng.lognormal(mu, 0.3, 301)
    assert bootstrap_median_ci(data) == bootstrap_median_ci(data.copy())  # fixed seed
    covered = 0
    trials = 120
    for _ in range(trials):
        low, high = bootstrap_median_ci(rng.lognormal(mu, 0.3, 101), resamples=400)
        covered += low <= true_median <= high
    # A 95% interval must cover the true median about 95% of the time (binomial spread).
    assert 0.88 <= covered / trials <= 0.995


def test_bootstrap_interval_narrows_with_more_inferences():
    rng = np.random.default_rng(2)
    small = bootstrap_median_ci(rng.normal(10.0, 1.0, 50))
    large = bootstrap_median_ci(rng.normal(10.0, 1.0, 5000))
    assert (large[1] - large[0]) < (small[1] - small[0]) / 4


def test_inferences_per_window_reaches_the_minimum_window():
    assert inferences_per_window(3e-3, min_window_s=10.0) == 3334
    assert inferences_per_window(3e-3, min_window_s=10.0) * 3e-3 >= 10.0
    assert inferences_per_window(20.0, min_window_s=10.0) == 1
    assert inferences_per_window(20.0, min_window_s=10.0, min_inferences=5) == 5
    assert inferences_per_window(1e-6, min_window_s=10.0, max_inferences=1000) == 1000
    count = inferences_per_window(0.25, min_window_s=1.0)
    summarize_latency([[0.25] * count], "hardware", "device-timer", min_window_s=1.0)
    with pytest.raises(MeasurementError, match=r"window 0 lasts 0.750 s, under the minimum 1.0 s"):
        summarize_latency([[0.25] * (count - 1)], "hardware", "device-timer", min_window_s=1.0)
    with pytest.raises(MeasurementError, match="not a positive number"):
        inferences_per_window(0.0)


def test_icount_converts_instructions_to_labelled_latency():
    seconds = icount_to_seconds([7_944_293, 7_944_293], cpi=1.0, clock_hz=120e6)
    stats = summarize_latency([seconds], mode="emulated", latency_source="icount", clock_hz=120e6)
    assert stats.latency_ms_p50 == pytest.approx(7_944_293 / 120e6 * 1e3)
    assert stats.cycles_per_inference == 7_944_293
    assert icount_to_seconds(1000, cpi=1.5, clock_hz=1000.0) == pytest.approx(1.5)
    with pytest.raises(MeasurementError, match="cpi"):
        icount_to_seconds(1000, cpi=0, clock_hz=1e6)


@pytest.mark.parametrize("mode,source,message", [
    ("emulated", "device-timer", "cannot describe a run in mode 'emulated'"),
    ("hardware", "icount", "cannot describe a run in mode 'hardware'"),
    ("host", "device-timer", "cannot describe a run in mode 'host'"),
    ("board", "device-timer", "mode 'board' is not a known mode"),
    ("hardware", "stopwatch", "latency_source 'stopwatch' is not known"),
])
def test_contradictory_labels_are_refused(mode, source, message):
    with pytest.raises(MeasurementError, match=message):
        summarize_latency([[0.001]], mode=mode, latency_source=source)


def test_bad_timings_are_refused_with_the_window_named():
    with pytest.raises(MeasurementError, match="no timing windows"):
        summarize_latency([], mode="host", latency_source="host-clock")
    with pytest.raises(MeasurementError, match="window 1 has no timed inferences after dropping 2"):
        summarize_latency([[1e-3] * 3, [1e-3] * 2], mode="host", latency_source="host-clock",
                          warmup_per_window=2)
    with pytest.raises(MeasurementError, match="window 0 holds a non-positive"):
        summarize_latency([[1e-3, -4e-3]], mode="host", latency_source="host-clock")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(1e-5, 1.0), min_size=1, max_size=30), min_size=1, max_size=6),
       st.floats(0.1, 10.0))
def test_statistics_scale_with_the_times_and_stay_ordered(windows, factor):
    base = summarize_latency(windows, mode="hardware", latency_source="device-timer")
    scaled = summarize_latency([[t * factor for t in w] for w in windows], mode="hardware",
                               latency_source="device-timer")
    assert base.latency_ms_min <= base.latency_ms_p50 <= base.latency_ms_p90 <= base.latency_ms_max
    assert base.latency_ms_min <= base.latency_ms_window_median <= base.latency_ms_max
    assert base.latency_ms_p50_ci95_low <= base.latency_ms_p50_ci95_high
    for name in ("latency_ms_p50", "latency_ms_p90", "latency_ms_window_median", "latency_ms_mean",
                 "latency_ms_p50_ci95_low", "latency_ms_p50_ci95_high"):
        assert getattr(scaled, name) == pytest.approx(getattr(base, name) * factor, rel=1e-9)


def test_window_totals_from_a_plain_mlperf_tiny_dut():
    # Three windows of 50 inferences timed only at their start and end (m-lap-us).
    stats = summarize_window_latency([0.5, 0.55, 0.6], [50, 50, 50], mode="hardware",
                                     latency_source="device-timer", clock_hz=120e6)
    assert stats.timing_granularity == "window"
    assert (stats.windows, stats.inferences) == (3, 150)
    assert stats.latency_ms_window_median == pytest.approx(11.0)
    assert stats.latency_ms_p50 == pytest.approx(11.0)
    assert stats.latency_ms_min == pytest.approx(10.0) and stats.latency_ms_max == pytest.approx(12.0)
    assert stats.cycles_per_inference == round(11e-3 * 120e6)
    per_inference = summarize_latency([[0.01] * 5], mode="hardware", latency_source="device-timer")
    assert per_inference.timing_granularity == "inference"
    with pytest.raises(MeasurementError, match="3 window times but 2 inference counts"):
        summarize_window_latency([0.5, 0.5, 0.5], [50, 50], "hardware", "device-timer")
    with pytest.raises(MeasurementError, match="window 1 lasts 0.0 s"):
        summarize_window_latency([0.5, 0.0], [50, 50], "hardware", "device-timer")
    with pytest.raises(MeasurementError, match="under the minimum 10.0 s"):
        summarize_window_latency([0.5], [50], "hardware", "device-timer", min_window_s=10.0)
