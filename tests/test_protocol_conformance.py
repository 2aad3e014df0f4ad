"""Protocol conformance of the DUT core (firmware_targets/common) built for the host with the stub
model, spoken to over a real pty at the byte level: every command, every error reply."""

from __future__ import annotations

import binascii
import re
import struct

import pytest

from dut_fixtures.helpers import build_stub, exchange, open_raw, read_until_ready
from dut_fixtures.stub_model import INPUT_BYTES, expected_raw_output, expected_results
from hilbench.deploy.host import start_host_firmware

VECTOR = bytes((i * 37 + 11) & 0xFF for i in range(INPUT_BYTES))


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    return build_stub(tmp_path_factory)


@pytest.fixture
def dut(firmware):
    """(endpoint, raw pyserial port) on a freshly started DUT."""
    with start_host_firmware(firmware) as endpoint:
        port = open_raw(endpoint.url)
        try:
            yield endpoint, port
        finally:
            port.close()


def load(port, data: bytes) -> None:
    assert exchange(port, f"db load {len(data)}") == [f"m-[Expecting {len(data)} bytes]", "m-ready"]
    for offset in range(0, len(data), 31):
        exchange(port, "db " + data[offset:offset + 31].hex())


def results_line(values) -> str:
    return "m-results-[" + ",".join(f"{v:.3f}" for v in values) + "]"


def test_boot_banner(dut):
    endpoint, _ = dut
    banner = endpoint.boot_lines
    assert banner[0] == "m-timestamp-mode-performance"
    assert re.fullmatch(r"m-lap-us-\d+", banner[1])
    assert banner[2:] == ["m-init-done", "m-ready"]


def test_help_is_prose_that_no_host_mistakes_for_a_reply(dut):
    """A help line holding "m-" ("warm-up") reached the session as a reply 'm-up inferences',
    the text in front of it dropped as noise."""
    from hilbench.session import DutSession

    endpoint, port = dut
    lines = exchange(port, "help")
    assert lines[-1] == "m-ready" and len(lines) > 10
    assert not [line for line in lines[:-1] if "m-" in line or "e-[" in line]
    assert any(line.startswith("infer N [W]") for line in lines)
    port.close()
    with DutSession.from_endpoint(endpoint) as session:
        replies = session.command("help")
        assert [line for line in replies if line.startswith(("m-", "e-"))] == ["m-ready"]
        assert "dropped noise in front of a reply" not in "\n".join(session.log_lines())


def test_name_and_profile(dut):
    _, port = dut
    assert exchange(port, "name") == ["m-name-dut-[host]", "m-ready"]
    assert exchange(port, "profile") == [
        "m-profile-[ULPMark for tinyML Firmware V0.0.1]",
        "m-model-[stub40]",
        "m-hb-caps-[raw-output,cycles,bulk-crc,quiet-infer]",
        "m-hb-timer-[clock_monotonic,1000000000]",
        "m-hb-model-[input-bytes=40,output-bytes=8,max-ticks=128,cmd-size=80]",
        "m-ready",
    ]


def test_timestamp_and_help(dut):
    _, port = dut
    first = exchange(port, "timestamp")
    second = exchange(port, "timestamp")
    assert re.fullmatch(r"m-lap-us-\d+", first[0]) and first[1:] == ["m-ready"]
    assert int(second[0][9:]) >= int(first[0][9:])
    help_lines = exchange(port, "help")
    assert help_lines[-1] == "m-ready" and any(line.startswith("infer N") for line in help_lines)


def test_db_load_hex_and_print(dut):
    _, port = dut
    assert exchange(port, "db load 40") == ["m-[Expecting 40 bytes]", "m-ready"]
    assert exchange(port, "db " + VECTOR[:31].hex()) == ["m-ready"]
    # Upper-case hex is accepted; digits after the last expected byte are ignored (as the reference).
    assert exchange(port, "db " + VECTOR[31:].hex().upper() + "abcd") == ["m-load-done", "m-ready"]
    printed = exchange(port, "db print")
    assert printed[-1] == "m-ready"
    assert printed[:-1] == [
        "m-buffer-" + "-".join(f"{b:02x}" for b in VECTOR[i:i + 8]) for i in range(0, INPUT_BYTES, 8)
    ]


def test_infer_sequence_results_raw_and_ticks(dut):
    _, port = dut
    load(port, VECTOR)
    lines = exchange(port, "infer 3 2")
    assert lines[:3] == ["m-warmup-start-2", "m-warmup-done", "m-infer-start-3"]
    assert re.fullmatch(r"m-lap-us-\d+", lines[3]) and re.fullmatch(r"m-lap-us-\d+", lines[4])
    assert int(lines[4][9:]) >= int(lines[3][9:])
    assert lines[5:] == ["m-infer-done", results_line(expected_results(VECTOR)), "m-ready"]
    assert exchange(port, "results") == [results_line(expected_results(VECTOR)), "m-ready"]

    raw = expected_raw_output(VECTOR)
    assert exchange(port, "hb raw") == [
        f"m-hb-raw-[{raw.hex()}]",
        f"m-hb-raw-done-[bytes={len(raw)},crc32={binascii.crc32(raw):08x}]",
        "m-ready",
    ]
    ticks = exchange(port, "hb ticks")
    assert re.fullmatch(r"m-hb-ticks-\[\d+,\d+,\d+\]", ticks[0])
    values = tuple(int(v) for v in ticks[0][12:-1].split(","))
    done = re.fullmatch(r"m-hb-ticks-done-\[n=3,stored=3,hz=1000000000,window=(\d+),crc32=([0-9a-f]{8})\]", ticks[1])
    assert done and ticks[2] == "m-ready"
    window = int(done.group(1))
    # The window spans the two m-lap-us stamps (microseconds, rounded down) and every inference in it.
    assert abs(window / 1000 - (int(lines[4][9:]) - int(lines[3][9:]))) <= 1
    assert sum(values) <= window
    packed = struct.pack("<7Q", 3, 3, 1_000_000_000, window, *values)
    assert int(done.group(2), 16) == binascii.crc32(packed)


def test_quiet_infer_is_infer_without_the_results_line(dut):
    _, port = dut
    load(port, VECTOR)
    lines = exchange(port, "hb infer 2 1")
    assert lines[:3] == ["m-warmup-start-1", "m-warmup-done", "m-infer-start-2"]
    assert lines[5:] == ["m-infer-done", "m-ready"]
    raw = expected_raw_output(VECTOR)
    assert exchange(port, "hb raw")[0] == f"m-hb-raw-[{raw.hex()}]"
    assert re.fullmatch(r"m-hb-ticks-\[\d+,\d+\]", exchange(port, "hb ticks")[0])


def test_infer_reloads_input_before_every_inference(dut):
    """The stub model overwrites its input like a real planner; outputs must not change with N+W."""
    _, port = dut
    load(port, VECTOR)
    exchange(port, "infer 1 0")
    single = exchange(port, "hb raw")
    exchange(port, "infer 7 5")
    assert exchange(port, "hb raw") == single


def test_infer_default_warmup_is_ten(dut):
    _, port = dut
    load(port, VECTOR)
    assert exchange(port, "infer")[:3] == ["m-warmup-start-10", "m-warmup-done", "m-infer-start-1"]
    assert exchange(port, "infer 2")[:3] == ["m-warmup-start-10", "m-warmup-done", "m-infer-start-2"]


def test_ticks_beyond_capacity_are_counted(dut):
    _, port = dut
    load(port, VECTOR)
    exchange(port, "infer 130 0")
    lines = exchange(port, "hb ticks")
    values = [v for line in lines if line.startswith("m-hb-ticks-[") for v in line[12:-1].split(",")]
    assert len(values) == 128 and all(v.isdigit() for v in values)
    assert re.fullmatch(r"m-hb-ticks-done-\[n=130,stored=128,hz=\d+,window=\d+,crc32=[0-9a-f]{8}\]", lines[-2])
    assert lines[-1] == "m-ready"
    assert all(len(line) <= 12 + 16 * 21 for line in lines)  # at most 16 values per line


@pytest.mark.parametrize(
    "command, error",
    [
        ("foo", "e-[Unknown command: foo]"),
        ("", "e-[Empty command]"),
        ("db", "e-[Command 'db' requires a subcommand]"),
        ("db load", "e-[Command 'db load' requires the # of bytes]"),
        ("db load 0", "e-[Command 'db load' must be >0 bytes]"),
        ("db load x1", "e-[Command 'db load' must be >0 bytes]"),
        ("db load 41", "e-[db load 41 exceeds the model input of 40 bytes]"),
        ("db 0011", "e-[No buffer: send 'db load N' first]"),
        ("infer 0", "e-[Inference iterations must be >0]"),
        ("infer -3", "e-[Inference iterations must be >0]"),
        ("infer 1 -1", "e-[Inference warmup must be >=0]"),
        ("infer 1 x", "e-[Inference warmup must be >=0]"),
        ("infer 1 0", "e-[Input not loaded: have 0 of 40 bytes]"),
        ("results", "e-[No results: run 'infer' first]"),
        ("hb", "e-[Command 'hb' requires a subcommand: bulk, infer, raw or ticks]"),
        ("hb infer 0", "e-[Inference iterations must be >0]"),
        ("hb infer 1 0", "e-[Input not loaded: have 0 of 40 bytes]"),
        # The host-file channel exists on emulated twins only (tests/test_twin_channels.py).
        ("hb raw file", "e-[Unknown hb raw option: file]"),
        ("hb file 40 00000000", "e-[Unknown hb subcommand: file]"),
        ("hb frob", "e-[Unknown hb subcommand: frob]"),
        ("hb raw", "e-[No results: run 'infer' first]"),
        ("hb ticks", "e-[No ticks: run 'infer' first]"),
        ("hb bulk 40", "e-[Command 'hb bulk' requires the # of bytes and their CRC-32 in hex]"),
        ("hb bulk 0 00000000", "e-[hb bulk: byte count must be 1..40]"),
        ("hb bulk 41 00000000", "e-[hb bulk: byte count must be 1..40]"),
        ("hb bulk 40 xyz", "e-[hb bulk: CRC-32 must be 1 to 8 hex digits]"),
        ("hb bulk 40 123456789", "e-[hb bulk: CRC-32 must be 1 to 8 hex digits]"),
        ("x" * 81, "e-[Command longer than 80 characters]"),
    ],
)
def test_error_replies(dut, command, error):
    _, port = dut
    assert exchange(port, command) == [error, "m-ready"]
    # The DUT is still in step afterwards.
    assert exchange(port, "name") == ["m-name-dut-[host]", "m-ready"]


def test_db_data_errors(dut):
    _, port = dut
    exchange(port, "db load 4")
    assert exchange(port, "db 001") == ["e-[Insufficent number of hex digits]", "m-ready"]
    assert exchange(port, "db 00zz") == ["e-[Invalid hex digit 'zz']", "m-ready"]
    assert exchange(port, "db 00112233") == ["m-load-done", "m-ready"]
    assert exchange(port, "db 44") == ["e-[Buffer full: send 'db load N' to start a new input]", "m-ready"]
    # A partial input (4 of 40 bytes) is not run.
    assert exchange(port, "infer 1 0") == ["e-[Input not loaded: have 4 of 40 bytes]", "m-ready"]


def test_command_of_exactly_80_characters_is_accepted(dut):
    _, port = dut
    assert exchange(port, "name" + " " * 76) == ["m-name-dut-[host]", "m-ready"]


def test_bulk_load_with_crc(dut):
    _, port = dut
    # Bytes that a cooked tty would translate or swallow: CR, LF, XON/XOFF, ^C, '%'.
    data = bytes([13, 10, 0x11, 0x13, 3, ord("%")]) + VECTOR[6:]
    port.write(f"hb bulk {len(data)} {binascii.crc32(data):08x}%".encode())
    port.timeout = 2
    assert port.readline() == b"m-hb-bulk-ready-[40]\r\n"
    port.write(data)
    assert read_until_ready(port) == ["m-load-done", "m-ready"]
    assert exchange(port, "db print")[0] == "m-buffer-" + "-".join(f"{b:02x}" for b in data[:8])
    exchange(port, "infer 1 0")
    assert exchange(port, "hb raw")[0] == f"m-hb-raw-[{expected_raw_output(data).hex()}]"


def test_bulk_load_crc_error_discards_input(dut):
    _, port = dut
    good_crc = binascii.crc32(VECTOR)
    port.write(f"hb bulk 40 {good_crc ^ 0xFFFF:08x}%".encode())
    port.timeout = 2
    assert port.readline() == b"m-hb-bulk-ready-[40]\r\n"
    port.write(VECTOR)
    assert read_until_ready(port) == [
        f"e-[CRC-32 mismatch: expected {good_crc ^ 0xFFFF:08x}, received bytes give {good_crc:08x}; input discarded]",
        "m-ready",
    ]
    assert exchange(port, "infer 1 0") == ["e-[Input not loaded: have 0 of 40 bytes]", "m-ready"]


def test_energy_mode_pulses_instead_of_printing_laps(tmp_path_factory):
    firmware = build_stub(tmp_path_factory, extra_defines=["HB_DUT_ENERGY_MODE=1"])
    with start_host_firmware(firmware) as endpoint:
        assert endpoint.boot_lines == ["m-timestamp-mode-energy", "m-init-done", "m-ready"]
        port = open_raw(endpoint.url)
        try:
            load(port, VECTOR)
            assert exchange(port, "infer 2 1") == [
                "m-warmup-start-1", "m-warmup-done", "m-infer-start-2", "m-infer-done",
                results_line(expected_results(VECTOR)), "m-ready",
            ]
            assert exchange(port, "timestamp") == ["m-ready"]
        finally:
            port.close()
