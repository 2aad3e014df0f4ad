"""Emulated twins end to end: firmware for each QEMU Cortex-M target, booted and driven over TCP.

Real QEMU processes and real firmware built with arm-none-eabi-gcc; nothing is mocked.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
from fractions import Fraction
from pathlib import Path

import pytest

from hilbench.build.builder import build_firmware
from hilbench.build.recipe import load_recipe
from hilbench.deploy import procs
from hilbench.deploy.qemu import (
    ICOUNT_SHIFT,
    cpu_from_flags,
    instructions_from_ticks,
    instructions_per_tick,
    qemu_command,
    start_firmware,
    start_qemu,
)
from hilbench.errors import DeployError, DutError
from hilbench.paths import cache_root
from hilbench.session import DutSession

from dut_fixtures.stub_model import expected_raw_output, stub_compiled_model
from twin_fixtures import EXPECTED_TIMER, EXPECTED_TIMER_HZ, QEMU_TARGETS, no_emulator_left_behind  # noqa: F401 (autouse fixture)
from twin_fixtures.spin_model import INSTRUCTIONS_PER_SPIN, spin_compiled_model

FIXTURES = Path(__file__).resolve().parent / "twin_fixtures"
pytestmark = pytest.mark.emulator


@pytest.fixture(scope="session")
def firmware_cache() -> Path:
    # The builder's own content-keyed cache: a rebuild happens exactly when an input changed.
    return cache_root() / "firmware"


@pytest.fixture(scope="session")
def stub_firmware(firmware_cache):
    built = {}

    def get(target: str):
        if target not in built:
            built[target] = build_firmware(target, stub_compiled_model(), cache_dir=firmware_cache)
        return built[target]

    return get


@pytest.fixture(scope="session")
def spin_firmware(firmware_cache):
    built = {}

    def get(target: str):
        if target not in built:
            built[target] = build_firmware(target, spin_compiled_model(), cache_dir=firmware_cache)
        return built[target]

    return get


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it is gone for our purposes once it is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


# ---------------------------------------------------------------- timing arithmetic


def test_instructions_per_tick_matches_documented_resolution():
    # SysTick at 25 MHz with shift=0: 40 ns per tick, 1 ns per instruction.
    assert instructions_per_tick(25_000_000, 0) == 40
    # The shift the twins use: every machine's tick is under half an instruction.
    for hz in set(EXPECTED_TIMER_HZ.values()):
        assert instructions_per_tick(hz, ICOUNT_SHIFT) < Fraction(1, 2)


def test_instructions_from_ticks_is_exact_and_rounds_to_nearest():
    assert instructions_from_ticks(1000, 25_000_000, 0) == 40_000
    # 2057 ticks * 0.3125 = 642.8125 -> 643; 2058 * 0.3125 = 643.125 -> 643
    assert instructions_from_ticks(2057, 25_000_000, 7) == 643
    assert instructions_from_ticks(2058, 25_000_000, 7) == 643
    # Large counts stay exact (no float rounding): 2^40 ticks at 32 MHz, shift 7.
    ticks = 2**40
    assert instructions_from_ticks(ticks, 32_000_000, 7) == (ticks * 10**9 * 2 + 32_000_000 * 128) // (2 * 32_000_000 * 128)
    with pytest.raises(ValueError, match="ticks"):
        instructions_from_ticks(-1, 25_000_000)
    with pytest.raises(ValueError, match="timer_hz"):
        instructions_from_ticks(1, 0)
    with pytest.raises(ValueError, match="shift"):
        instructions_from_ticks(1, 25_000_000, 11)


def test_qemu_command_line():
    command = qemu_command("mps2-an386", "cortex-m4", "/fw.elf", 4567)
    assert command[0] == "qemu-system-arm"
    assert command[command.index("-machine") + 1] == "mps2-an386"
    assert command[command.index("-cpu") + 1] == "cortex-m4"
    assert command[command.index("-icount") + 1] == f"shift={ICOUNT_SHIFT},align=off,sleep=off"
    assert command[command.index("-serial") + 1] == "tcp:127.0.0.1:4567,server=on,wait=on,nodelay=on"
    assert command[command.index("-kernel") + 1] == "/fw.elf"
    with pytest.raises(DeployError, match="icount shift"):
        qemu_command("mps2-an386", "cortex-m4", "/fw.elf", 4567, icount_shift=12)


def test_cpu_comes_from_the_recipe_flags():
    assert cpu_from_flags(["-mcpu=cortex-m55", "-mthumb"]) == "cortex-m55"
    assert cpu_from_flags(["-mcpu=cortex-m33+nodsp"]) == "cortex-m33"
    with pytest.raises(DeployError, match="-mcpu"):
        cpu_from_flags(["-mthumb"])


# ---------------------------------------------------------------- start-up failures


def test_missing_qemu_binary_is_a_clear_error(stub_firmware):
    firmware = stub_firmware("mps2-an386")
    with pytest.raises(DeployError, match="'qemu-system-nonexistent' is not on PATH; install it"):
        start_qemu(firmware.elf_path, "mps2-an386", "cortex-m4", qemu_binary="qemu-system-nonexistent")


def test_missing_firmware_is_a_clear_error(tmp_path):
    with pytest.raises(DeployError, match="does not exist; build the firmware first"):
        start_qemu(tmp_path / "nothing.elf", "mps2-an386", "cortex-m4")


def test_qemu_startup_failure_shows_command_exit_code_and_output(stub_firmware):
    elf = stub_firmware("mps2-an386").elf_path
    with pytest.raises(DeployError) as caught:
        start_qemu(elf, "mps2-an999", "cortex-m4", boot_timeout_s=20)
    message = str(caught.value)
    assert message.startswith("QEMU (mps2-an999) exited during")
    assert "QEMU exit code: 1" in message
    assert f"-machine mps2-an999 -cpu cortex-m4" in message  # the command line
    assert "unsupported machine type" in message.split("QEMU output (last lines):")[1]  # QEMU's own words


def test_garbage_firmware_is_reported_with_qemus_output(tmp_path):
    not_an_elf = tmp_path / "garbage.elf"
    not_an_elf.write_bytes(b"\x7fELF this is not a real ELF file" * 4)
    with pytest.raises(DeployError) as caught:
        start_qemu(not_an_elf, "mps2-an386", "cortex-m4", boot_timeout_s=5)
    message = str(caught.value)
    assert "QEMU (mps2-an386)" in message or "no 'm-ready'" in message
    assert f"-kernel {not_an_elf}" in message
    assert "QEMU output (last lines):" in message


def test_wrong_machine_reports_the_crash(stub_firmware):
    # The AN505 image on the AN386 machine: no vector table where the M4 looks, so QEMU aborts.
    firmware = stub_firmware("mps2-an505")
    with pytest.raises(DeployError) as caught:
        start_qemu(firmware.elf_path, "mps2-an386", "cortex-m4", boot_timeout_s=20)
    message = str(caught.value)
    assert message.startswith("QEMU (mps2-an386) exited during boot")
    assert "QEMU was killed by signal 6" in message
    assert "Lockup" in message  # QEMU's own diagnosis is quoted


def test_silent_firmware_times_out_waiting_for_ready(tmp_path):
    recipe = load_recipe("mps2-an386")
    elf = tmp_path / "silent.elf"
    subprocess.run(
        [recipe.compiler, *recipe.cpu_flags, "-nostdlib", *[f for f in recipe.ldflags if f.startswith("-Wl,--defsym")],
         f"-T{recipe.linker_script}", str(FIXTURES / "silent_firmware.c"), "-o", str(elf)],
        check=True,
    )
    started = time.monotonic()
    with pytest.raises(DeployError) as caught:
        start_qemu(elf, "mps2-an386", "cortex-m4", boot_timeout_s=2)
    assert 2 <= time.monotonic() - started < 15
    message = str(caught.value)
    assert message.startswith("no 'm-ready' from the firmware within 2 s of starting QEMU")
    assert "QEMU is still running (it will be stopped)" in message


# ---------------------------------------------------------------- every target, end to end


@pytest.mark.parametrize("target", QEMU_TARGETS)
def test_boot_name_and_profile(target, stub_firmware):
    firmware = stub_firmware(target)
    with start_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint) as dut:
        assert endpoint.url.startswith("socket://127.0.0.1:")
        assert (endpoint.mode, endpoint.latency_source) == ("emulated", "icount")
        assert endpoint.boot_lines[-1] == "m-ready"
        assert dut.name() == f"dut-[{target}]"
        profile = dut.profile()
        assert profile.model == "stub40"
        assert (profile.timer_name, profile.timer_hz) == EXPECTED_TIMER[target]
        assert profile.raw_output and profile.cycles and profile.bulk_crc


@pytest.mark.parametrize("target", QEMU_TARGETS)
def test_outputs_and_instruction_count_repeat_across_runs(target, stub_firmware):
    firmware = stub_firmware(target)
    data = bytes((7 * i - 60) & 0xFF for i in range(40))
    counts = []
    for _run in range(2):
        with start_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint) as dut:
            dut.load_input(data)
            result = dut.infer(n=3, warmup=1)
            assert dut.raw_output() == expected_raw_output(data)
            counts.append([endpoint.instructions_from_ticks(t, result.timer_hz) for t in result.ticks])
    assert counts[0] == counts[1]
    assert len(set(counts[0])) == 1, f"instruction counts differ within one run: {counts[0]}"
    assert counts[0][0] > 50  # a real inference, not an empty measurement


@pytest.mark.parametrize("target", QEMU_TARGETS)
def test_spin_count_is_exact(target, spin_firmware):
    """The spin model runs 2 instructions per spin: the difference between two spin counts is
    known exactly, which checks the timer frequency, the icount shift and the conversion."""
    firmware = spin_firmware(target)
    with start_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint) as dut:
        measured = {}
        for spins in (1_000, 101_000, 1_000_003):
            dut.load_input(struct.pack("<I", spins))
            ticks = dut.infer(n=2, warmup=0).ticks
            measured[spins] = [endpoint.instructions_from_ticks(t, EXPECTED_TIMER_HZ[target]) for t in ticks]
            assert dut.raw_output() == struct.pack("<I", spins)
    assert measured[1_000][0] == measured[1_000][1]
    assert measured[101_000][0] - measured[1_000][0] == INSTRUCTIONS_PER_SPIN * 100_000
    assert measured[1_000_003][0] - measured[1_000][0] == INSTRUCTIONS_PER_SPIN * 999_003


# ---------------------------------------------------------------- no emulator left behind


def test_emulator_killed_mid_inference_is_reported_and_reaped(spin_firmware):
    firmware = spin_firmware("mps2-an386")
    endpoint = start_firmware(firmware)
    pid = endpoint.process.pid
    try:
        with DutSession.from_endpoint(endpoint, inference_timeout=60) as dut:
            dut.load_input(struct.pack("<I", 2_000_000_000))  # about 4e9 instructions: many seconds
            # The emulator dies under the running inference, as if it crashed.
            killer = threading.Timer(1.0, os.kill, (pid, signal.SIGKILL))
            killer.start()
            started = time.monotonic()
            with pytest.raises(DutError) as session_error:
                dut.infer(n=1, warmup=0)
            killer.join()
            assert time.monotonic() - started < 30, "the session did not notice the closed line"
        assert "the DUT closed the line" in str(session_error.value)
        with pytest.raises(DeployError) as caught:
            endpoint.check_alive()
        assert "QEMU was killed by signal 9" in str(caught.value)
        assert "-machine mps2-an386" in str(caught.value)
    finally:
        endpoint.close()
    assert _gone(pid)
    assert endpoint.process not in procs.live_processes()


def test_close_stops_qemu_and_is_idempotent(stub_firmware):
    endpoint = start_firmware(stub_firmware("mps2-an386"))
    pid = endpoint.process.pid
    endpoint.close()
    endpoint.close()
    assert _gone(pid)


_CHILD_SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    # Ctrl-C must raise KeyboardInterrupt even when the test run was started in the background,
    # whose shell starts its children with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from hilbench.deploy.qemu import start_qemu
    endpoint = start_qemu(sys.argv[1], "mps2-an386", "cortex-m4")
    print(endpoint.process.pid, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_qemu_dies_with_the_python_process(how, stub_firmware):
    """SIGTERM runs the reaping handler, Ctrl-C unwinds to atexit, SIGKILL leaves it to the
    kernel's parent-death signal: in every case QEMU goes too."""
    elf = stub_firmware("mps2-an386").elf_path
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD_SCRIPT, str(elf)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        qemu_pid = int(child.stdout.readline())
        assert not _gone(qemu_pid)
        child.send_signal(getattr(signal, how))
        child.wait(timeout=20)
        deadline = time.monotonic() + 10
        while not _gone(qemu_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(qemu_pid), f"QEMU (pid {qemu_pid}) outlived its parent after {how}"
    finally:
        child.kill()
        child.wait()
