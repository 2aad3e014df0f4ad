"""A plain MLPerf Tiny DUT on a socket:// URL, benchmarked as a user benchmarks their own
firmware: hilbench's firmware in its plain MLPerf mode, served by 'hilbench twin serve', and
declared in a lab file as a running twin (kind emulated, connection.url, flasher none)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import pytest

from test_twin_serve import REPO, start_serve, stop

pytestmark = pytest.mark.emulator


def lab_file(tmp_path, url: str, **extra: str) -> str:
    lines = ["boards:", "  peer:", "    extends: nucleo-l4r5zi", "    kind: emulated",
             f"    connection: {{url: '{url}'}}", "    flasher: {kind: none}"]
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    path = tmp_path / "lab.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(args: list[str], cwd, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO), **env})


def suite_on_a_plain_twin(tmp_path, model: str, *options: str) -> tuple[dict, dict]:
    """pytest --board=peer --lab lab.yaml --model=MODEL [options] against 'twin serve
    --plain-mlperf' of the model on a socket:// URL: the row (as the run's CSV has it) and
    its figures."""
    process, facts = start_serve("--plain-mlperf", model=model)
    try:
        lab = lab_file(tmp_path, facts["url"])
        result = run(["-m", "pytest", "-p", "no:cacheprovider", "-p", "no:labgrid", "-q",
                      "--board=peer", f"--lab={lab}", f"--model={model}", *options],
                     tmp_path, HILBENCH_RESULTS=str(tmp_path / "results"))
    finally:
        stop(process, signal.SIGTERM)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    [csv_path] = (tmp_path / "results" / "runs").glob("*/results.csv")
    [row] = list(csv.DictReader(csv_path.open()))
    [figures_path] = csv_path.parent.glob("figures/*.json")
    return row, json.loads(figures_path.read_text())


@pytest.fixture(scope="module")
def plain_ad_twin():
    process, facts = start_serve("--plain-mlperf")
    yield facts
    stop(process, signal.SIGTERM)


def test_a_plain_dut_running_an_unknown_model_needs_the_lab_to_say_which(tmp_path, plain_ad_twin):
    lab = lab_file(tmp_path, plain_ad_twin["url"])
    result = run(["-m", "hilbench.cli", "measure", "--board=peer", f"--lab={lab}", "--model=ad",
                  "--vectors=2"], tmp_path)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "plain MLPerf Tiny DUT that runs model 'ad'" in line and "boards.peer.model" in line


def test_plain_dut_gives_a_labelled_row_from_printed_outputs(tmp_path, plain_ad_twin):
    lab = lab_file(tmp_path, plain_ad_twin["url"], model="ad")
    result = run(["-m", "hilbench.cli", "measure", "--board=peer", f"--lab={lab}", "--model=ad",
                  "--vectors=4", "--json=out.json"], tmp_path)
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "out.json").read_text())
    row, figures = saved["row"], saved["figures"]
    assert (row["mode"], row["latency_source"], row["runtime"]) == (
        "emulated", "icount", "mlperf-dut:dut-[mps2-an386]")
    assert figures["outputs"] == "printed"
    assert figures["dut_protocol"]["firmware"] == "plain-mlperf"
    assert isinstance(figures["dut_protocol"]["clobbers_input"], bool)
    assert figures["latency"]["timing_source"] == "lap-us"
    assert row["latency_ms_p50"] > 0 and row["cycles_per_inference"] > 0
    # The zoo's anomaly detector: its outputs recover exactly, or the row says why not.
    if row["bitexact_rate"] is None:
        assert figures["accuracy"]["bitexact_missing_because"]
    else:
        assert row["bitexact_rate"] == 1.0
    assert row["accuracy"] is not None  # AUC on the zoo's labelled vectors


def test_pytest_suite_on_a_plain_mlperf_tiny_dut_on_a_socket_url(tmp_path, mlperf_tiny):
    """The issue's 'done': pytest --board=B --lab lab.yaml --model=kws_ref_model against a
    plain MLPerf Tiny DUT (answers m-model-[kws01], no hb extensions) on a socket:// URL."""
    mlperf_tiny("kws_ref_model")
    row, figures = suite_on_a_plain_twin(tmp_path, "kws_ref_model", "--vectors=3")
    assert (row["board"], row["model"], row["mode"], row["latency_source"]) == (
        "peer", "kws_ref_model", "emulated", "icount")
    assert row["runtime"] == "mlperf-dut:dut-[mps2-an386]"
    assert float(row["bitexact_rate"]) == 1.0      # recovered from the truncated printout
    assert float(row["latency_ms_p50"]) > 0 and row["energy_source"] == "model"
    assert figures["outputs"] == "printed" and figures["dut_protocol"]["printed_format"] == "truncate"
    assert figures["dut_protocol"]["clobbers_input"] is True
    assert "clobbered input" in figures["latency"]["clobbered_input"]


def test_infer_writes_recovered_outputs_of_a_plain_dut(tmp_path, plain_ad_twin):
    import numpy as np

    from hilbench.measure.reference import interpreter_outputs
    from hilbench.paths import zoo_root

    model = zoo_root() / "ad" / "int8.tflite"
    rows = np.random.default_rng(8).integers(-128, 128, size=(3, 640), dtype=np.int8)
    np.save(tmp_path / "x.npy", rows)
    lab = lab_file(tmp_path, plain_ad_twin["url"], model="ad")
    result = run(["-m", "hilbench.cli", "infer", "--board=peer", f"--lab={lab}", "--model=ad",
                  "--input=x.npy", "--output=y.npy"], tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"),
                                  interpreter_outputs(model, rows).reshape(3, -1))
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("cycles_per_inference: ") and last.endswith(" (icount)")
