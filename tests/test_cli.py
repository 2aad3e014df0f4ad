"""The hilbench command: the boards table, help texts, and how errors are reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hilbench import cli

PORTS_DIR = Path(__file__).parent / "fixtures" / "list_ports"


def run_hilbench(*args: str, cwd: Path, ports: str | Path | None = "nothing") -> subprocess.CompletedProcess:
    """Run the installed console script as a user would, with a recorded port list
    (a fixture name, or a path) or, with ports=None, the live one."""
    env = dict(os.environ)
    env.pop("HILBENCH_LIST_PORTS", None)
    if ports:
        env["HILBENCH_LIST_PORTS"] = str(ports if isinstance(ports, Path) else PORTS_DIR / f"{ports}.json")
    hilbench = Path(sys.executable).with_name("hilbench")
    command = [str(hilbench)] if hilbench.exists() else [sys.executable, "-m", "hilbench.cli"]
    return subprocess.run(command + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def table_rows(stdout: str) -> dict[str, str]:
    """board name -> its whole table line."""
    lines = stdout.splitlines()
    return {line.split()[0]: line for line in lines[2:] if line.strip() and not line.startswith(" ")
            and ":" not in line.split()[0]}


def test_boards_with_nothing_attached(tmp_path):
    result = run_hilbench("boards", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["board", "MCU", "core", "clock", "runs", "now"]
    rows = table_rows(result.stdout)
    assert rows["nano33"].split()[1:4] == ["nRF52840", "cortex-m4f", "64"]
    assert rows["nano33"].endswith("emulated on qemu mps2-an386")
    assert rows["nucleo-h7a3zi"].endswith("emulated on qemu mps2-an500")
    assert rows["an547"].endswith("emulated on qemu mps3-an547")
    assert rows["host"].endswith("host")
    assert "280 MHz" in rows["nucleo-h7a3zi"]


def test_boards_with_a_lab_bench_attached(tmp_path):
    result = run_hilbench("boards", "-v", cwd=tmp_path, ports="lab_bench")
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["nano33"].endswith("hardware on /dev/ttyACM0")
    assert rows["nucleo-l4r5zi"].endswith("hardware on /dev/ttyACM1")
    # one STLINK-V3E matches both V3 Nucleos: say so instead of claiming both are connected
    assert rows["nucleo-h7a3zi"].endswith("hardware on /dev/ttyACM2 (shared, see below)")
    assert "nucleo-u575zi: /dev/ttyACM2 matches several boards by USB id" in result.stdout
    assert "nano33: USB id 2341:805a found on /dev/ttyACM0" in result.stdout   # -v reasons


def test_boards_emulate_flag(tmp_path):
    result = run_hilbench("boards", "--emulate", "-v", cwd=tmp_path, ports="lab_bench")
    rows = table_rows(result.stdout)
    assert rows["nano33"].endswith("emulated on qemu mps2-an386")
    assert rows["host"].endswith("host")
    # -v says which cpi each twin's latency uses, and where it comes from
    assert "latency = instructions x cpi 1 (uncalibrated: assumed, not fitted)" in result.stdout
    assert "latency = instructions x cpi 1.545 (MLPerf Tiny published results" in result.stdout


def test_boards_reads_hilbench_yaml_from_the_working_directory(tmp_path):
    (tmp_path / "hilbench.yaml").write_text(
        "boards:\n  nano33-b:\n    extends: nano33\n    connection: {port: /dev/ttyACM0}\n")
    result = run_hilbench("boards", cwd=tmp_path, ports="nano33_ble")
    rows = table_rows(result.stdout)
    assert rows["nano33-b"].endswith("hardware on /dev/ttyACM0")
    assert "boards from: " in result.stdout and "hilbench.yaml" in result.stdout


def test_ambiguous_board_is_reported_in_its_row_not_as_a_crash(tmp_path):
    result = run_hilbench("boards", cwd=tmp_path, ports="two_stlink_v3")
    assert result.returncode == 0
    assert table_rows(result.stdout)["nucleo-u575zi"].endswith("unresolved (see below)")
    assert "2 serial ports match USB id" in result.stdout


def test_bad_lab_file_exits_2_with_one_clean_message(tmp_path):
    lab = tmp_path / "rack.yaml"
    lab.write_text("boards:\n  nano34:\n    connection: {port: /dev/ttyACM0}\n")
    result = run_hilbench("boards", "--lab", str(lab), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"hilbench: error: {lab}: boards.nano34: board 'nano34' "
                                    "is not in the catalog (known: nano33, ")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_lab_file(tmp_path):
    result = run_hilbench("boards", "--lab", "nope.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "lab file 'nope.yaml' does not exist" in result.stderr


def test_broken_recorded_port_list_is_a_clean_error(tmp_path):
    broken = tmp_path / "ports.json"
    broken.write_text("not json")
    result = run_hilbench("boards", cwd=tmp_path, ports=broken)
    assert result.returncode == 2 and "ports.json:1: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("boards", "ports", "models", "infer", "leaderboard", "compare", "report", "cloud"):
        assert f"    {name}" in out


def test_grouped_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["cloud", "serve", "--help"])
    assert exit_info.value.code == 0
    assert "usage: hilbench cloud serve" in capsys.readouterr().out


def test_a_command_positional_named_run_does_not_break_dispatch(tmp_path):
    # 'compare RUN BASELINE': its positional must not replace the function to run
    result = run_hilbench("compare", "no-run.csv", "no-baseline.csv", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("hilbench: error: ") and "Traceback" not in result.stderr


def test_models_lists_the_zoo(tmp_path):
    result = run_hilbench("models", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "model"
    from hilbench.zoo import list_models

    listed = [line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()]
    assert [m.name for m in list_models()] == listed[:len(list_models())]


@pytest.mark.parametrize("name", ["boards", "ports", "models", "infer"])
def test_subcommand_help_has_examples(capsys, name):
    with pytest.raises(SystemExit):
        cli.main([name, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and f"hilbench {name}" in out


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_registering_a_command_twice_is_a_bug():
    with pytest.raises(RuntimeError, match="registered twice"):
        cli.command("boards", summary="x", description="x")(lambda args: 0)


def test_format_table_aligns_columns():
    text = cli.format_table(("a", "long header"), [("xyz", None), ("q", 12)])
    assert text.splitlines() == ["a    long header", "---  -----------", "xyz", "q    12"]


def test_ports_save_writes_a_replayable_list(tmp_path, monkeypatch, capsys):
    from serial.tools import list_ports

    from hilbench.boards import load_ports
    from support.recorded_ports import recorded_comports

    monkeypatch.setattr(list_ports, "comports", lambda: recorded_comports("lab_bench"))
    saved = tmp_path / "ports.json"
    assert cli.main(["ports", "--save", str(saved)]) == 0
    assert f"saved 4 port(s) to {saved}" in capsys.readouterr().out
    # What was saved replays as what pyserial reported, field for field.
    assert load_ports(saved) == load_ports(PORTS_DIR / "lab_bench.json")
