"""The session over a faulty line: garbage, truncated and corrupted lines, lost replies, damaged
bulk data, boot noise and a silent DUT. The DUT is the real host firmware behind a relay process
(tests/dut_fixtures/faulty_line.py) that injects the faults on a pty."""

from __future__ import annotations

import os
import re
import time
import tty

import pytest

from dut_fixtures.helpers import build_stub, start_python_peer
from dut_fixtures.stub_model import INPUT_BYTES, expected_raw_output, expected_results
from hilbench.errors import DutError
from hilbench.session import DutSession

VECTOR = bytes((i * 53 + 7) & 0xFF for i in range(INPUT_BYTES))


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    return build_stub(tmp_path_factory)


def faulty(firmware, *options: str):
    return start_python_peer("faulty_line.py", str(firmware.path), *options)


def session_on(endpoint, **options) -> DutSession:
    session = DutSession.from_endpoint(endpoint, **{"timeout": 0.5, "retries": 2, **options})
    session.sync()
    return session


def notes(session: DutSession) -> str:
    return "\n".join(session.log_lines())


def test_garbage_lines_are_skipped(firmware):
    with faulty(firmware, "--fault", "infer:1:garbage", "--fault", "profile:1:garbage") as endpoint:
        with session_on(endpoint) as session:
            assert session.profile().bulk_crc
            session.load_input(VECTOR)
            result = session.infer(2, 1)
            log = notes(session)
    assert result.results == tuple(expected_results(VECTOR))
    assert len(result.lap_us) == 2 and len(result.ticks) == 2
    assert "junk" in log and "resynchronising" not in log  # skipped, no retry needed


def test_truncated_line_triggers_resync_and_retry(firmware):
    with faulty(firmware, "--fault", "infer:1:truncate") as endpoint:
        with session_on(endpoint) as session:
            session.load_input(VECTOR)
            result = session.infer(1, 0)
            log = notes(session)
    assert result.results == tuple(expected_results(VECTOR))
    assert "resynchronising" in log and log.count("> infer 1 0%") == 2


def test_truncated_line_running_into_m_ready(firmware):
    with faulty(firmware, "--fault", "name:1:truncate") as endpoint:
        with session_on(endpoint) as session:
            assert session.name() == "dut-[host]"
            log = notes(session)
    assert "ran into m-ready" in log


def test_corrupted_raw_output_is_caught_by_its_crc(firmware):
    with faulty(firmware, "--fault", "hb raw:1:corrupt") as endpoint:
        with session_on(endpoint) as session:
            session.load_input(VECTOR)
            session.infer(1, 0)
            raw = session.raw_output()
            log = notes(session)
    assert raw == expected_raw_output(VECTOR)
    assert "do not match their CRC-32" in log


def test_lost_reply_times_out_then_retries(firmware):
    with faulty(firmware, "--fault", "results:1:drop") as endpoint:
        with session_on(endpoint) as session:
            session.load_input(VECTOR)
            session.infer(1, 0)
            started = time.monotonic()
            assert session.results() == tuple(expected_results(VECTOR))
            elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 5


def test_bulk_bit_flip_gets_crc_error_and_reload(firmware):
    with faulty(firmware, "--fault", "hb bulk:1:bitflip") as endpoint:
        with session_on(endpoint) as session:
            session.load_input(VECTOR)
            assert session.db_print() == VECTOR
            log = notes(session)
    assert "CRC-32 mismatch" in log and log.count("> hb bulk 40") == 2


def test_bulk_bytes_lost_on_the_way_are_recovered(firmware):
    with faulty(firmware, "--fault", "hb bulk:1:lose") as endpoint:
        with session_on(endpoint) as session:
            session.load_input(VECTOR)
            assert session.db_print() == VECTOR
            log = notes(session)
    assert "filler bytes" in log and "CRC-32 mismatch" in log


def test_boot_noise_then_probe(firmware):
    with faulty(firmware, "--boot-noise") as endpoint:
        # A session that did not see the banner (as on a board that booted long ago) probes.
        with DutSession(endpoint.url, timeout=0.5) as session:
            assert session.sync(timeout=3) == []
            assert session.name() == "dut-[host]"
        assert any("boot noise" in line for line in endpoint.boot_lines)


def test_dut_silent_after_boot_gives_a_clear_error(firmware):
    with faulty(firmware, "--silent-after-boot") as endpoint:
        with session_on(endpoint, timeout=0.3, retries=1) as session:
            started = time.monotonic()
            with pytest.raises(DutError) as error:
                session.name()
            elapsed = time.monotonic() - started
    message = str(error.value)
    assert "'name'" in message and "2 attempts" in message
    assert re.search(r"in \d+\.\d s", message) and "last lines received" in message
    assert elapsed < 5


def test_silent_pty_fails_sync_with_what_was_tried():
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with DutSession(os.ttyname(slave), timeout=0.2) as session:
            with pytest.raises(DutError) as error:
                session.sync(timeout=0.6, probe_interval=0.2)
            sent = os.read(master, 1000)
    finally:
        os.close(master)
        os.close(slave)
    assert "no m-ready at boot and no answer to 'name%'" in str(error.value)
    assert b"name%" in sent


def test_dut_process_exit_is_reported(firmware):
    with faulty(firmware) as endpoint:
        session = session_on(endpoint)
        endpoint.close()
        with pytest.raises(DutError) as error:
            session.name()
        session.close()
    assert "name" in str(error.value)
