"""Test-only firmware pieces for the emulated-twin tests (QEMU, Renode)."""

import pytest

from hilbench.deploy import procs


@pytest.fixture(autouse=True)
def no_emulator_left_behind():
    """Import into a test module: each of its tests must stop every emulator it started."""
    yield
    left = procs.live_processes()
    procs.reap_all()
    assert not left, f"test left emulator processes running: {[p.args for p in left]}"

# The QEMU machines with a firmware target folder of the same name.
QEMU_TARGETS = ["mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547"]

# The time base of each target and its clock in QEMU 7.2 (mps2.c SYSCLK_FRQ, mps2-tz.c
# sysclk_frq); test_qemu.py::test_spin_count_is_exact checks them against QEMU's instruction clock.
EXPECTED_TIMER = {
    "mps2-an385": ("cmsdk-timer", 25_000_000),
    "mps2-an386": ("cmsdk-timer", 25_000_000),
    "mps2-an500": ("cmsdk-timer", 25_000_000),
    "mps2-an505": ("cmsdk-timer", 20_000_000),
    "mps3-an547": ("systick", 32_000_000),
}
EXPECTED_TIMER_HZ = {target: hz for target, (_name, hz) in EXPECTED_TIMER.items()}
