"""One DUT UART offered to other tools at once as a pty and as a TCP server.

An emulator serves its UART to exactly one TCP client. Tools that want a serial *device*
(MLPerf Tiny's runner opens a path with pyserial) and tools that want a URL (``socket://``
for labgrid's NetworkSerialPort, hilbench's own session) can then not share a twin. The hub
holds that one connection and offers it twice:

- a pty: its slave path (``/dev/pts/N``) opens like any serial port;
- a TCP server on 127.0.0.1: ``socket://127.0.0.1:PORT``, one client at a time (as QEMU's
  own server: a second client is turned away while the first is connected).

Bytes from either side go to the UART. The DUT only speaks when spoken to, so its output
goes to the side that sent the last bytes: the pty never fills with replies meant for a TCP
client, which a later pty user would read as stale lines.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import threading
import tty
from dataclasses import dataclass, field

from hilbench.deploy import tcp_uart
from hilbench.errors import DeployError

_CHUNK = 4096


@dataclass
class HubStats:
    """Byte counts, for the log and the tests."""

    to_uart: int = 0
    from_uart: int = 0
    dropped: int = 0
    """UART bytes nobody could take (no client, or a pty whose reader stopped reading)."""
    refused_clients: int = 0
    notes: list[str] = field(default_factory=list)


class SerialHub:
    """Serves the UART at ``uart_url`` (``socket://host:port``) as a pty and a TCP server.

    ``listen_port`` 0 picks a free port. Use as a context manager, or call :meth:`start` and
    :meth:`close`. Raises DeployError when the UART or the listening port cannot be opened.
    """

    def __init__(self, uart_url: str, listen_port: int = 0) -> None:
        if not uart_url.startswith("socket://"):
            raise DeployError(f"the serial hub serves a socket:// UART, not {uart_url}")
        host, _, port = uart_url[len("socket://"):].rpartition(":")
        self._uart_address = (host, int(port))
        self._listen_port = listen_port
        self.stats = HubStats()
        self.pty_path = ""
        self.url = ""
        self._thread: threading.Thread | None = None
        self._fds: list[int] = []
        self._sockets: list[socket.socket] = []
        self._wake_read, self._wake_write = -1, -1

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "SerialHub":
        try:
            self._uart = socket.create_connection(self._uart_address, timeout=5.0)
        except OSError as exc:
            raise DeployError(f"the serial hub cannot connect to the UART at "
                              f"{self._uart_address[0]}:{self._uart_address[1]}: {exc}") from exc
        self._uart.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sockets.append(self._uart)
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sockets.append(self._server)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._server.bind((tcp_uart.HOST, self._listen_port))
        except OSError as exc:
            self.close()
            raise DeployError(f"cannot serve the twin on {tcp_uart.HOST}:{self._listen_port}: "
                              f"{exc}; choose another port") from exc
        self._server.listen(1)
        self.url = tcp_uart.socket_url(self._server.getsockname()[1])
        self._master, self._slave = os.openpty()
        self._fds += [self._master, self._slave]
        # Raw and without echo, as a UART: nothing is translated or echoed back to the DUT.
        # The hub keeps the slave open so that the pty does not hang up between users.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.pty_path = os.ttyname(self._slave)
        self._wake_read, self._wake_write = os.pipe()
        self._fds += [self._wake_read, self._wake_write]
        self._thread = threading.Thread(target=self._serve, name=f"serial-hub {self.url}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stops serving and closes the pty, the server and the UART connection (idempotent)."""
        if self._thread is not None:
            os.write(self._wake_write, b"x")
            self._thread.join(timeout=5.0)
            self._thread = None
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()

    def __enter__(self) -> "SerialHub":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---------------------------------------------------------------- the loop

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        selector.register(self._uart, selectors.EVENT_READ, "uart")
        selector.register(self._server, selectors.EVENT_READ, "accept")
        selector.register(self._master, selectors.EVENT_READ, "pty")
        client: socket.socket | None = None
        talker = "pty"  # who gets the DUT's output: the side that wrote last
        try:
            while True:
                for key, _ in selector.select():
                    what = key.data
                    if what == "wake":
                        return
                    if what == "accept":
                        incoming, _ = self._server.accept()
                        if client is not None:
                            self.stats.refused_clients += 1
                            incoming.close()
                            continue
                        client = incoming
                        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        selector.register(client, selectors.EVENT_READ, "client")
                    elif what == "client":
                        data = _recv(client)
                        if not data:
                            selector.unregister(client)
                            client.close()
                            client = None
                            continue
                        talker = "client"
                        self._to_uart(data)
                    elif what == "pty":
                        data = _read_pty(self._master)
                        if data:
                            talker = "pty"
                            self._to_uart(data)
                    elif what == "uart":
                        data = _recv(self._uart)
                        if not data:
                            self.stats.notes.append("the UART closed (the emulator stopped)")
                            return
                        self.stats.from_uart += len(data)
                        if talker == "client" and client is not None:
                            try:
                                client.sendall(data)
                            except OSError:
                                self.stats.dropped += len(data)
                        else:
                            self._to_pty(data)
        finally:
            if client is not None:
                client.close()
            selector.close()

    def _to_uart(self, data: bytes) -> None:
        self.stats.to_uart += len(data)
        self._uart.sendall(data)

    def _to_pty(self, data: bytes) -> None:
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        self.stats.dropped += len(data) - written


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(_CHUNK)
    except (ConnectionResetError, OSError):
        return b""


def _read_pty(master: int) -> bytes:
    try:
        return os.read(master, _CHUNK)
    except BlockingIOError:
        return b""
    except OSError as exc:
        if exc.errno == errno.EIO:  # no slave open: cannot happen while the hub holds one
            return b""
        raise
