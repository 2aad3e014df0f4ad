"""The shipped board catalog, and every kind of error a malformed catalog file gets."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
import yaml

from hilbench.boards import Board, UsbId, load_boards
from hilbench.boards.catalog import CATALOG_PATH
from hilbench.errors import ConfigError

MINIMAL_BOARD = {
    "title": "Test board", "kind": "board", "mcu": "TESTMCU", "core": "cortex-m4f",
    "clock_hz": 48000000, "ram_bytes": 65536, "flash_bytes": 262144,
    "twin": {"qemu_machine": "mps2-an386"},
}


def write_catalog(tmp_path: Path, boards: dict | None = None, text: str | None = None) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text if text is not None else yaml.safe_dump({"boards": boards}))
    return path


def load_one(tmp_path: Path, **fields) -> Board:
    entry = {**MINIMAL_BOARD, **fields}
    entry = {key: value for key, value in entry.items() if value is not ...}
    catalog = load_boards(catalog=write_catalog(tmp_path, {"testboard": entry}), cwd=tmp_path)
    return catalog.get("testboard")


def config_error(tmp_path: Path, **fields) -> str:
    with pytest.raises(ConfigError) as caught:
        load_one(tmp_path, **fields)
    return str(caught.value)


# ---------------------------------------------------------------- the shipped catalog


@pytest.fixture(scope="module")
def shipped():
    return load_boards(cwd=CATALOG_PATH.parent)


def test_catalog_ships_inside_the_package():
    assert CATALOG_PATH.is_file()
    assert CATALOG_PATH.parent.name == "boards"


def test_catalog_has_the_reference_boards(shipped):
    assert shipped.names() == ["nano33", "nucleo-l4r5zi", "nucleo-h7a3zi", "nucleo-u575zi",
                               "an547", "host"]


def test_nano33_entry(shipped):
    nano = shipped.get("nano33")
    assert (nano.mcu, nano.core, nano.clock_hz) == ("nRF52840", "cortex-m4f", 64_000_000)
    assert (nano.ram_bytes, nano.flash_bytes) == (256 * 1024, 1024 * 1024)
    assert UsbId(0x2341, 0x805A) in nano.connection.usb_ids       # sketch running
    assert UsbId(0x2341, 0x005A) in nano.connection.usb_ids       # bootloader
    assert nano.build.platformio_env == "nano33ble"
    assert nano.twin.qemu_machine == "mps2-an386" and nano.twin.target == "mps2-an386"
    assert nano.twin.renode_platform == "platforms/boards/arduino_nano_33_ble.repl"
    assert nano.kind == "board"


def test_nucleo_l4r5zi_entry(shipped):
    board = shipped.get("nucleo-l4r5zi")
    assert (board.mcu, board.core, board.clock_hz) == ("STM32L4R5ZI", "cortex-m4f", 120_000_000)
    assert (board.ram_bytes, board.flash_bytes) == (640 * 1024, 2 * 1024 * 1024)
    assert board.flasher.kind == "pyocd" and board.flasher.target
    assert all(usb.vid == 0x0483 for usb in board.connection.usb_ids)
    assert board.twin.qemu_machine == "mps2-an386"


@pytest.mark.parametrize("name, core, clock_hz, machine", [
    ("nucleo-h7a3zi", "cortex-m7", 280_000_000, "mps2-an500"),
    ("nucleo-u575zi", "cortex-m33", 160_000_000, "mps2-an505"),
    ("an547", "cortex-m55", 32_000_000, "mps3-an547"),
])
def test_twins_have_the_same_core(shipped, name, core, clock_hz, machine):
    board = shipped.get(name)
    assert (board.core, board.clock_hz, board.twin.qemu_machine) == (core, clock_hz, machine)


def test_an547_is_emulation_only_and_host_is_host(shipped):
    assert shipped.get("an547").kind == "emulated"
    host = shipped.get("host")
    assert host.kind == "host" and host.build.firmware_target == "host" and host.twin is None


def test_every_power_profile_names_its_source(shipped):
    profiles = [b.power_profile for b in shipped.boards.values() if b.power_profile]
    assert len(profiles) == 4  # the four real boards; emulator and host have none
    for profile in profiles:
        assert profile.active_ma > profile.idle_ma > 0
        assert profile.voltage_v > 0
        assert "datasheet" in profile.source.lower() or "specification" in profile.source.lower()


def test_a_board_without_calibration_keeps_cpi_one_marked_uncalibrated(shipped):
    uncalibrated = [b for b in shipped.boards.values() if b.cpi_calibration is None]
    assert {b.cpi for b in uncalibrated} == {1.0}
    assert {b.cpi_source for b in uncalibrated} == {"uncalibrated: assumed, not fitted"}
    calibrated = shipped.get("nucleo-l4r5zi")
    assert calibrated.cpi != 1.0 and "MLPerf Tiny" in calibrated.cpi_source


def test_boards_are_immutable(shipped):
    with pytest.raises(dataclasses.FrozenInstanceError):
        shipped.get("nano33").clock_hz = 1


def test_unknown_board_names_the_known_ones(shipped):
    with pytest.raises(ConfigError) as caught:
        shipped.get("nano34")
    message = str(caught.value)
    assert message.startswith("board 'nano34' is not in the catalog (known: nano33, nucleo-l4r5zi, ")
    assert "did you mean 'nano33'?" in message


# ---------------------------------------------------------------- validation errors


def test_minimal_board_loads_with_defaults(tmp_path):
    board = load_one(tmp_path)
    assert board.cpi == 1.0 and board.connection.baud == 115200 and board.power_profile is None
    assert board.flasher.kind == "none"


def test_missing_required_key(tmp_path):
    message = config_error(tmp_path, clock_hz=...)
    assert "catalog.yaml: boards.testboard: missing required key 'clock_hz'" in message
    assert "CPU clock in Hz" in message


def test_wrong_type_names_dotted_key_and_expectation(tmp_path):
    message = config_error(tmp_path, connection={"baud": "fast"})
    assert "boards.testboard.connection.baud: expected bits per second" in message
    assert "'fast' (str)" in message


def test_bool_is_not_an_integer(tmp_path):
    assert "boards.testboard.ram_bytes: expected" in config_error(tmp_path, ram_bytes=True)


def test_unknown_key_suggests_the_close_one(tmp_path):
    message = config_error(tmp_path, clok_hz=5)
    assert "boards.testboard.clok_hz: unknown key 'clok_hz'" in message
    assert "did you mean 'clock_hz'?" in message


def test_nested_unknown_key(tmp_path):
    message = config_error(tmp_path, power_probe={"kind": "joulescope", "serail": "1"})
    assert "boards.testboard.power_probe.serail: unknown key" in message


def test_enum_lists_choices(tmp_path):
    message = config_error(tmp_path, flasher={"kind": "stlink-utility"})
    assert "boards.testboard.flasher.kind: expected one of platformio, bossac, pyocd, none" in message


def test_bad_usb_id_names_the_list_index(tmp_path):
    message = config_error(tmp_path, connection={"usb_ids": ["2341:805a", "arduino"]})
    assert "boards.testboard.connection.usb_ids[1]: expected a USB id 'VID:PID'" in message


def test_usb_id_out_of_range(tmp_path):
    assert "usb_ids[0]" in config_error(tmp_path, connection={"usb_ids": ["12345:1"]})


def test_negative_number(tmp_path):
    message = config_error(tmp_path, clock_hz=-1)
    assert "boards.testboard.clock_hz: expected" in message and "at least 0" in message


PROFILE = {"active_ma": 5.0, "idle_ma": 1.0, "voltage_v": 3.3, "source": "test"}


def _number_fields(nan_or_inf: float) -> list:
    """(fields that put nan_or_inf into each number of an entry, the dotted key it is at)."""
    return [
        ({"clock_hz": nan_or_inf}, "clock_hz"), ({"ram_bytes": nan_or_inf}, "ram_bytes"),
        ({"flash_bytes": nan_or_inf}, "flash_bytes"), ({"cpi": nan_or_inf}, "cpi"),
        ({"connection": {"baud": nan_or_inf}}, "connection.baud"),
        ({"power_probe": {"gpi": nan_or_inf}}, "power_probe.gpi"),
        *(({"power_profile": {**PROFILE, key: nan_or_inf}}, f"power_profile.{key}")
          for key in ("active_ma", "idle_ma", "voltage_v")),
    ]


@pytest.mark.parametrize("fields, key", [
    *_number_fields(float("nan")), *_number_fields(float("inf")), *_number_fields(-float("inf")),
    # beyond any board, or a reading of 0 that would make a modeled figure 0 or infinite
    ({"cpi": 1e9}, "cpi"), ({"clock_hz": 10**30}, "clock_hz"), ({"ram_bytes": 2**60}, "ram_bytes"),
    ({"connection": {"baud": 10**12}}, "connection.baud"), ({"power_probe": {"gpi": 4}}, "power_probe.gpi"),
    ({"power_profile": {**PROFILE, "voltage_v": 0}}, "power_profile.voltage_v"),
    ({"power_profile": {**PROFILE, "active_ma": 0}}, "power_profile.active_ma"),
    ({"power_profile": {**PROFILE, "idle_ma": 1e12}}, "power_profile.idle_ma"),
])
def test_every_number_must_be_finite_and_in_range(tmp_path, fields, key):
    message = config_error(tmp_path, **fields)
    assert f"catalog.yaml: boards.testboard.{key}: expected" in message
    assert "got " in message  # the value read, with its type (an integer field refuses a float)


def test_cpi_must_be_positive(tmp_path):
    assert "greater than 0.0" in config_error(tmp_path, cpi=0)


def test_unquoted_serial_number_is_explained(tmp_path):
    message = config_error(tmp_path, power_probe={"kind": "joulescope", "serial": 415})
    assert "boards.testboard.power_probe.serial" in message and "quoted string" in message


def test_board_needs_a_twin(tmp_path):
    message = config_error(tmp_path, twin=None)
    assert "boards.testboard.twin: a board of kind 'board' needs an emulated twin" in message


def test_power_profile_needs_a_source(tmp_path):
    message = config_error(tmp_path, power_profile={"active_ma": 5, "idle_ma": 1, "voltage_v": 3.3})
    assert "boards.testboard.power_profile: missing required key 'source'" in message


def test_entry_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match=r"boards.testboard: expected a mapping of board fields, got a list"):
        load_boards(catalog=write_catalog(tmp_path, {"testboard": [1, 2]}), cwd=tmp_path)


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="catalog.yaml: expected a mapping with the key 'boards'"):
        load_boards(catalog=write_catalog(tmp_path, text="- nano33\n"), cwd=tmp_path)


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(ConfigError, match="catalog.yaml: bords: unknown key 'bords'.*did you mean 'boards'"):
        load_boards(catalog=write_catalog(tmp_path, text="bords: {}\n"), cwd=tmp_path)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    text = textwrap.dedent("""\
        boards:
          testboard:
            title: x
            mcu: [unclosed
            core: cortex-m4
        """)
    with pytest.raises(ConfigError) as caught:
        load_boards(catalog=write_catalog(tmp_path, text=text), cwd=tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'catalog.yaml'}:5:")
    assert "YAML syntax error" in message


def test_duplicate_key_is_an_error(tmp_path):
    text = "boards:\n  testboard: {clock_hz: 1}\n  testboard: {clock_hz: 2}\n"
    with pytest.raises(ConfigError, match=r"catalog.yaml:3:3: YAML syntax error: found duplicate key 'testboard'"):
        load_boards(catalog=write_catalog(tmp_path, text=text), cwd=tmp_path)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read board file"):
        load_boards(catalog=tmp_path / "missing.yaml", cwd=tmp_path)


def test_a_board_needs_its_clock(tmp_path):
    # Latency on a twin is cycles / clock_hz: 0 would make it infinite.
    assert "boards.testboard.clock_hz: a board of kind 'board' needs its CPU clock" in config_error(tmp_path, clock_hz=0)


def test_a_binary_board_file_is_named(tmp_path):
    path = write_catalog(tmp_path, text="")
    path.write_bytes(b"\xff\xfe\x00\x89binary")
    with pytest.raises(ConfigError, match=r"catalog.yaml: not a YAML board file \(byte 0 is not UTF-8 text\)"):
        load_boards(catalog=path, cwd=tmp_path)
