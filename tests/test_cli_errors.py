"""Bad input on the command line: one line on stderr naming what is wrong and where, exit
status 2, no traceback, and nothing lost or half written. What can be checked before a run
starts is checked before it starts: these cases must fail in seconds, without a build."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hilbench.bench import find_model

REPO = Path(__file__).resolve().parent.parent
# Errors that are checked up front come long before any firmware could be built and run.
UP_FRONT_S = 20


def hilbench(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "hilbench.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


def one_line_error(result: subprocess.CompletedProcess, *names: str) -> str:
    """The single error line; it must name every one of ``names``."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def x_npy(tmp_path) -> Path:
    np.save(tmp_path / "x.npy", np.zeros((2, 640), dtype=np.int8))
    return tmp_path / "x.npy"


def test_infer_output_into_a_missing_folder_fails_before_the_run(tmp_path, x_npy):
    started = time.monotonic()
    result = hilbench("infer", "--board", "host", "--model", "ad", "--input", "x.npy",
                      "--output", "no/such/folder/y.npy", cwd=tmp_path)
    one_line_error(result, "--output", "no/such/folder")
    assert time.monotonic() - started < UP_FRONT_S and "host:" not in result.stdout


def test_infer_writes_exactly_the_output_path_given(tmp_path, x_npy):
    result = hilbench("infer", "--board", "host", "--model", "ad", "--input", "x.npy",
                      "--output", "y.out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.out"]  # no y.out.npy, no temporary
    assert np.load(tmp_path / "y.out").shape == (2, 640)
    assert "wrote y.out:" in result.stdout


def test_npy_header_claiming_more_rows_than_the_file_holds(tmp_path):
    header = {"descr": "|i1", "fortran_order": False, "shape": (10**12, 640)}
    with open(tmp_path / "big.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(bytes(640))
    result = hilbench("infer", "--board", "host", "--model", "ad", "--input", "big.npy",
                      "--output", "y.npy", cwd=tmp_path)
    one_line_error(result, "big.npy", "(1000000000000, 640)", "640 bytes")


def test_lab_file_with_a_nan_cpi_is_refused_before_anything_is_written(tmp_path, x_npy):
    (tmp_path / "lab.yaml").write_text("boards:\n  nano33:\n    cpi: .nan\n")
    result = hilbench("infer", "--board", "nano33", "--emulate", "--lab", "lab.yaml", "--model", "ad",
                      "--input", "x.npy", "--output", "y.npy", cwd=tmp_path)
    one_line_error(result, "lab.yaml", "boards.nano33.cpi", "finite")
    assert not (tmp_path / "y.npy").exists()


def test_a_closed_socket_port_is_an_error_not_the_twin(tmp_path, x_npy):
    url = f"socket://127.0.0.1:{closed_port()}"
    (tmp_path / "lab.yaml").write_text(
        f"boards:\n  peer:\n    extends: nano33\n    connection: {{port: '{url}'}}\n"
        "    flasher: {kind: none}\n")
    started = time.monotonic()
    result = hilbench("infer", "--board", "peer", "--lab", "lab.yaml", "--model", "ad",
                      "--input", "x.npy", "--output", "y.npy", cwd=tmp_path)
    one_line_error(result, "peer", url, "nothing answers")
    assert time.monotonic() - started < UP_FRONT_S and "emulated" not in result.stdout


def test_energy_capture_on_the_host_is_refused_before_the_run(tmp_path):
    result = hilbench("measure", "--board", "host", "--model", "ad", "--energy-capture", "run.jls",
                      cwd=tmp_path)
    one_line_error(result, "--energy-capture run.jls", "board 'host'")


def test_measure_json_into_a_missing_folder_fails_before_the_run(tmp_path):
    result = hilbench("measure", "--board", "host", "--model", "ad", "--json", "out/m.json", cwd=tmp_path)
    one_line_error(result, "--json", "out")
    assert "host:" not in result.stdout


def test_binary_recorded_port_list(tmp_path):
    (tmp_path / "ports.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    result = hilbench("boards", cwd=tmp_path, env={"HILBENCH_LIST_PORTS": str(tmp_path / "ports.json")})
    one_line_error(result, "ports.json", "not a recorded port list")


def test_ports_save_into_a_missing_folder(tmp_path):
    result = hilbench("ports", "--save", "nowhere/ports.json", cwd=tmp_path)
    one_line_error(result, "--save", "nowhere")


def test_ports_save_writes_a_list_that_replays(tmp_path):
    result = hilbench("ports", "--save", "ports.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads((tmp_path / "ports.json").read_text()), list)


def test_cloud_serve_port_out_of_range(tmp_path):
    result = hilbench("cloud", "serve", "--port", "99999", "ad", cwd=tmp_path)
    one_line_error(result, "port 99999", "0 to 65535")


def test_cloud_serve_refuses_an_int8_model(tmp_path):
    result = hilbench("cloud", "serve", str(find_model("ad")), cwd=tmp_path)
    one_line_error(result, "int8.tflite", "not a float model", "int8")


def test_a_model_folder_and_an_empty_array_are_named(tmp_path):
    np.save(tmp_path / "none.npy", np.zeros((0, 640), dtype=np.int8))
    result = hilbench("infer", "--board", "host", "--model", "ad", "--input", "none.npy", "--output", "y.npy",
                      cwd=tmp_path)
    one_line_error(result, "no rows", "(0, 640)")
    (tmp_path / "m").mkdir()
    result = hilbench("infer", "--board", "host", "--model", "m", "--input", "none.npy", "--output", "y.npy",
                      cwd=tmp_path)
    one_line_error(result, "model 'm' is a folder")
