"""Board resolution (hardware / emulated twin / host), fed with recorded list_ports data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hilbench.boards import (BoardNotConnectedError, PortInfo, check_distinct_ports,
                             load_boards, load_ports, pinned_ports, resolve_board, resolve_boards,
                             scan_ports, split_board_names)
from hilbench.errors import ConfigError

PORTS_DIR = Path(__file__).parent / "fixtures" / "list_ports"


def ports(name: str) -> list[PortInfo]:
    return load_ports(PORTS_DIR / f"{name}.json")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return load_boards(cwd=tmp_path_factory.mktemp("no-lab"))


def test_recorded_port_lists_load():
    [nano] = ports("nano33_ble")
    assert (nano.device, nano.vid, nano.pid) == ("/dev/ttyACM0", 0x2341, 0x805A)
    assert nano.serial_number == "A8A8B5D45EB4D44F"
    assert ports("nothing") == []


def test_nothing_attached_falls_back_to_the_twin(catalog):
    resolved = resolve_board(catalog.get("nano33"), ports("nothing"))
    assert resolved.mode == "emulated"
    assert resolved.firmware_target == "mps2-an386"
    assert resolved.qemu_machine == "mps2-an386"
    assert resolved.describe() == "emulated on qemu mps2-an386"
    assert "not connected (no USB device with id 2341:805a/2341:005a)" in resolved.reason
    assert resolved.port is None


def test_connected_nano_runs_on_hardware(catalog):
    resolved = resolve_board(catalog.get("nano33"), ports("nano33_ble"))
    assert resolved.mode == "hardware"
    assert resolved.port == "/dev/ttyACM0"
    assert resolved.describe() == "hardware on /dev/ttyACM0"
    assert resolved.qemu_machine is None
    assert resolved.port_info.serial_number == "A8A8B5D45EB4D44F"
    assert "matched by USB id only" in resolved.reason


def test_nano_in_its_bootloader_is_still_hardware(catalog):
    assert resolve_board(catalog.get("nano33"), ports("nano33_ble_bootloader")).mode == "hardware"


def test_stlink_v21_is_the_l4r5zi_not_the_v3_boards(catalog):
    attached = ports("nucleo_l4r5zi_stlink_v21")
    assert resolve_board(catalog.get("nucleo-l4r5zi"), attached).port == "/dev/ttyACM1"
    assert resolve_board(catalog.get("nucleo-h7a3zi"), attached).mode == "emulated"
    assert resolve_board(catalog.get("nano33"), attached).mode == "emulated"


def test_unrelated_usb_serial_is_ignored(catalog):
    for name in ("nano33", "nucleo-l4r5zi", "nucleo-h7a3zi", "nucleo-u575zi"):
        assert resolve_board(catalog.get(name), ports("unrelated_ftdi")).mode == "emulated"


def test_emulate_forces_the_twin(catalog):
    resolved = resolve_board(catalog.get("nano33"), ports("nano33_ble"), emulate=True)
    assert resolved.mode == "emulated" and "--emulate was given" in resolved.reason


def test_require_hardware_fails_clearly(catalog):
    with pytest.raises(BoardNotConnectedError) as caught:
        resolve_board(catalog.get("nano33"), ports("unrelated_ftdi"), require_hardware=True)
    message = str(caught.value)
    assert "board 'nano33' (Arduino Nano 33 BLE Sense) is not connected" in message
    assert "no USB device with id 2341:805a/2341:005a" in message
    assert "serial ports seen: /dev/ttyUSB0 0403:6001 SER=A10KZP45" in message
    assert "drop --require-hardware" in message


def test_require_hardware_with_the_board_present(catalog):
    assert resolve_board(catalog.get("nano33"), ports("nano33_ble"), require_hardware=True).mode == "hardware"


def test_emulate_and_require_hardware_contradict(catalog):
    with pytest.raises(ConfigError, match="contradict"):
        resolve_board(catalog.get("nano33"), [], emulate=True, require_hardware=True)


def test_host_is_always_host(catalog):
    for options in ({}, {"emulate": True}, {"require_hardware": True}):
        resolved = resolve_board(catalog.get("host"), ports("lab_bench"), **options)
        assert (resolved.mode, resolved.firmware_target, resolved.describe()) == ("host", "host", "host")


def test_emulation_only_board(catalog):
    resolved = resolve_board(catalog.get("an547"), ports("lab_bench"))
    assert (resolved.mode, resolved.firmware_target) == ("emulated", "mps3-an547")
    with pytest.raises(BoardNotConnectedError, match="exists only as an emulator"):
        resolve_board(catalog.get("an547"), [], require_hardware=True)


def test_two_identical_probes_are_ambiguous(catalog):
    with pytest.raises(ConfigError) as caught:
        resolve_board(catalog.get("nucleo-h7a3zi"), ports("two_stlink_v3"))
    message = str(caught.value)
    assert "2 serial ports match USB id 0483:374e" in message
    assert "/dev/ttyACM2" in message and "/dev/ttyACM3" in message
    assert "boards.nucleo-h7a3zi.connection.serial_number" in message


def lab_catalog(tmp_path: Path, text: str):
    lab = tmp_path / "lab.yaml"
    lab.write_text(text)
    return load_boards(lab, cwd=tmp_path)


def test_serial_number_picks_one_of_identical_probes(tmp_path):
    catalog = lab_catalog(tmp_path, 'boards:\n  nucleo-u575zi:\n    connection: {serial_number: "0027003b3331510b33323639"}\n')
    resolved = resolve_board(catalog.get("nucleo-u575zi"), ports("two_stlink_v3"))
    assert resolved.port == "/dev/ttyACM3"          # matched case-insensitively
    assert "USB serial number" in resolved.reason


def test_pinned_port_is_not_claimed_by_another_board(tmp_path):
    catalog = lab_catalog(tmp_path, 'boards:\n  nucleo-h7a3zi:\n    connection: {serial_number: "003A00283438510A33353533"}\n')
    pinned = pinned_ports(catalog.boards.values())
    attached = ports("lab_bench")
    h7 = resolve_board(catalog.get("nucleo-h7a3zi"), attached, pinned=pinned)
    u5 = resolve_board(catalog.get("nucleo-u575zi"), attached, pinned=pinned)
    assert (h7.mode, h7.port) == ("hardware", "/dev/ttyACM2")
    assert u5.mode == "emulated"
    assert "pinned to nucleo-h7a3zi" in u5.reason


def test_absent_serial_number_does_not_fall_back_to_usb_id(tmp_path):
    catalog = lab_catalog(tmp_path, 'boards:\n  nano33:\n    connection: {serial_number: "FFFF"}\n')
    resolved = resolve_board(catalog.get("nano33"), ports("nano33_ble"))
    assert resolved.mode == "emulated" and "no USB device with serial number FFFF" in resolved.reason


def test_configured_port_present_in_the_list(tmp_path):
    catalog = lab_catalog(tmp_path, "boards:\n  nano33:\n    connection: {port: /dev/ttyACM0}\n")
    assert resolve_board(catalog.get("nano33"), ports("nano33_ble")).port == "/dev/ttyACM0"
    assert resolve_board(catalog.get("nano33"), ports("nothing")).mode == "emulated"


def test_configured_port_that_exists_outside_the_list(tmp_path):
    device = tmp_path / "ttyFAKE"       # e.g. a socat pty: real, but not a USB port
    device.touch()
    catalog = lab_catalog(tmp_path, f"boards:\n  nano33:\n    connection: {{port: {device}}}\n")
    assert resolve_board(catalog.get("nano33"), []).port == str(device)


def test_url_is_trusted(tmp_path):
    catalog = lab_catalog(tmp_path, "boards:\n  nano33:\n    connection: {url: 'rfc2217://lab-pi:4000'}\n")
    resolved = resolve_board(catalog.get("nano33"), [])
    assert (resolved.mode, resolved.port) == ("hardware", "rfc2217://lab-pi:4000")


def test_boards_of_one_session_must_not_share_a_port(catalog):
    resolved = [resolve_board(catalog.get(n), ports("lab_bench")) for n in ("nucleo-h7a3zi", "nucleo-u575zi")]
    with pytest.raises(ConfigError, match="boards nucleo-h7a3zi, nucleo-u575zi all resolve to /dev/ttyACM2"):
        check_distinct_ports(resolved)


def test_resolve_boards_checks_names_before_scanning(tmp_path):
    with pytest.raises(ConfigError, match="board 'nano34' is not in the catalog"):
        resolve_boards(["host", "nano34"], ports=None, catalog=load_boards(cwd=tmp_path))


def test_resolve_boards_uses_the_recorded_port_list(monkeypatch, tmp_path):
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "lab_bench.json"))
    monkeypatch.chdir(tmp_path)
    nano, l4, host = resolve_boards(["nano33", "nucleo-l4r5zi", "host"])
    assert [nano.mode, l4.mode, host.mode] == ["hardware", "hardware", "host"]
    assert (nano.port, l4.port) == ("/dev/ttyACM0", "/dev/ttyACM1")


def test_split_board_names():
    assert split_board_names(["nano33,host", " an547 ", "host"]) == ["nano33", "host", "an547"]


def test_live_scan_copies_what_pyserial_reports(monkeypatch):
    from serial.tools import list_ports

    from support.recorded_ports import recorded_comports

    monkeypatch.delenv("HILBENCH_LIST_PORTS", raising=False)
    monkeypatch.setattr(list_ports, "comports", lambda: recorded_comports("lab_bench"))
    assert scan_ports() == ports("lab_bench")  # every field, as the recorded list has it
    # HILBENCH_LIST_PORTS replays a recorded list instead of asking pyserial.
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nano33_ble.json"))
    assert scan_ports() == ports("nano33_ble") != ports("lab_bench")


def test_malformed_port_list(tmp_path):
    bad = tmp_path / "ports.json"
    bad.write_text(json.dumps([{"device": "/dev/ttyACM0", "vendor": 1}]))
    with pytest.raises(ConfigError, match=r"\[0\]: unknown key\(s\) vendor"):
        load_ports(bad)
    bad.write_text("[{")
    with pytest.raises(ConfigError, match="ports.json:1: not valid JSON"):
        load_ports(bad)
    bad.write_text('{"device": "x"}')
    with pytest.raises(ConfigError, match="expected a JSON array"):
        load_ports(bad)


@pytest.mark.parametrize("record, error", [
    ({"device": "/dev/x", "vid": "abc"}, r"\[0\]\.vid: expected a USB id number 0..65535 or null, got 'abc'"),
    ({"device": "/dev/x", "pid": 70000}, r"\[0\]\.pid: expected a USB id number"),
    ({"device": 5}, r"\[0\]\.device: expected text, got 5"),
    ({"device": "/dev/x", "serial_number": 415}, r"\[0\]\.serial_number: expected text or null"),
])
def test_recorded_port_fields_have_pyserials_types(tmp_path, record, error):
    path = tmp_path / "ports.json"
    path.write_text(json.dumps([record]))
    with pytest.raises(ConfigError, match=error):
        load_ports(path)
