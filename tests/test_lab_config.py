"""The lab file's labgrid section: validation, errors naming file and key, and resolution."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hilbench.boards import load_boards, resolve_boards
from hilbench.boards.resolve import BoardNotConnectedError
from hilbench.errors import ConfigError
from hilbench.lab.config import BoardPlace
from hilbench.lab.places import LabError
from tests.support.labgrid_lab import free_port

REPO = Path(__file__).resolve().parents[1]


def write_lab(directory: Path, text: str) -> Path:
    path = directory / "lab.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_places_and_tags_become_board_places(tmp_path):
    lab = write_lab(tmp_path, """\
        labgrid:
          coordinator: lab-server
          acquire_timeout_s: 30
          places:
            nano33: {tags: {board: nano33, rack: "2"}}
            twin-a: {place: rack1-twin-a}
        boards:
          twin-a: {extends: nano33, kind: emulated}
        """)
    config = load_boards(lab).labgrid
    assert config.coordinator == "lab-server:20408"                 # labgrid's default port
    assert config.place_of("twin-a") == BoardPlace("twin-a", "lab-server:20408", place="rack1-twin-a",
                                                   acquire_timeout_s=30.0)
    assert config.place_of("nano33").reservation_filter == {"board": "nano33", "rack": "2"}
    assert config.place_of("twin-a").reservation_filter == {"name": "rack1-twin-a"}
    assert config.place_of("an547") is None


@pytest.mark.parametrize("section, message", [
    ("labgrid: [a]", "labgrid: expected a mapping with coordinator and places, got a list"),
    ("labgrid: {places: {}}", "labgrid: missing required key 'coordinator'"),
    ("labgrid: {coordinator: 'h:99999'}", "labgrid.coordinator: expected HOST[:PORT] of "
                                          "labgrid-coordinator, e.g. lab-server:20408, got 'h:99999'"),
    ("labgrid: {coordinator: 20408}", "labgrid.coordinator: expected HOST[:PORT]"),
    ("labgrid: {coordinator: h, acquire_timeout_s: .nan}", "labgrid.acquire_timeout_s: expected seconds"),
    ("labgrid: {coordinator: h, acquire_timeout_s: 0}", "labgrid.acquire_timeout_s: expected seconds"),
    ("labgrid: {coordinator: h, timeout: 3}", "labgrid.timeout: unknown key 'timeout'"),
    ("labgrid: {coordinator: h, places: {nano34: {place: p}}}",
     "labgrid.places.nano34: board 'nano34' is not in the catalog"),
    ("labgrid: {coordinator: h, places: {nano33: {}}}",
     "labgrid.places.nano33: give exactly one of 'place'"),
    ("labgrid: {coordinator: h, places: {nano33: {place: p, tags: {board: x}}}}",
     "labgrid.places.nano33: give exactly one of 'place'"),
    ("labgrid: {coordinator: h, places: {nano33: {place: 'a b'}}}",
     "labgrid.places.nano33.place: expected a labgrid place name"),
    ("labgrid: {coordinator: h, places: {nano33: {tags: {Board: x}}}}",
     "labgrid.places.nano33.tags: tag 'Board' is not a labgrid tag name"),
    ("labgrid: {coordinator: h, places: {nano33: {tags: {rack: 2}}}}",
     "labgrid.places.nano33.tags.rack: expected a text value"),
    ("labgrid: {coordinator: h, places: {nano33: {tags: {}}}}",
     "labgrid.places.nano33.tags: expected a non-empty mapping"),
])
def test_mistakes_name_the_file_and_the_key(tmp_path, section, message):
    lab = write_lab(tmp_path, section + "\n")
    with pytest.raises(ConfigError) as error:
        load_boards(lab)
    assert str(error.value).startswith(f"{lab}: ")
    assert message in str(error.value)


def test_a_board_on_a_place_runs_there_unless_emulate(tmp_path):
    port = free_port()   # nobody listens: resolution itself must not need the coordinator
    lab = write_lab(tmp_path, f"""\
        labgrid:
          coordinator: 127.0.0.1:{port}
          places: {{nano33: {{place: p1}}, twin-a: {{place: p2}}}}
        boards:
          twin-a: {{extends: nano33, kind: emulated}}
        """)
    catalog = load_boards(lab)
    from hilbench.boards import resolve_board

    place = catalog.labgrid.place_of("nano33")
    board = resolve_board(catalog.get("nano33"), [], lab_place=place)
    assert (board.mode, board.lab_place, board.port) == ("hardware", place, None)
    assert board.describe() == "hardware on labgrid place p1"
    twin = resolve_board(catalog.get("twin-a"), [], lab_place=catalog.labgrid.place_of("twin-a"))
    assert twin.mode == "emulated"            # a twin the lab serves is still a twin
    assert resolve_board(catalog.get("nano33"), [], emulate=True, lab_place=place).lab_place is None
    with pytest.raises(BoardNotConnectedError, match="twin-a.*emulated twin on labgrid place p2"):
        resolve_board(catalog.get("twin-a"), [], require_hardware=True,
                      lab_place=catalog.labgrid.place_of("twin-a"))


def test_an_unreachable_coordinator_fails_resolution_and_the_cli_in_one_line(tmp_path):
    port = free_port()
    lab = write_lab(tmp_path, f"""\
        labgrid: {{coordinator: 127.0.0.1:{port}, places: {{nano33: {{place: p1}}}}}}
        """)
    with pytest.raises(LabError, match=f"labgrid coordinator 127.0.0.1:{port} is unreachable"):
        resolve_boards(["nano33"], lab=lab, ports=[])
    cache = tmp_path / "cache"
    np.save(tmp_path / "x.npy", np.zeros((1, 640), np.int8))
    result = subprocess.run(
        [sys.executable, "-m", "hilbench.cli", "infer", "--board", "nano33", "--lab", str(lab),
         "--model", "ad", "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**os.environ, "HILBENCH_CACHE": str(cache), "PYTHONPATH": str(REPO)})
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"labgrid coordinator 127.0.0.1:{port} is unreachable" in line
    assert "Traceback" not in result.stderr
    assert not (cache / "compiled").exists() and not (cache / "firmware").exists()   # nothing built
