"""The session and the run stage against the host-built DUT core with the stub model."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dut_fixtures.helpers import build_stub
from dut_fixtures.stub_model import INPUT_BYTES, expected_raw_output, expected_results, stub_compiled_model
from hilbench.deploy.host import start_host_firmware
from hilbench.errors import DutError
from hilbench.run import TicksDroppedWarning, run_vectors, split_output_tensors, time_inferences
from hilbench.session import DutSession


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    return build_stub(tmp_path_factory)


@pytest.fixture(scope="module")
def session(firmware):
    with start_host_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint) as session:
        session.sync()
        yield session


def test_profile_announces_extensions_and_timer(session):
    caps = session.profile()
    assert caps.raw_output and caps.cycles and caps.bulk_crc and not caps.plain_mlperf
    assert (caps.timer_name, caps.timer_hz) == ("clock_monotonic", 1_000_000_000)
    assert (caps.model, caps.input_bytes, caps.output_bytes, caps.max_ticks) == ("stub40", 40, 8, 128)
    assert (session.mode, session.latency_source) == ("host", "host-clock")


def test_run_vectors_gives_raw_outputs_and_ticks(session):
    rng = np.random.default_rng(7)
    inputs = rng.integers(-128, 128, size=(12, INPUT_BYTES), dtype=np.int8)
    run = run_vectors(session, inputs)
    assert run.output_kind == "raw"
    assert list(run.outputs) == [expected_raw_output(row.tobytes()) for row in inputs]
    assert len(run.ticks) == 12 and all(t > 0 for t in run.ticks)
    assert all(us is not None and us >= 0 for us in run.window_us)
    assert (run.timer_name, run.timer_hz, run.mode, run.latency_source) == ("clock_monotonic", 10**9, "host", "host-clock")
    folded, sums = split_output_tensors(run.outputs[0], stub_compiled_model().outputs)
    assert folded.dtype == np.int8 and folded.shape == (1, 4) and sums.dtype == np.int16 and sums.shape == (1, 2)
    assert int(sums[0, 0]) == int(inputs[0].astype(np.int32).sum())
    with pytest.raises(DutError, match="DUT sent 7 output bytes; the model's outputs take 8"):
        split_output_tensors(run.outputs[0][:7], stub_compiled_model().outputs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=INPUT_BYTES, max_size=INPUT_BYTES))
def test_any_input_gives_the_model_outputs(session, data):
    run = run_vectors(session, [data])
    assert run.outputs == (expected_raw_output(data),)
    assert session.results() == tuple(expected_results(data))


def test_hex_loading_path_on_our_dut(session):
    """The 'db load' + 'db <hex>' path that plain MLPerf Tiny DUTs need, against the real core."""
    caps = session.profile()
    session.capabilities = dataclasses.replace(caps, extensions=frozenset())
    try:
        data = bytes(range(100, 140))
        run = run_vectors(session, [data])
        assert run.output_kind == "results" and run.ticks is None
        assert run.outputs == (tuple(expected_results(data)),)
        assert session.db_print() == data
        assert sum(line.endswith("> db load 40%") for line in session.log_lines()) >= 1
    finally:
        session.capabilities = caps


def test_time_inferences_with_ticks(session):
    data = bytes(range(40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our DUT re-loads its input: no warning may be raised
        timing = time_inferences(session, data, n=5, warmup=2, windows=3)
    assert timing.timing_source == "ticks"
    assert len(timing.per_inference_s) == 15 and all(0 < s < 1 for s in timing.per_inference_s)
    assert timing.per_inference_s == tuple(t / 1e9 for t in timing.ticks)
    assert not timing.outputs_changed and timing.ticks_dropped == 0
    assert timing.reference_outputs == expected_raw_output(data)
    assert timing.window_outputs == (expected_raw_output(data),) * 3
    assert len(timing.window_us) == 3


def test_time_inferences_warns_when_ticks_are_dropped(session):
    with pytest.warns(TicksDroppedWarning, match="only 128 of 130"):
        timing = time_inferences(session, bytes(40), n=130, warmup=0)
    assert timing.ticks_dropped == 2 and len(timing.per_inference_s) == 128


def test_wrong_input_size_names_both_sizes(session):
    with pytest.raises(DutError, match="input is 39 bytes but the DUT's model 'stub40' takes 40"):
        session.load_input(bytes(39))


def test_dut_error_reply_is_reported(firmware):
    with start_host_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint) as fresh:
        fresh.sync()
        with pytest.raises(DutError, match=r"refused 'infer 1 0': e-\[Input not loaded: have 0 of 40 bytes\]"):
            fresh.infer(1, 0)


def test_serial_log_is_saved(session, tmp_path):
    session.name()
    path = session.write_log(tmp_path / "serial.log")
    text = path.read_text().splitlines()
    assert text[0].startswith("# serial log started")
    assert any(line.split(maxsplit=2)[1:] == [">", "name%"] for line in text[1:])
    assert any(line.split(maxsplit=2)[1:] == ["<", "m-name-dut-[host]"] for line in text[1:])


def test_energy_mode_dut_is_timed_by_ticks(tmp_path_factory):
    firmware = build_stub(tmp_path_factory, extra_defines=["HB_DUT_ENERGY_MODE=1"])
    with start_host_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint) as session:
        session.sync()
        timing = time_inferences(session, bytes(40), n=3, warmup=0)
    assert timing.window_us == (None,)
    assert timing.timing_source == "ticks" and len(timing.per_inference_s) == 3


def test_session_over_a_tcp_socket(firmware):
    """socket:// URLs (how emulators expose their UART) work like a pty."""
    import socket
    from unittest.mock import ANY as ANY_LAP
    import subprocess
    import threading

    dut = subprocess.Popen([str(firmware.path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def relay() -> None:
        connection, _ = server.accept()

        def dut_to_host() -> None:
            for data in iter(lambda: dut.stdout.read(4096), b""):
                connection.sendall(data)

        threading.Thread(target=dut_to_host, daemon=True).start()
        for data in iter(lambda: connection.recv(4096), b""):
            dut.stdin.write(data)

    threading.Thread(target=relay, daemon=True).start()
    try:
        with DutSession(f"socket://127.0.0.1:{port}", timeout=2.0) as session:
            # pyserial drops what arrived before open(), so the banner may be gone: sync probes then.
            assert session.sync(timeout=5) in ([], ["m-timestamp-mode-performance", ANY_LAP, "m-init-done", "m-ready"])
            assert session.name() == "dut-[host]"
            data = bytes(range(40))
            assert run_vectors(session, [data]).outputs == (expected_raw_output(data),)
    finally:
        dut.kill()
        dut.wait()
        server.close()
