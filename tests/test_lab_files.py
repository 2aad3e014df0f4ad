"""Lab files: hilbench.yaml / --lab FILE add boards and override catalog fields."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hilbench.boards import UsbId, load_boards
from hilbench.boards.catalog import CATALOG_PATH
from hilbench.errors import ConfigError


def write_lab(directory: Path, text: str, name: str = "lab.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def test_override_changes_only_the_given_keys(tmp_path):
    lab = write_lab(tmp_path, """\
        boards:
          nano33:
            connection: {serial_number: "A8A8B5D45EB4D44F", baud: 921600}
            power_probe: {kind: joulescope, serial: "000415"}
        """)
    catalog = load_boards(lab, cwd=tmp_path)
    nano = catalog.get("nano33")
    assert nano.connection.serial_number == "A8A8B5D45EB4D44F"
    assert nano.connection.baud == 921600
    assert UsbId(0x2341, 0x805A) in nano.connection.usb_ids       # kept from the catalog
    assert (nano.power_probe.kind, nano.power_probe.serial) == ("joulescope", "000415")
    assert nano.clock_hz == 64_000_000
    assert catalog.sources == (CATALOG_PATH, lab)


def test_lists_are_replaced_not_appended(tmp_path):
    lab = write_lab(tmp_path, """\
        boards:
          nano33:
            connection: {usb_ids: ["2341:025a"]}
        """)
    assert load_boards(lab, cwd=tmp_path).get("nano33").connection.usb_ids == (UsbId(0x2341, 0x025A),)


def test_extends_adds_a_second_board_of_a_kind(tmp_path):
    lab = write_lab(tmp_path, """\
        boards:
          nano33-b:
            extends: nano33
            title: second Nano on the rack
            connection: {port: /dev/ttyACM3}
        """)
    catalog = load_boards(lab, cwd=tmp_path)
    second = catalog.get("nano33-b")
    assert second.name == "nano33-b" and second.mcu == "nRF52840"
    assert second.connection.port == "/dev/ttyACM3"
    assert catalog.get("nano33").connection.port is None     # the original is untouched
    assert catalog.names()[-1] == "nano33-b"


def test_full_new_board(tmp_path):
    lab = write_lab(tmp_path, """\
        boards:
          my-m7:
            title: lab M7 board
            kind: board
            mcu: MIMXRT1062
            core: cortex-m7
            clock_hz: 600000000
            ram_bytes: 1048576
            flash_bytes: 8388608
            twin: {qemu_machine: mps2-an500}
        """)
    board = load_boards(lab, cwd=tmp_path).get("my-m7")
    assert (board.core, board.twin.qemu_machine) == ("cortex-m7", "mps2-an500")


def test_unknown_board_in_lab_file(tmp_path):
    lab = write_lab(tmp_path, """\
        boards:
          nano34:
            connection: {port: /dev/ttyACM0}
        """)
    with pytest.raises(ConfigError) as caught:
        load_boards(lab, cwd=tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{lab}: boards.nano34: board 'nano34' is not in the catalog "
                              "(known: nano33, nucleo-l4r5zi, ")
    assert "did you mean 'nano33'?" in message
    assert "extends" in message


def test_extends_unknown_board(tmp_path):
    lab = write_lab(tmp_path, "boards:\n  x:\n    extends: nucleo-l4r5\n")
    with pytest.raises(ConfigError, match=r"boards.x.extends: board 'nucleo-l4r5' is not in the catalog"):
        load_boards(lab, cwd=tmp_path)


def test_bad_override_names_the_lab_file_and_key(tmp_path):
    lab = write_lab(tmp_path, "boards:\n  nano33:\n    connection:\n      baud: fast\n")
    with pytest.raises(ConfigError) as caught:
        load_boards(lab, cwd=tmp_path)
    assert str(caught.value).startswith(f"{lab}: boards.nano33.connection.baud: expected bits per second")


def test_override_that_breaks_a_cross_field_rule_blames_the_lab_file(tmp_path):
    lab = write_lab(tmp_path, "boards:\n  nano33:\n    twin: null\n")
    with pytest.raises(ConfigError, match=rf"^{lab}: boards.nano33.twin: a board of kind 'board' needs"):
        load_boards(lab, cwd=tmp_path)


def test_incomplete_new_board_names_the_missing_key(tmp_path):
    lab = write_lab(tmp_path, "boards:\n  newboard:\n    mcu: X\n    title: t\n")
    with pytest.raises(ConfigError, match=rf"^{lab}: boards.newboard: missing required key 'kind'"):
        load_boards(lab, cwd=tmp_path)


def test_lab_yaml_syntax_error_names_the_line(tmp_path):
    lab = write_lab(tmp_path, "boards:\n  nano33:\n    connection: {port: /dev/ttyACM0\n")
    with pytest.raises(ConfigError, match=rf"^{lab}:4:1: YAML syntax error"):
        load_boards(lab, cwd=tmp_path)


def test_lab_boards_must_be_a_mapping(tmp_path):
    lab = write_lab(tmp_path, "boards:\n  - nano33\n")
    with pytest.raises(ConfigError, match=r"lab.yaml: boards: expected a mapping of board name -> entry, got a list"):
        load_boards(lab, cwd=tmp_path)


def test_empty_lab_file_changes_nothing(tmp_path):
    lab = write_lab(tmp_path, "")
    assert load_boards(lab, cwd=tmp_path).names() == load_boards(cwd=tmp_path).names()


def test_hilbench_yaml_in_the_working_directory_is_found(tmp_path):
    write_lab(tmp_path, "boards:\n  host:\n    title: CI runner\n", name="hilbench.yaml")
    catalog = load_boards(cwd=tmp_path)
    assert catalog.get("host").title == "CI runner"
    assert catalog.sources[-1] == tmp_path / "hilbench.yaml"


def test_no_lab_file_means_catalog_only(tmp_path):
    assert load_boards(cwd=tmp_path).sources == (CATALOG_PATH,)


def test_explicit_lab_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match=r"lab file '.*nope.yaml' does not exist \(given with --lab\)"):
        load_boards(tmp_path / "nope.yaml", cwd=tmp_path)
