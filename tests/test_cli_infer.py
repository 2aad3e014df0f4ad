"""`hilbench infer` end to end on the host board: compile, build, run on a pty, write outputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hilbench.paths import zoo_root

AD = zoo_root() / "ad" / "int8.tflite"   # the zoo's anomaly detector: FC only, the quickest to build


def hilbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hilbench.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def tflite_micro_outputs(model: Path, rows: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(model))
    outputs = []
    for row in rows:
        interpreter.set_input(row.reshape(1, -1), 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).reshape(-1).copy())
    return np.stack(outputs)


def test_infer_on_host_writes_bit_exact_outputs(tmp_path):
    rows = np.random.default_rng(7).integers(-128, 128, size=(4, 640), dtype=np.int8)
    np.save(tmp_path / "x.npy", rows)
    result = hilbench("infer", "--board", "host", "--model", str(AD), "--input", "x.npy",
                      "--output", "y.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    outputs = np.load(tmp_path / "y.npy")
    assert outputs.dtype == np.int8 and outputs.shape == (4, 640)
    np.testing.assert_array_equal(outputs, tflite_micro_outputs(AD, rows))
    last_line = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"cycles_per_inference: (\d+) \(host-clock\)", last_line)
    assert match and int(match.group(1)) > 0, result.stdout


@pytest.mark.parametrize("model_name", ["ad", "ad01_int8"], ids=["zoo", "mlperf-tiny"])
def test_infer_by_model_name_and_image_shaped_rows(tmp_path, mlperf_tiny, model_name):
    if model_name == "ad01_int8":
        mlperf_tiny(model_name)   # skipped without the MLPerf Tiny models
    rows = np.zeros((2, 1, 640), dtype=np.int8)     # (rows, *input shape) works too
    np.save(tmp_path / "x.npy", rows)
    result = hilbench("infer", "--board=host", f"--model={model_name}", "--input=x.npy",
                      "--output=y.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "y.npy").shape == (2, 640)


def test_infer_names_the_missing_mlperf_model_and_the_fetch_command(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 640), np.int8))
    result = subprocess.run([sys.executable, "-m", "hilbench.cli", "infer", "--board=host",
                             "--model=ad01_int8", "--input=x.npy", "--output=y.npy"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HILBENCH_MLPERF_DIR": str(tmp_path / "empty")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (f"MLPerf Tiny model ad01_int8.tflite is not in {tmp_path / 'empty'}: run 'hilbench "
            "models fetch mlperf-tiny'") in result.stderr


@pytest.mark.parametrize("array, message", [
    (np.zeros((2, 640), np.float32), "input rows have dtype float32 but model input 'serving_default_keras_tensor_58:0' is int8; quantize"),
    (np.zeros((2, 10), np.int8), "input rows have shape (2, 10) but model input 'serving_default_keras_tensor_58:0' has 640 elements"),
])
def test_infer_rejects_rows_that_do_not_fit_the_model(tmp_path, array, message):
    np.save(tmp_path / "x.npy", array)
    result = hilbench("infer", "--board=host", "--model=ad", "--input=x.npy",
                      "--output=y.npy", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "y.npy").exists()


def test_infer_errors_before_building(tmp_path):
    result = hilbench("infer", "--board=host", "--model=ad", "--input=missing.npy",
                      "--output=y.npy", cwd=tmp_path)
    assert result.returncode == 2 and "input file 'missing.npy' does not exist" in result.stderr
    np.save(tmp_path / "x.npy", np.zeros((1, 640), np.int8))
    result = hilbench("infer", "--board=nano34", "--model=ad", "--input=x.npy",
                      "--output=y.npy", cwd=tmp_path)
    assert result.returncode == 2 and "board 'nano34' is not in the catalog" in result.stderr
    result = hilbench("infer", "--board=host", "--model=nosuch", "--input=x.npy",
                      "--output=y.npy", cwd=tmp_path)
    assert result.returncode == 2 and "model 'nosuch' is neither a file" in result.stderr


def test_infer_on_an_emulated_twin_matches_the_host(tmp_path):
    rows = np.random.default_rng(11).integers(-128, 128, size=(3, 640), dtype=np.int8)
    np.save(tmp_path / "x.npy", rows)
    result = hilbench("infer", "--board=nano33", "--emulate", f"--model={AD}", "--input=x.npy",
                      "--output=y.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "nano33: emulated on qemu mps2-an386 (--emulate was given" in result.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), tflite_micro_outputs(AD, rows))
    match = re.fullmatch(r"cycles_per_inference: (\d+) \(icount\)", result.stdout.strip().splitlines()[-1])
    assert match, result.stdout
    # icount is deterministic: the same model costs the same instructions on every run
    again = hilbench("infer", "--board=nano33", "--emulate", f"--model={AD}", "--input=x.npy",
                     "--output=y2.npy", cwd=tmp_path)
    assert again.stdout.strip().splitlines()[-1] == match.group(0)


@pytest.fixture
def preflashed_board(tmp_path):
    """A "board" that hilbench does not flash: the zoo's ad firmware already running behind a serial
    port (here a host process on a pty), declared in a lab file with flasher kind none."""
    from hilbench.bench import compiled_model_dir
    from hilbench.build import build_firmware
    from hilbench.compile import compile_model
    from hilbench.deploy.host import start_host_firmware

    firmware = build_firmware("host", compile_model(AD, compiled_model_dir(AD, "portable")))
    with start_host_firmware(firmware) as endpoint:
        lab = tmp_path / "lab.yaml"
        lab.write_text("boards:\n  bench-nano:\n    extends: nano33\n"
                       f"    connection: {{port: '{endpoint.url}'}}\n    flasher: {{kind: none}}\n")
        yield lab, endpoint.url


def test_infer_on_a_preflashed_board(tmp_path, preflashed_board):
    lab, port = preflashed_board
    rows = np.random.default_rng(3).integers(-128, 128, size=(2, 640), dtype=np.int8)
    np.save(tmp_path / "x.npy", rows)
    result = hilbench("infer", "--board=bench-nano", f"--lab={lab}", f"--model={AD}",
                      "--input=x.npy", "--output=y.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"bench-nano: hardware on {port}" in result.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), tflite_micro_outputs(AD, rows))
    assert re.fullmatch(r"cycles_per_inference: \d+ \(device-timer\)", result.stdout.strip().splitlines()[-1])


def test_preflashed_board_running_another_model_is_refused(tmp_path, preflashed_board):
    lab, port = preflashed_board
    np.save(tmp_path / "x.npy", np.zeros((1, 490), np.int8))
    result = hilbench("infer", "--board=bench-nano", f"--lab={lab}", "--model=kws",
                      "--input=x.npy", "--output=y.npy", cwd=tmp_path)
    assert result.returncode == 2
    # the firmware answers the zoo name of its model (not the file stem 'int8' they all share)
    assert (f"the pre-flashed board 'bench-nano' on {port} runs model 'ad' (640 input / "
            "640 output bytes), not 'kws' (490 / 12)") in result.stderr
