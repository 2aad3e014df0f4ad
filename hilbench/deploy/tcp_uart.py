"""An emulator's UART served as a TCP server on 127.0.0.1 (QEMU and Renode twins).

The backend picks a free port, starts the emulator serving the UART there, and connects once
the emulator listens, to read the boot banner. The session then reaches the same UART through
the pyserial URL ``socket://127.0.0.1:PORT``.
"""

from __future__ import annotations

import socket
import time
from typing import Callable

from hilbench.deploy import Endpoint

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (it may be taken before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def socket_url(port: int) -> str:
    """The pyserial URL of a UART served on port."""
    return f"socket://{HOST}:{port}"


def connect_when_listening(
    endpoint: Endpoint,
    port: int,
    deadline: float,
    *,
    attempt_timeout_s: float,
    retry_interval_s: float,
    exited: Callable[[], BaseException],
    timed_out: Callable[[], BaseException],
) -> socket.socket:
    """Connects to the emulator's UART server on port, retrying until it listens.

    Raises exited() when the endpoint's process stops first, timed_out() once time.monotonic()
    passes deadline; the backend builds both, with its own diagnostics.
    """
    while True:
        if not endpoint.is_alive():
            raise exited()
        try:
            return socket.create_connection((HOST, port), timeout=attempt_timeout_s)
        except OSError:
            if time.monotonic() > deadline:
                raise timed_out() from None
            time.sleep(retry_interval_s)
