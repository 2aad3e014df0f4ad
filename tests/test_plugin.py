"""The pytest plugin, exercised through pytester: options, fixtures, errors, the summary table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

# Loaded here so that in-process pytester runs share it: numpy's C extension cannot be
# imported a second time after pytester restores sys.modules.
import hilbench.record.store  # noqa: F401
from tests.support.inner_pytest import FAST_INNER_PYTEST

pytest_plugins = ["pytester"]

PORTS_DIR = Path(__file__).parent / "fixtures" / "list_ports"

MODES_TEST = """
    def test_mode(board):
        print(f"MODE {board.name} {board.mode} {board.describe()}")
"""


@pytest.fixture
def isolated(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester with nothing attached and results kept inside its folder."""
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nothing.json"))
    monkeypatch.setenv("HILBENCH_RESULTS", str(pytester.path / "results"))
    # Only the test files written here: these tests are about the plugin, not the suite.
    monkeypatch.setenv("PYTEST_ADDOPTS", f"{FAST_INNER_PYTEST} --no-reference-suite")
    return pytester


def test_inert_without_board(isolated):
    isolated.makepyfile("""
        def test_plain():
            pass

        def test_wants_a_board(board):
            pass
    """)
    result = isolated.runpytest()
    result.assert_outcomes(passed=1, skipped=1)
    # pytest itself names installed plugins in its header; nothing else may mention us
    assert [line for line in result.outlines if "hilbench" in line and not line.startswith("plugins:")] == []
    assert not (isolated.path / "results").exists()


def test_skip_reason_says_which_option_is_missing(isolated):
    isolated.makepyfile("def test_wants_a_board(board):\n    pass\n")
    result = isolated.runpytest("-rs")
    result.stdout.fnmatch_lines(["*needs a board: run pytest with --board=NAME*"])


def test_board_option_repeatable_and_comma_separated(isolated):
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=host,an547", "--board", "nano33", "-v", "-s")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "hilbench: host: host (*",
        "hilbench: nano33: emulated on qemu mps2-an386 (not connected*",
        "*MODE host host host*",
    ])
    out = result.stdout.str()
    assert "MODE an547 emulated emulated on qemu mps3-an547" in out
    assert "MODE nano33 emulated emulated on qemu mps2-an386" in out
    for test_id in ("test_mode[host]", "test_mode[an547]", "test_mode[nano33]"):
        assert test_id in out


def test_connected_board_resolves_to_hardware(isolated, monkeypatch):
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nano33_ble.json"))
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=nano33", "-s")
    result.assert_outcomes(passed=1)
    assert "MODE nano33 hardware hardware on /dev/ttyACM0" in result.stdout.str()
    result = isolated.runpytest("--board=nano33", "--emulate", "-s")
    assert "MODE nano33 emulated" in result.stdout.str()


def test_unknown_board_is_a_usage_error(isolated):
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=nano34")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*hilbench: board 'nano34' is not in the catalog (known: nano33, *"])
    assert "Traceback" not in result.stderr.str()


def test_require_hardware_without_the_board_is_a_usage_error(isolated):
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=nucleo-l4r5zi", "--require-hardware")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*board 'nucleo-l4r5zi' (*) is not connected*"])


def test_bad_lab_file_is_a_usage_error(isolated):
    isolated.makefile(".yaml", lab="boards:\n  nano33:\n    clock_hz: fast\n")
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=nano33", "--lab=lab.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*lab.yaml: boards.nano33.clock_hz: expected the CPU clock in Hz*"])


def test_lab_file_adds_a_board(isolated, monkeypatch):
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "lab_bench.json"))
    isolated.makefile(".yaml", rack="boards:\n  l4-rack:\n    extends: nucleo-l4r5zi\n"
                                    "    connection: {serial_number: '0670FF495157808667183632'}\n")
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=l4-rack", "--lab", "rack.yaml", "-s")
    result.assert_outcomes(passed=1)
    assert "MODE l4-rack hardware hardware on /dev/ttyACM1" in result.stdout.str()


def test_hilbench_yaml_in_the_working_directory(isolated):
    isolated.makefile(".yaml", hilbench="boards:\n  ci-host:\n    extends: host\n")
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=ci-host", "-s")
    assert "MODE ci-host host host" in result.stdout.str()


def test_test_can_parametrize_board_itself(isolated):
    isolated.makepyfile("""
        import pytest

        @pytest.mark.parametrize("board", ["an547"], indirect=True)
        def test_pinned(board):
            assert board.mode == "emulated" and board.qemu_machine == "mps3-an547"
    """)
    isolated.runpytest().assert_outcomes(passed=1)                     # without --board
    result = isolated.runpytest("--board=host,nano33", "-v")            # not re-parametrized
    result.assert_outcomes(passed=1)
    assert "test_pinned[an547]" in result.stdout.str()


def test_test_parametrized_with_an_unknown_board_fails_cleanly(isolated):
    isolated.makepyfile("""
        import pytest

        @pytest.mark.parametrize("board", ["nano34"], indirect=True)
        def test_pinned(board):
            pass
    """)
    result = isolated.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*hilbench: board 'nano34' is not in the catalog*"])


def test_model_option_parametrizes_tflite_model(isolated, unlabelled_model):
    isolated.makepyfile("""
        def test_model(board, tflite_model):
            print("MODEL", board.name, tflite_model.parent.name, tflite_model.name)
    """)
    result = isolated.runpytest("--board=host", f"--model={unlabelled_model}", "--model=kws", "-v", "-s")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "test_model[host-ad_plain]" in out and "test_model[host-kws]" in out
    assert "MODEL host kws int8.tflite" in out
    assert "hilbench models: ad_plain, kws" in out


def test_unknown_model_is_a_usage_error(isolated):
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=host", "--model=kws_ref")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*model 'kws_ref' is neither a file, a zoo model*"])


def test_overridden_model_fixture_is_left_alone(isolated):
    isolated.makeconftest("""
        import pytest
        from pathlib import Path

        @pytest.fixture
        def tflite_model():
            return Path("my_model.tflite")
    """)
    isolated.makepyfile("""
        def test_model(tflite_model):
            assert tflite_model.name == "my_model.tflite"
    """)
    isolated.runpytest("--board=host", "--model=kws").assert_outcomes(passed=1)


ROW_TEST = """
    def test_record(board, hilbench_results):
        hilbench_results.record({
            "board": board.name, "mode": board.mode, "core": board.board.core,
            "model": "kws_ref_model", "runtime": "hilbench-c",
            "latency_source": "host-clock", "latency_ms_p50": 1.25, "latency_ms_p90": 1.5,
            "bitexact_rate": 1.0,
        })
"""


def test_summary_table_lists_recorded_rows_with_labels(isolated):
    isolated.makepyfile(ROW_TEST)
    results_dir = isolated.path / "my-results"
    result = isolated.runpytest("--board=host", f"--results-dir={results_dir}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*hilbench results*",
        "board*mode*model*runtime*latency p50*",
        "host*host*kws_ref_model*hilbench-c*1.25 ms (host-clock)*1.50 ms (host-clock)*",
        "run folder: *my-results/runs/*",
    ])
    [run_dir] = (results_dir / "runs").iterdir()
    with open(run_dir / "results.csv", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["board"], row["mode"], row["latency_source"], row["latency_ms_p50"]) == \
        ("host", "host", "host-clock", "1.25")


def test_summary_says_when_nothing_was_recorded(isolated):
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=host")
    result.stdout.fnmatch_lines(["*hilbench results*", "no result rows were recorded"])


def test_row_breaking_the_contract_fails_its_test(isolated):
    isolated.makepyfile("""
        def test_record(board, hilbench_results):
            hilbench_results.record({"board": board.name, "mode": board.mode, "model": "m",
                                     "runtime": "r", "latency_ms_p50": 3.0})
    """)
    result = isolated.runpytest("--board=host")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hilbench: *latency_ms_p50 given without a latency_source*"])


def test_two_boards_on_one_probe_is_a_usage_error(isolated, monkeypatch):
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "lab_bench.json"))
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=nucleo-h7a3zi,nucleo-u575zi")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*boards nucleo-h7a3zi, nucleo-u575zi all resolve to /dev/ttyACM2*"])


def test_two_models_with_one_name_are_a_usage_error(isolated):
    from hilbench.bench import find_model

    copy = isolated.path / "alt" / "ad" / "int8.tflite"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(find_model("ad").read_bytes())
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=host", "--model=ad", f"--model={copy}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*two models go by the name 'ad' in one run (*/models_zoo/ad/int8.tflite "
                                 "and */alt/ad/int8.tflite)*"])
    assert not (isolated.path / "results").exists()


def test_the_same_model_given_twice_runs_once(isolated):
    isolated.makepyfile("def test_model(board, tflite_model):\n    pass\n")
    result = isolated.runpytest("--board=host", "--model=ad", "--model=ad,ad")
    result.assert_outcomes(passed=1)


def test_boards_whose_file_names_collide_are_a_usage_error(isolated):
    isolated.makefile(".yaml", lab="boards:\n  x_1:\n    extends: host\n  x 1:\n    extends: host\n")
    isolated.makepyfile(MODES_TEST)
    result = isolated.runpytest("--board=x_1,x 1", "--lab=lab.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*boards 'x_1' and 'x 1' would share the file name 'x_1' in the run folder*"])
