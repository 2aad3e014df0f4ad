"""A minimal line client for the DUT protocol over a pyserial URL, for the emulator tests.

It only sends a command and collects the reply lines up to m-ready; the real host side is
hilbench.session.
"""

from __future__ import annotations

import time

import serial


class UartClient:
    def __init__(self, url: str, timeout_s: float = 30.0):
        self.timeout_s = timeout_s
        self.port = serial.serial_for_url(url, timeout=0.2)

    def command(self, text: str, timeout_s: float | None = None) -> list[str]:
        """Sends text + '%' and returns the reply lines before m-ready (raises TimeoutError)."""
        self.port.write(text.encode() + b"%")
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        lines: list[str] = []
        pending = b""
        while time.monotonic() < deadline:
            pending += self.port.read(4096)
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line = raw.decode().strip()
                if line == "m-ready":
                    return lines
                if line:
                    lines.append(line)
        raise TimeoutError(f"no m-ready after {text!r}; got {lines!r}")

    def load_input(self, data: bytes, chunk: int = 32) -> None:
        self.command(f"db load {len(data)}")
        for start in range(0, len(data), chunk):
            self.command("db " + data[start:start + chunk].hex())

    def infer_ticks(self, runs: int = 1, warmup: int = 0) -> list[int]:
        """Runs 'infer runs warmup' and returns the per-inference ticks from 'hb ticks'."""
        self.command(f"infer {runs} {warmup}")
        ticks: list[int] = []
        for line in self.command("hb ticks"):
            if line.startswith("m-hb-ticks-["):
                ticks += [int(v) for v in line[len("m-hb-ticks-["):-1].split(",")]
        return ticks

    def raw_output(self) -> bytes:
        hex_text = ""
        for line in self.command("hb raw"):
            if line.startswith("m-hb-raw-[") :
                hex_text += line[len("m-hb-raw-["):-1]
        return bytes.fromhex(hex_text)

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "UartClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
