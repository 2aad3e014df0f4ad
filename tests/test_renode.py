"""Renode twins: the generated script and command line everywhere; a real run where Renode exists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hilbench.build.builder import build_firmware
from hilbench.deploy import procs
from hilbench.deploy.renode import RenodePlatform, renode_command, renode_script, start_renode
from hilbench.errors import DeployError
from hilbench.paths import cache_root, firmware_root
from hilbench.session import DutSession

from dut_fixtures.stub_model import expected_raw_output, stub_compiled_model

NANO33 = RenodePlatform(repl="platforms/boards/arduino_nano_33_ble.repl", uart="sysbus.uart0", machine_name="nano33")


def test_script_loads_platform_and_elf_and_serves_the_uart(tmp_path):
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    script = renode_script(elf, NANO33, 4321).splitlines()
    assert script == [
        'mach create "nano33"',
        "machine LoadPlatformDescription @platforms/boards/arduino_nano_33_ble.repl",
        f"sysbus LoadELF @{elf.resolve()}",
        'emulation CreateServerSocketTerminal 4321 "hilbench_uart" false',
        "connector Connect sysbus.uart0 hilbench_uart",
        "emulation SetAdvanceImmediately true",
    ]


def test_script_resolves_our_own_platform_files(tmp_path):
    repl = firmware_root() / "mps2-an386" / "renode.repl"
    script = renode_script(tmp_path / "fw.elf", RenodePlatform(repl=str(repl)), 5000)
    assert f"machine LoadPlatformDescription @{repl.resolve()}" in script


def test_paths_renode_cannot_parse_are_refused(tmp_path):
    spaced = tmp_path / "my firmware" / "fw.elf"
    with pytest.raises(DeployError, match="whitespace or quotes.*move it"):
        renode_script(spaced, NANO33, 4321)
    with pytest.raises(DeployError, match="out of range"):
        renode_script(tmp_path / "fw.elf", NANO33, 70000)


def test_command_line(tmp_path):
    script = tmp_path / "x.resc"
    assert renode_command(script) == [
        "renode", "--disable-xwt", "--console", "--plain", "-e", f"include @{script.resolve()}",
    ]


def test_missing_renode_is_a_clear_error(tmp_path):
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    with pytest.raises(DeployError, match=r"'renode-not-installed' is not on PATH; install Renode from https://renode.io"):
        start_renode(elf, NANO33, renode_binary="renode-not-installed")
    assert not procs.live_processes()


def test_missing_firmware_is_a_clear_error(tmp_path):
    with pytest.raises(DeployError, match="does not exist; build the firmware first"):
        start_renode(tmp_path / "none.elf", NANO33)


@pytest.mark.emulator
@pytest.mark.skipif(shutil.which("renode") is None, reason="Renode is not installed (it is not a Debian package)")
def test_mps2_an386_firmware_runs_on_renode():
    firmware = build_firmware("mps2-an386", stub_compiled_model(), cache_dir=cache_root() / "firmware")
    platform = RenodePlatform(repl=str(Path(firmware.recipe.directory) / "renode.repl"), uart="sysbus.uart0")
    data = bytes(range(40))
    with start_renode(firmware.elf_path, platform) as endpoint, DutSession.from_endpoint(endpoint, timeout=10) as dut:
        assert (endpoint.mode, endpoint.latency_source) == ("emulated", "icount")
        assert dut.name() == "dut-[mps2-an386]"
        dut.load_input(data)
        dut.infer(n=1, warmup=0)
        assert dut.raw_output() == expected_raw_output(data)
    assert not procs.live_processes()


def test_a_renode_that_exits_at_start_is_reported_with_its_output(tmp_path, monkeypatch):
    """The start path up to Renode's own behaviour, with a stand-in that prints and exits."""
    fake = tmp_path / "bin" / "renode"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho \"renode stand-in: $*\"\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    with pytest.raises(DeployError, match=r"(?s)exit code: 3.*renode stand-in: --disable-xwt"):
        start_renode(elf, NANO33, boot_timeout_s=10)
    assert not procs.live_processes()


def test_an_emulator_that_cannot_start_names_the_command_and_leaves_no_folder(tmp_path):
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    with pytest.raises(DeployError, match=r"cannot start /nonexistent/emulator: .*\ncommand: /nonexistent/emulator -x"):
        procs.spawn_emulator(["/nonexistent/emulator", "-x"], work_dir, "emulator.log")
    assert not work_dir.exists() and not procs.live_processes()
