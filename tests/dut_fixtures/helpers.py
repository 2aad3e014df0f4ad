"""Shared helpers for the DUT tests: build the stub firmware, start peers on a pty, talk raw."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import serial

from dut_fixtures.stub_model import stub_compiled_model
from hilbench.build import Firmware, build_firmware
from hilbench.deploy import Endpoint
from hilbench.deploy.host import start_host_firmware

FIXTURES = Path(__file__).resolve().parent


def firmware_cache(tmp_path_factory) -> Path:
    """One build cache for the whole test run, so each firmware variant is compiled once."""
    return tmp_path_factory.getbasetemp() / "firmware-cache"


def build_stub(tmp_path_factory, **options) -> Firmware:
    return build_firmware("host", stub_compiled_model(), cache_dir=firmware_cache(tmp_path_factory), **options)


def start_python_peer(script: str, *args: str) -> Endpoint:
    """Starts a Python peer (tests/dut_fixtures/<script>) on a pty, like host firmware."""
    return start_host_firmware(sys.executable, args=(str(FIXTURES / script), *args))


def open_raw(url: str) -> serial.Serial:
    return serial.serial_for_url(url, baudrate=115200, timeout=0.02)


def exchange(port: serial.Serial, command: bytes | str, timeout: float = 3.0) -> list[str]:
    """Sends one command (adding '%') and returns the reply lines up to m-ready, exactly."""
    if isinstance(command, str):
        command = command.encode()
    port.write(command + b"%")
    return read_until_ready(port, timeout)


def read_until_ready(port: serial.Serial, timeout: float = 3.0) -> list[str]:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"m-ready\r\n"):
        if time.monotonic() > deadline:
            raise AssertionError(f"no m-ready within {timeout} s; got {data!r}")
        data += port.read(port.in_waiting or 1)
    text = data.decode("ascii")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), f"reply lines must end in \\r\\n: {text!r}"
    return text[:-2].split("\r\n")
