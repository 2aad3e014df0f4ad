"""Flashing real boards, tested up to the flash tools' documented command lines.

No board is attached here, so ``pyocd`` and ``pio`` are stand-in executables put first on PATH:
real processes that record their arguments (and a hash of any file they are given) and exit
with the code a test asks for. The board's serial port is a pty served by host firmware built
for the same model, so the whole path - build, flash, open the port, check the profile, infer -
runs as it would with a board, except for what the real tools and chips do.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from hilbench.bench import compiled_model_dir, open_dut
from hilbench.boards import resolve_boards
from hilbench.build import build_firmware
from hilbench.compile import compile_model
from hilbench.deploy.flash import flash_board, flasher_for
from hilbench.deploy.host import start_host_firmware
from hilbench.deploy.platformio_project import PlatformioProject, generate_project
from hilbench.errors import ConfigError, DeployError
from hilbench.paths import zoo_root

AD = zoo_root() / "ad" / "int8.tflite"   # the zoo's anomaly detector: FC only, the quickest to build

# A stand-in for a flash tool: logs its name, argv and the sha256 of every existing file it is
# given to $HB_FAKE_TOOL_LOG, prints $HB_FAKE_TOOL_OUTPUT, sleeps $HB_FAKE_TOOL_SLEEP seconds,
# exits with $HB_FAKE_TOOL_EXIT.
FAKE_TOOL = """#!{python}
import hashlib, json, os, sys, time
files = {{a: hashlib.sha256(open(a, "rb").read()).hexdigest() for a in sys.argv[1:] if os.path.isfile(a)}}
with open(os.environ["HB_FAKE_TOOL_LOG"], "a") as log:
    log.write(json.dumps({{"tool": os.path.basename(sys.argv[0]), "argv": sys.argv[1:], "files": files}}) + "\\n")
sys.stdout.write(os.environ.get("HB_FAKE_TOOL_OUTPUT", ""))
sys.stdout.flush()
time.sleep(float(os.environ.get("HB_FAKE_TOOL_SLEEP", "0")))
sys.exit(int(os.environ.get("HB_FAKE_TOOL_EXIT", "0")))
"""

# What `pio run -t upload` printed on a machine that cannot reach the PlatformIO registry
# (PlatformIO Core 6.2.0, recorded while writing these tests), exit code 1.
PIO_OFFLINE_OUTPUT = """Processing nano33ble (platform: nordicnrf52; board: nano33ble; framework: arduino)
--------------------------------------------------------------------------------
Platform Manager: Installing nordicnrf52
HTTPClientError: 
"""


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """Puts stand-in pyocd and pio first on PATH; returns a function reading their calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("pyocd", "pio"):
        script = bin_dir / tool
        script.write_text(FAKE_TOOL.format(python=sys.executable))
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "tool-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HB_FAKE_TOOL_LOG", str(log))

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


@pytest.fixture(scope="module")
def ad():
    return compile_model(AD, compiled_model_dir(AD, "portable"))


@pytest.fixture(scope="module")
def board_port(ad):
    """The 'board's serial port: a pty served by host firmware running ad."""
    with start_host_firmware(build_firmware("host", ad)) as endpoint:
        yield endpoint.url


def lab_board(tmp_path, port: str, extends: str, **fields: str) -> "ResolvedBoard":
    """A board of the catalog, connected on ``port``, with lab-file overrides ``fields``."""
    lines = [f"    {key}: {value}" for key, value in fields.items()]
    lab = tmp_path / "hilbench.yaml"
    lab.write_text("\n".join(["boards:", "  bench-board:", f"    extends: {extends}",
                              f"    connection: {{port: '{port}'}}", *lines]) + "\n")
    [board] = resolve_boards(["bench-board"], lab=lab, ports=[])
    assert board.mode == "hardware"
    return board


# ---------------------------------------------------------------------------- pyOCD


def test_pyocd_flashes_the_elf_through_the_lab_probe(tmp_path, fake_tools, board_port, ad):
    board = lab_board(tmp_path, board_port, "nucleo-l4r5zi", flasher="{probe_serial: 066BFF535155}")
    firmware = build_firmware("stm32l4r5", ad)
    result = flash_board(board, firmware)
    [call] = fake_tools()
    assert call["tool"] == "pyocd"
    assert call["argv"] == ["flash", "--target", "stm32l4r5zitx", "--uid", "066BFF535155",
                            str(firmware.elf_path)]
    assert call["files"][str(firmware.elf_path)] == hashlib.sha256(firmware.elf_path.read_bytes()).hexdigest()
    assert result.command[0] == "pyocd" and result.seconds >= 0


def test_pyocd_probe_defaults_to_the_boards_usb_serial_number(tmp_path, fake_tools, board_port, ad):
    """An on-board ST-LINK gives its virtual COM port and its debug interface one serial number."""
    firmware = build_firmware("stm32u575", ad)
    board = lab_board(tmp_path, board_port, "nucleo-u575zi")
    flash_board(board, firmware)
    assert fake_tools()[-1]["argv"] == ["flash", "--target", "stm32u575zitxq", str(firmware.elf_path)]

    with_serial = tmp_path / "serial"
    with_serial.mkdir()
    lab = with_serial / "hilbench.yaml"
    lab.write_text("boards:\n  bench-board:\n    extends: nucleo-u575zi\n"
                   "    connection: {serial_number: 004A0041}\n")
    from hilbench.boards import PortInfo
    [board] = resolve_boards(["bench-board"], lab=lab, ports=[
        PortInfo(device=board_port, vid=0x0483, pid=0x374E, serial_number="004A0041")])
    flash_board(board, firmware)
    assert fake_tools()[-1]["argv"][-3:] == ["--uid", "004A0041", str(firmware.elf_path)]

    # Found by its USB id alone: the serial number of the port that matched.
    [board] = resolve_boards(["nucleo-u575zi"], ports=[
        PortInfo(device=board_port, vid=0x0483, pid=0x374E, serial_number="0031003D")])
    flash_board(board, firmware)
    assert fake_tools()[-1]["argv"][-3:] == ["--uid", "0031003D", str(firmware.elf_path)]


def test_pyocd_failure_shows_command_exit_code_and_output(tmp_path, fake_tools, board_port, ad,
                                                          monkeypatch):
    board = lab_board(tmp_path, board_port, "nucleo-h7a3zi")
    firmware = build_firmware("stm32h7a3", ad)
    monkeypatch.setenv("HB_FAKE_TOOL_EXIT", "1")
    monkeypatch.setenv("HB_FAKE_TOOL_OUTPUT", "0000717 C No connected debug probes [__main__]\n")
    with pytest.raises(DeployError) as failure:
        flash_board(board, firmware)
    message = str(failure.value)
    assert "flashing board 'bench-board' with pyocd failed (exit 1)" in message
    assert f"command: pyocd flash --target stm32h7a3zitxq {firmware.elf_path}" in message
    assert "No connected debug probes" in message


def test_a_flash_that_hangs_is_stopped(tmp_path, fake_tools, board_port, ad, monkeypatch):
    board = lab_board(tmp_path, board_port, "nucleo-l4r5zi")
    monkeypatch.setenv("HB_FAKE_TOOL_OUTPUT", "Erasing [=====     ]\n")
    monkeypatch.setenv("HB_FAKE_TOOL_SLEEP", "60")
    from hilbench.deploy import procs

    before = set(procs.live_processes())   # the board's host firmware behind the pty stays up
    with pytest.raises(DeployError, match=r"with pyocd did not finish within 1 s.\ncommand: pyocd "
                                          r"flash .*\nErasing"):
        flasher_for(board).flash(board, build_firmware("stm32l4r5", ad), timeout_s=1.0)
    assert set(procs.live_processes()) == before   # the tool was stopped and reaped


def test_missing_pyocd_is_a_clear_error(tmp_path, board_port, ad, monkeypatch):
    firmware = build_firmware("stm32l4r5", ad)
    board = lab_board(tmp_path, board_port, "nucleo-l4r5zi")
    monkeypatch.setenv("PATH", str(tmp_path))   # nothing to run here
    with pytest.raises(DeployError, match=r"'pyocd' is not on PATH \(pip install pyocd.*"
                                          r"The command would be: pyocd flash --target stm32l4r5zitx"):
        flash_board(board, firmware)


def test_pyocd_without_a_target_names_the_setting(tmp_path, board_port, ad):
    board = lab_board(tmp_path, board_port, "nano33", flasher="{kind: pyocd}")
    with pytest.raises(ConfigError, match="has no flasher.target .*boards.bench-board.flasher.target"):
        flasher_for(board).command(board, build_firmware("stm32l4r5", ad))


def test_a_flasher_kind_without_a_flasher_is_refused(tmp_path, board_port):
    board = lab_board(tmp_path, board_port, "nano33", flasher="{kind: bossac}")
    with pytest.raises(DeployError, match="flasher kind 'bossac', which hilbench cannot run yet"):
        flasher_for(board)


def test_open_dut_flashes_then_checks_the_profile(tmp_path, fake_tools, board_port):
    """The whole hardware path: build for the Nucleo, flash with pyOCD, talk over the port."""
    board = lab_board(tmp_path, board_port, "nucleo-l4r5zi")
    rows = np.random.default_rng(5).integers(-128, 128, size=(2, 640), dtype=np.int8)
    with open_dut(board, AD) as dut:
        assert (dut.mode, dut.latency_source) == ("hardware", "device-timer")
        assert dut.firmware.target == "stm32l4r5"
        [call] = fake_tools()
        assert call["argv"][-1] == str(dut.firmware.elf_path)
        outputs, run = dut.infer(rows)
    assert outputs.shape == (2, 640) and outputs.dtype == np.int8


def test_a_board_that_reports_another_model_after_flashing_is_refused(tmp_path, fake_tools, board_port):
    """pyOCD said yes, but the port answers with other firmware: the flash did not take (or the
    port belongs to another board)."""
    board = lab_board(tmp_path, board_port, "nucleo-l4r5zi")
    with pytest.raises(DeployError, match=r"was flashed with '\w+' \(490 / 12 bytes\) but "
                                          r"reports model '\w+' \(640 input.*the flash did not take"):
        with open_dut(board, "kws"):
            pass
    assert len(fake_tools()) == 1


# ---------------------------------------------------------------------------- PlatformIO


def test_platformio_project_for_nano33(ad, tmp_path):
    project = generate_project("nano33ble", ad, baud=115200, opt_level="O3",
                               extra_defines=("HB_DUT_ENERGY_MODE=1",), out_root=tmp_path)
    ini = (project.directory / "platformio.ini").read_text()
    assert "[env:nano33ble]" in ini
    for line in ("platform = nordicnrf52", "board = nano33ble", "framework = arduino",
                 "src_dir = src", "build_unflags = -Os", "    -O3",
                 """    '-DHB_DUT_TARGET_NAME="platformio:nano33ble"'""", "    -DHB_PORTABLE_KERNELS=1",
                 "    -DHB_DUT_ENERGY_MODE=1", "    -DHB_UART_BAUD=115200"):
        assert line in ini.splitlines(), line
    sources = {p.name for p in (project.directory / "src").iterdir()}
    # the sketch, the DUT core without its main(), the kernels the model uses, the model
    assert {"hb_hal_arduino.cpp", "hb_dut.c", "hb_crc32.c", "hb_hal.h", "hb_model_api.h",
            "hb_cycle_extend.h",
            "fully_connected.c", "hb_model.c", "hb_model_data.c", "hb_model_config.h"} <= sources
    assert "hb_main.c" not in sources
    sketch = (project.directory / "src" / "hb_hal_arduino.cpp").read_text()
    assert "void setup()" in sketch and "hb_dut_run();" in sketch and '"dwt-cyccnt"' in sketch
    assert project.target == "platformio:nano33ble"
    assert project.elf_path == project.directory / ".pio/build/nano33ble/firmware.elf"
    # same inputs, same project; another option, another one
    assert generate_project("nano33ble", ad, opt_level="O3", extra_defines=("HB_DUT_ENERGY_MODE=1",),
                            out_root=tmp_path) == project
    assert generate_project("nano33ble", ad, out_root=tmp_path).directory != project.directory


def test_unknown_platformio_env_lists_the_templates(ad, tmp_path):
    with pytest.raises(ConfigError, match=r"'nucleo_f746zg' has no project template .*known: nano33ble"):
        generate_project("nucleo_f746zg", ad, out_root=tmp_path)


def test_open_dut_on_nano33_uploads_with_platformio(tmp_path, fake_tools, board_port):
    board = lab_board(tmp_path, board_port, "nano33")
    with open_dut(board, AD) as dut:
        assert isinstance(dut.firmware, PlatformioProject)
        assert dut.mode == "hardware"
    [call] = fake_tools()
    assert call["tool"] == "pio"
    assert call["argv"] == ["run", "-d", str(dut.firmware.directory), "-e", "nano33ble",
                            "-t", "upload", "--upload-port", board_port]


def test_platformio_offline_is_a_clear_error(tmp_path, fake_tools, board_port, ad, monkeypatch):
    board = lab_board(tmp_path, board_port, "nano33")
    project = generate_project("nano33ble", ad, out_root=tmp_path)
    monkeypatch.setenv("HB_FAKE_TOOL_EXIT", "1")
    monkeypatch.setenv("HB_FAKE_TOOL_OUTPUT", PIO_OFFLINE_OUTPUT)
    with pytest.raises(DeployError) as failure:
        flash_board(board, project)
    message = str(failure.value)
    assert "flashing board 'bench-board' with platformio failed (exit 1)" in message
    assert "could not download the board's platform or toolchain" in message
    assert f"command: pio run -d {project.directory} -e nano33ble -t upload --upload-port {board_port}" in message
    assert "HTTPClientError" in message


def test_missing_pio_is_a_clear_error(tmp_path, board_port, ad, monkeypatch):
    board = lab_board(tmp_path, board_port, "nano33")
    project = generate_project("nano33ble", ad, out_root=tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeployError, match=r"'pio' is not on PATH \(pip install platformio"):
        flash_board(board, project)
