"""One DUT UART offered to other tools at once as a pty and as a TCP server.

An emulator serves its UART to exactly one TCP client. Tools that want a serial *device*
(MLPerf Tiny's runner opens a path with pyserial) and tools that want a URL (``socket://``
for labgrid's NetworkSerialPort, hilbench's own session) can then not share a twin. The hub
holds that one connection and offers it twice:

- a pty: its slave path (``/dev/pts/N``) opens like any serial port;
- a TCP server on 127.0.0.1: ``socket://127.0.0.1:PORT``, one client at a time: a new
  client takes the line over from the previous one, which is disconnected. (Turning the
  newcomer away instead would fail a tool that reconnects at once after a probe connection,
  such as hilbench's check that a lab URL answers, whose close the hub may not have seen
  yet.)

Bytes from either side go to the UART. The DUT only speaks when spoken to, so its output
goes to the side that sent the last bytes: the pty never fills with replies meant for a TCP
client, which a later pty user would read as stale lines; output for a TCP client that has
left is dropped.

A TCP client that wrote to the DUT and then leaves (it closes, is killed, or a newcomer takes
over) may have left the firmware anywhere: half a command in its line buffer, a `db` load or
a binary `hb bulk` load waiting for bytes that never come, an `infer` still printing. A twin
has no reset line, and the hub cannot see the firmware's state, so with a ``restart``
callback the hub restarts the DUT then (a fresh emulator, booted to m-ready), drops what the
old one still sent, and only then passes the next client's bytes on: every client that writes
starts on a DUT as fresh as a new twin. A client that wrote nothing (a probe that checks the
port answers) changes nothing.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import threading
import termios
import tty
from dataclasses import dataclass, field
from typing import Callable

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
    replaced_clients: int = 0
    restarts: int = 0
    """DUT restarts after a client that wrote to it left."""
    notes: list[str] = field(default_factory=list)


class SerialHub:
    """Serves the UART at ``uart_url`` (``socket://host:port``) as a pty and a TCP server.

    ``listen_port`` 0 picks a free port. ``restart``, when given, restarts the DUT and returns
    the new UART's URL once the DUT is ready; the hub calls it when a TCP client that wrote to
    the DUT leaves (see the module doc). Use as a context manager, or call :meth:`start` and
    :meth:`close`. Raises DeployError when the UART or the listening port cannot be opened.
    """

    def __init__(self, uart_url: str, listen_port: int = 0,
                 restart: Callable[[], str] | None = None) -> None:
        self._uart_address = _address(uart_url)
        self._listen_port = listen_port
        self._restart = restart
        self.failure = ""
        """Why the hub stopped serving, when it did not stop on request."""
        self.stats = HubStats()
        self.pty_path = ""
        self.url = ""
        self._thread: threading.Thread | None = None
        self._fds: list[int] = []
        self._sockets: list[socket.socket] = []
        self._wake_read, self._wake_write = -1, -1

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "SerialHub":
        self._uart = self._connect_uart()
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

    def _connect_uart(self) -> socket.socket:
        try:
            uart = socket.create_connection(self._uart_address, timeout=5.0)
        except OSError as exc:
            raise DeployError(f"the serial hub cannot connect to the UART at "
                              f"{self._uart_address[0]}:{self._uart_address[1]}: {exc}") from exc
        uart.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sockets.append(uart)
        return uart

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
        client_wrote = False
        talker = "pty"  # who gets the DUT's output: the side that wrote last

        def client_leaves() -> None:
            nonlocal client, client_wrote
            selector.unregister(client)
            client.close()
            client = None
            if client_wrote and self._restart is not None:
                self._restart_dut(selector)
            client_wrote = False

        try:
            while True:
                for key, _ in selector.select():
                    what = key.data
                    if what == "wake":
                        return
                    if what == "accept":
                        incoming, _ = self._server.accept()
                        if client is not None:
                            self.stats.replaced_clients += 1
                            client_leaves()
                        client = incoming
                        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        selector.register(client, selectors.EVENT_READ, "client")
                    elif what == "client":
                        if client is None or key.fileobj is not client:
                            continue  # left while this batch of events was handled
                        data = _recv(client)
                        if not data:
                            client_leaves()
                            continue
                        talker, client_wrote = "client", True
                        self._to_uart(data)
                    elif what == "pty":
                        data = _read_pty(self._master)
                        if data:
                            talker = "pty"
                            self._to_uart(data)
                    elif what == "uart":
                        if key.fileobj is not self._uart:
                            continue  # the DUT was restarted while this batch was handled
                        data = _recv(self._uart)
                        if not data:
                            self.failure = "the UART closed (the emulator stopped)"
                            self.stats.notes.append(self.failure)
                            return
                        self.stats.from_uart += len(data)
                        if talker == "client":
                            try:
                                if client is None:
                                    raise OSError("the client left")
                                client.sendall(data)
                            except OSError:
                                self.stats.dropped += len(data)  # never stale lines for the next one
                        else:
                            self._to_pty(data)
        except DeployError as exc:  # the restart failed: the served DUT is gone
            self.failure = str(exc)
            self.stats.notes.append(self.failure)
        finally:
            if client is not None:
                client.close()
            selector.close()

    def _restart_dut(self, selector: selectors.BaseSelector) -> None:
        """A fresh DUT for the next client: the old UART and all it still had to say are
        dropped, and so is what the pty holds for its reader."""
        selector.unregister(self._uart)
        self._sockets.remove(self._uart)
        self._uart.close()
        self._uart_address = _address(self._restart())
        self._uart = self._connect_uart()
        selector.register(self._uart, selectors.EVENT_READ, "uart")
        termios.tcflush(self._slave, termios.TCIOFLUSH)
        self.stats.restarts += 1
        self.stats.notes.append("restarted the DUT: a client that wrote to it left")

    def _to_uart(self, data: bytes) -> None:
        self.stats.to_uart += len(data)
        self._uart.sendall(data)

    def _to_pty(self, data: bytes) -> None:
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        self.stats.dropped += len(data) - written


def _address(uart_url: str) -> tuple[str, int]:
    if not uart_url.startswith("socket://"):
        raise DeployError(f"the serial hub serves a socket:// UART, not {uart_url}")
    host, _, port = uart_url[len("socket://"):].rpartition(":")
    return host, int(port)


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
