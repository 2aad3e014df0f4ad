"""A faulty serial line between a session and a twin: a TCP proxy in front of a socket:// UART.

The session connects to ``proxy.url``; the proxy connects to the twin and relays bytes both
ways, damaging the DUT's replies on the way back:

- ``flip_rate``: each bit of a reply line whose text starts with one of ``flip_prefixes``
  (all lines when empty) is flipped with this probability (seeded, so a case repeats);
- ``digit_rate``: such a line, with this probability, gets one of its digits changed into
  another digit: damage that leaves a well-formed number;
- ``cut_on``: when the host sends the ``cut_after``-th command starting with this text, the
  proxy relays it and closes both connections as soon as the reply has begun;
- ``stall_on``: from the ``stall_after``-th such command on, replies are swallowed and the
  line stays open but silent.

Counters (``flipped_bits``, ``damaged_lines``, ``cut``, ``stalled``) show what it did, so a
test can prove that its fault happened.
"""

from __future__ import annotations

import random
import select
import socket
import threading
from urllib.parse import urlsplit


class FaultProxy:
    def __init__(self, upstream_url: str, *, flip_rate: float = 0.0, flip_prefixes: tuple[str, ...] = (),
                 digit_rate: float = 0.0, seed: int = 0, cut_on: str | None = None, cut_after: int = 1,
                 stall_on: str | None = None, stall_after: int = 1):
        parts = urlsplit(upstream_url)
        self._upstream_address = (parts.hostname, parts.port)
        self.flip_rate, self.flip_prefixes = flip_rate, tuple(p.encode() for p in flip_prefixes)
        self.digit_rate = digit_rate
        self._random = random.Random(seed)
        self.cut_on, self.cut_after = cut_on, cut_after
        self.stall_on, self.stall_after = stall_on, stall_after
        self.flipped_bits = self.damaged_lines = 0
        self.cut = self.stalled = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ------------------------------------------------------------------ relaying

    def _serve(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._listener], [], [], 0.05)
            if readable:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._upstream_address)
                try:
                    self._relay(client, upstream)
                finally:
                    client.close()
                    upstream.close()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        command, reply_line = b"", b""
        counts: dict[str, int] = {}
        cut_armed = False
        while not self._stop.is_set() and not self.cut:
            readable, _, _ = select.select([client, upstream], [], [], 0.05)
            if client in readable:
                data = client.recv(65536)
                if not data:
                    return
                upstream.sendall(data)
                for byte in data:
                    if byte != ord("%"):
                        command += bytes([byte])
                        continue
                    text, command = command.decode(errors="replace").strip(), b""
                    for prefix, after in ((self.cut_on, self.cut_after), (self.stall_on, self.stall_after)):
                        if prefix and text.startswith(prefix):
                            counts[prefix] = counts.get(prefix, 0) + 1
                            if counts[prefix] >= after:
                                if prefix == self.cut_on and counts[prefix] == after:
                                    cut_armed = True
                                if prefix == self.stall_on:
                                    self.stalled = True
            if upstream in readable:
                data = upstream.recv(65536)
                if not data:
                    return
                if cut_armed:
                    client.sendall(data[: max(1, len(data) // 2)])
                    self.cut = True
                    return
                if self.stalled:
                    continue
                reply_line += data
                *lines, reply_line = reply_line.split(b"\n")
                out = b"".join(self._damage(line + b"\n") for line in lines)
                if out:
                    client.sendall(out)

    def _damage(self, line: bytes) -> bytes:
        if self.flip_prefixes and not line.startswith(self.flip_prefixes):
            return line
        damaged = bytearray(line)
        for index in range(len(damaged)):
            for bit in range(8):
                if self.flip_rate and self._random.random() < self.flip_rate:
                    damaged[index] ^= 1 << bit
                    self.flipped_bits += 1
        digits = [i for i, value in enumerate(damaged) if 0x30 <= value <= 0x39]
        if self.digit_rate and digits and self._random.random() < self.digit_rate:
            index = self._random.choice(digits)
            damaged[index] = 0x30 + (damaged[index] - 0x30 + self._random.randrange(1, 10)) % 10
            self.flipped_bits += 1
        if damaged != line:
            self.damaged_lines += 1
        return bytes(damaged)
