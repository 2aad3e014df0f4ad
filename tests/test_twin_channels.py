"""The host-file channel of the emulated twins: bulk data through files instead of the UART.

A twin moves inputs ('hb file') and raw outputs ('hb raw file') through files in QEMU's
working folder (Arm semihosting); a real board moves them over its serial line ('hb bulk',
'db', 'hb raw'). Whichever channel carried the data, the outputs and instruction counts must
be the same: these tests run the same vectors both ways, on every QEMU target with the stub
model and on nano33's twin with every zoo model. Real QEMU processes, real firmware.
"""

from __future__ import annotations

import binascii
import dataclasses
import os
from types import SimpleNamespace

import numpy as np
import pytest

from hilbench import zoo
from hilbench.bench import helper_twins_for, open_dut, usable_cores
from hilbench.boards import resolve_boards
from hilbench.build.builder import build_firmware
from hilbench.deploy.qemu import start_firmware
from hilbench.paths import cache_root
from hilbench.procedure import evenly_spaced
from hilbench.run import run_vectors
from hilbench.session import DutSession
from hilbench.session.dut_session import LOAD_BULK, LOAD_HEX, LOAD_HOST_FILE
from hilbench.session.replies import HOST_INPUT_FILE, HOST_OUTPUT_FILE
from hilbench.session.serial_log import SENT

from dut_fixtures.helpers import exchange, open_raw
from dut_fixtures.stub_model import INPUT_BYTES, expected_raw_output, stub_compiled_model
from twin_fixtures import QEMU_TARGETS, no_emulator_left_behind  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.emulator

VECTORS = [bytes((7 * i + 13 * k - 60) & 0xFF for i in range(INPUT_BYTES)) for k in range(3)]


def run_each_path(session: DutSession, endpoint, vectors) -> dict[str, list[tuple[bytes, int]]]:
    """(raw outputs, instruction count) per vector, loaded over each channel in turn."""
    folder = session.host_file_dir
    by_path = {}
    for path in (LOAD_HOST_FILE, LOAD_BULK, LOAD_HEX):
        session.host_file_dir = folder if path == LOAD_HOST_FILE else None
        if path == LOAD_HEX:  # what a plain MLPerf Tiny runner would send
            caps = session.profile()
            session.capabilities = dataclasses.replace(caps, extensions=caps.extensions - {"bulk-crc"})
        assert session.load_path == path
        runs = []
        for data in vectors:
            session.load_input(data)
            result = session.infer(1, 0, quiet=path != LOAD_HEX)
            runs.append((session.raw_output(), endpoint.instructions_from_ticks(result.ticks[0], result.timer_hz)))
        by_path[path] = runs
    session.capabilities = session.profile()
    return by_path


@pytest.mark.parametrize("target", QEMU_TARGETS)
def test_every_channel_gives_the_same_outputs_and_instructions(target):
    firmware = build_firmware(target, stub_compiled_model(), cache_dir=cache_root() / "firmware")
    with start_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint) as session:
        assert endpoint.host_file_dir is not None and endpoint.host_file_dir.is_dir()
        caps = session.profile()
        assert caps.host_file and caps.quiet_infer and caps.bulk_crc
        by_path = run_each_path(session, endpoint, VECTORS)
        folder = endpoint.host_file_dir
    assert [raw for raw, _ in by_path[LOAD_HOST_FILE]] == [expected_raw_output(v) for v in VECTORS]
    assert by_path[LOAD_HOST_FILE] == by_path[LOAD_BULK] == by_path[LOAD_HEX]
    assert all(count > 50 for _, count in by_path[LOAD_HOST_FILE])
    assert not folder.exists(), "the twin's working folder outlived it"


def test_host_file_commands_check_what_they_move():
    firmware = build_firmware("mps2-an386", stub_compiled_model(), cache_dir=cache_root() / "firmware")
    with start_firmware(firmware) as endpoint:
        port = open_raw(endpoint.url)
        try:
            data = VECTORS[0]
            crc = f"{binascii.crc32(data):08x}"
            assert exchange(port, f"hb file 40 {crc}") == [
                "e-[hb file: cannot read 40 bytes from the host file hb_input.bin; input discarded]", "m-ready"]
            (endpoint.host_file_dir / HOST_INPUT_FILE).write_bytes(data[:39])
            assert exchange(port, f"hb file 40 {crc}")[0].startswith("e-[hb file: cannot read 40 bytes")
            (endpoint.host_file_dir / HOST_INPUT_FILE).write_bytes(data)
            assert exchange(port, "hb file 40 00000000") == [
                f"e-[CRC-32 mismatch: expected 00000000, received bytes give {crc}; input discarded]", "m-ready"]
            assert exchange(port, "infer 1 0") == ["e-[Input not loaded: have 0 of 40 bytes]", "m-ready"]
            for command, error in [("hb file 40", "e-[Command 'hb file' requires the # of bytes and their CRC-32 in hex]"),
                                   ("hb file 41 0", "e-[hb file: byte count must be 1..40]"),
                                   ("hb file 40 xyz", "e-[hb file: CRC-32 must be 1 to 8 hex digits]"),
                                   ("hb raw frob", "e-[Unknown hb raw option: frob]")]:
                assert exchange(port, command) == [error, "m-ready"]
            assert exchange(port, f"hb file 40 {crc}") == ["m-load-done", "m-ready"]
            lines = exchange(port, "hb infer 1 0")
            assert lines[-2:] == ["m-infer-done", "m-ready"] and not any(l.startswith("m-results") for l in lines)
            raw = expected_raw_output(data)
            assert exchange(port, "hb raw file") == [
                f"m-hb-raw-done-[bytes={len(raw)},crc32={binascii.crc32(raw):08x}]", "m-ready"]
            assert (endpoint.host_file_dir / HOST_OUTPUT_FILE).read_bytes() == raw
        finally:
            port.close()


@pytest.fixture(scope="module")
def nano33_twin():
    [board] = resolve_boards(["nano33"], emulate=True)
    return board


@pytest.mark.slow
@pytest.mark.parametrize("model", ["ad", "gesture", "ic", "kws", "vww"])
def test_zoo_model_outputs_and_instructions_do_not_depend_on_the_channel(model, nano33_twin):
    """The reference suite's vectors through nano33's twin: host files against the serial
    bulk load that real boards use, vector for vector."""
    vectors = zoo.load_vectors(model).x_int8
    rows = vectors[evenly_spaced(len(vectors), 3)]
    with open_dut(nano33_twin, model) as dut:
        assert dut.session.load_path == LOAD_HOST_FILE
        by_file, file_run = dut.infer(rows)
        dut.session.host_file_dir = None
        assert dut.session.load_path == LOAD_BULK
        by_serial, serial_run = dut.infer(rows)
        instructions = [dut.cycles(run.ticks, run.timer_hz) for run in (file_run, serial_run)]
    assert by_file.dtype == by_serial.dtype and np.array_equal(by_file, by_serial)
    assert np.array_equal(*instructions) and min(instructions[0]) > 100_000


@pytest.mark.slow
def test_vectors_spread_over_two_twins_give_one_twins_outputs_and_instructions(nano33_twin):
    """Accuracy vectors may run on several twins of the same firmware: vector for vector, the
    outputs and instruction counts must be those of a single twin."""
    rows = zoo.load_vectors("kws").x_int8[:12]
    with open_dut(nano33_twin, "kws") as dut:
        single = run_vectors(dut.session, dut.input_rows(rows))
        with dut.more_twins(1) as [helper]:
            assert helper.url != dut.session.url
            shared = run_vectors([dut.session, helper], dut.input_rows(rows))
            assert any(e.text.startswith("hb infer") for e in helper.log.entries if e.direction == SENT), \
                "the second twin ran no vector"
        instructions = [dut.cycles(run.ticks, run.timer_hz) for run in (single, shared)]
    assert shared.outputs == single.outputs
    assert np.array_equal(*instructions)
    assert (shared.harness.duts, single.harness.duts) == (2, 1)
    assert shared.harness.bytes_in == single.harness.bytes_in == rows.nbytes


def test_helper_twins_only_for_enough_work_on_an_emulated_board():
    twin = SimpleNamespace(mode="emulated", firmware=object())
    assert helper_twins_for(twin, rows_left=199, seconds_per_row=0.03, max_twins=2) == 1
    assert helper_twins_for(twin, rows_left=199, seconds_per_row=0.004, max_twins=2) == 0  # 0.8 s of work
    assert helper_twins_for(twin, rows_left=199, seconds_per_row=0.1, max_twins=4) == 3
    assert helper_twins_for(twin, rows_left=1000, seconds_per_row=0.1, max_twins=1) == 0
    assert helper_twins_for(SimpleNamespace(mode="hardware", firmware=object()), 199, 1.0, 4) == 0
    assert helper_twins_for(SimpleNamespace(mode="host", firmware=object()), 199, 1.0, 4) == 0


def test_xdist_workers_share_the_cores(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    assert usable_cores() == 4
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    assert usable_cores() == 2
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "8")
    assert usable_cores() == 1
