"""Replaying a recorded exchange with genuine MLPerf Tiny DUT firmware (kws01, TFLM + CMSIS-NN).

A peer process on a pty answers exactly as recorded and reports any command that differs from
the recording. The session must drive it as a plain MLPerf Tiny DUT (no extensions), and the run
stage must flag that its outputs after 'infer 10 1' differ from those after 'infer 1 0'.
"""

from __future__ import annotations

import re
import warnings

import pytest

from dut_fixtures.helpers import start_python_peer
from dut_fixtures.replay_peer import parse_transcript
from hilbench.run import OutputsChangedWarning, time_inferences
from hilbench.session import DutSession
from tests.support.mlperf_tiny import mlperf_transcript


@pytest.fixture(scope="module")
def kws_transcript():
    """The recorded exchange (kept outside the repository): without it these tests are skipped."""
    return mlperf_transcript("mlperf_tiny_kws01.transcript")


def recorded_input(transcript) -> bytes:
    """The 490 input bytes the recorded host sent with 'db <hex>' commands."""
    _, exchanges = parse_transcript(str(transcript))
    return bytes.fromhex("".join(cmd[3:] for cmd, _ in exchanges if re.fullmatch(r"db [0-9a-f]+", cmd)))


def recorded_results(transcript, after_command: str) -> tuple[float, ...]:
    _, exchanges = parse_transcript(str(transcript))
    reply = next(reply for cmd, reply in exchanges if cmd == after_command)
    line = next(line for line in reply if line.startswith("m-results-["))
    return tuple(float(v) for v in line[len("m-results-["):-1].split(","))


def recorded_laps(transcript, after_command: str) -> list[int]:
    _, exchanges = parse_transcript(str(transcript))
    reply = next(reply for cmd, reply in exchanges if cmd == after_command)
    return [int(line[len("m-lap-us-"):]) for line in reply if line.startswith("m-lap-us-")]


@pytest.fixture
def replay(kws_transcript):
    with start_python_peer("replay_peer.py", str(kws_transcript)) as endpoint:
        yield endpoint


def test_recording_is_as_described(kws_transcript):
    boot, exchanges = parse_transcript(str(kws_transcript))
    assert boot == ["m-timestamp-mode-performance", "m-lap-us-17", "m-init-done", "m-ready"]
    assert len(recorded_input(kws_transcript)) == 490
    assert recorded_results(kws_transcript, "infer 1 0") != recorded_results(kws_transcript, "infer 10 1")


def test_session_drives_recorded_mlperf_dut(replay, kws_transcript):
    # A recording plays back a twin's virtual microseconds at once: no bound on device time
    # per host second holds for it.
    with DutSession.from_endpoint(replay, timeout=2.0, max_device_speedup=float("inf")) as session:
        assert session.sync() == ["m-timestamp-mode-performance", "m-lap-us-17", "m-init-done", "m-ready"]
        assert session.name() == "dut-[unspecified]"
        caps = session.profile()
        assert caps.plain_mlperf and not caps.raw_output and not caps.cycles and not caps.bulk_crc
        assert (caps.profile, caps.model) == ("ULPMark for tinyML Firmware V0.0.1", "kws01")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            timing = time_inferences(session, recorded_input(kws_transcript), n=10, warmup=1, windows=1)

        log = "\n".join(session.log_lines())

    assert "REPLAY MISMATCH" not in replay.log_tail(), replay.log_tail()
    assert "REPLAY COMPLETE" in replay.log_tail(), log
    # Outputs of a plain DUT are its m-results floats; the trap is flagged, loudly.
    assert timing.reference_outputs == recorded_results(kws_transcript, "infer 1 0")
    assert timing.window_outputs == (recorded_results(kws_transcript, "infer 10 1"),)
    assert timing.outputs_changed
    assert any(issubclass(w.category, OutputsChangedWarning) and "infer 10 1" in str(w.message) for w in caught)
    # Without the cycles extension the time per inference comes from the two m-lap-us stamps.
    t0, t1 = recorded_laps(kws_transcript, "infer 10 1")
    assert timing.timing_source == "lap-us"
    assert timing.window_us == (t1 - t0,)
    assert timing.per_inference_s == pytest.approx(((t1 - t0) / 10 / 1e6,))
    assert timing.ticks is None
    # Every line of the exchange is in the serial log, with a timestamp and direction.
    assert re.search(r"^\s*[\d.]+ > infer 10 1%$", log, re.M)
    assert re.search(r"^\s*[\d.]+ < m-lap-us-3418991$", log, re.M)


def test_replay_peer_catches_a_deviating_host(replay):
    """The replay is strict: a host that sends something else is caught (the test can fail)."""
    with DutSession.from_endpoint(replay, timeout=1.0, retries=0) as session:
        session.sync()
        with pytest.raises(Exception):
            session.profile()  # the recording expects 'name' first
    assert "REPLAY MISMATCH at exchange 1: expected 'name', got 'profile'" in replay.log_tail()
