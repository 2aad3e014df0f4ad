"""``hilbench twin serve``: an emulated twin running a model, served to other tools.

:func:`serve_twin` builds the firmware for a board's twin, starts QEMU and offers its UART
as a pty and as a ``socket://`` URL (:class:`hilbench.deploy.serial_hub.SerialHub`) until
the context ends. Tools that drive MLPerf Tiny DUTs (its own runner, labgrid's serial
driver, a second hilbench) then talk to our firmware as to any board.

The command prints one ``key: value`` line per fact, then ``ready``, and serves until Ctrl-C
or SIGTERM; QEMU never outlives it (hilbench/deploy/procs.py).

A twin has no reset line, and a client killed in the middle of a command (half a ``db``
load, a binary ``hb bulk``) would leave the next client talking to firmware that waits for
the rest. So when a TCP client that wrote to the twin leaves, the hub has the twin restarted
(a new QEMU on the same firmware, booted to m-ready; the old one is stopped) and drops what
the old one still sent: each client starts on a twin as fresh as a new one. The command
prints ``restarted: qemu_pid: N`` each time.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from hilbench.boards import ResolvedBoard
from hilbench.deploy import procs
from hilbench.errors import ConfigError, DeployError
from hilbench.mlperf_tiny import PLAIN_MLPERF_DEFINE

if TYPE_CHECKING:
    from hilbench.deploy.qemu import QemuEndpoint
    from hilbench.deploy.serial_hub import SerialHub

# Build define of the firmware's plain MLPerf Tiny mode (firmware_targets/common/hb_dut.c).
PLAIN_MLPERF_DEFINES = (PLAIN_MLPERF_DEFINE,)


@dataclass(frozen=True)
class ServedTwin:
    """A running twin and where to reach it."""

    board: str
    model: str
    model_path: Path
    pty: str
    """The serial device path (a pty slave): open it as a serial port."""
    url: str
    """``socket://127.0.0.1:PORT``: one client at a time (a new one takes over)."""
    machine: str
    icount_shift: int
    realtime: bool
    plain_mlperf: bool
    qemu_pid: int | None
    """The first QEMU's; a restart starts another (``endpoint.pid``)."""
    twin: "_RestartableTwin" = field(repr=False, compare=False)
    hub: "SerialHub" = field(repr=False, compare=False)

    @property
    def endpoint(self) -> "QemuEndpoint":
        """The QEMU serving now."""
        return self.twin.endpoint

    def is_alive(self) -> bool:
        """True while QEMU runs and the hub serves its UART."""
        return self.endpoint.is_alive() and self.hub.running

    def lines(self) -> list[str]:
        """The machine-readable ``key: value`` lines the command prints."""
        return [f"board: {self.board}", f"model: {self.model}", f"model_path: {self.model_path}",
                f"machine: {self.machine}", f"icount_shift: {self.icount_shift}",
                f"realtime: {'yes' if self.realtime else 'no'}",
                f"firmware: {'plain-mlperf' if self.plain_mlperf else 'hilbench'}",
                f"qemu_pid: {self.qemu_pid}", f"pty: {self.pty}", f"url: {self.url}"]


@contextlib.contextmanager
def serve_twin(board: ResolvedBoard, model: str | Path, *, realtime: bool = False,
               plain_mlperf: bool = False, port: int = 0, opt_level: str = "O2",
               on_restart: Callable[["QemuEndpoint"], None] | None = None) -> Iterator[ServedTwin]:
    """Build, start and serve ``board``'s twin running ``model``; stop everything on exit.

    ``board`` must be resolved as emulated (``resolve_boards(..., emulate=True)``).
    ``plain_mlperf`` builds the firmware without hilbench's extensions, as third-party MLPerf
    Tiny firmware behaves. ``port`` 0 serves the URL on a free port. ``on_restart`` is told of
    each new QEMU when a client that wrote to the twin left (see the module doc).
    """
    from hilbench.bench import model_name, prepare_firmware
    from hilbench.deploy.qemu import ICOUNT_SHIFT, start_firmware
    from hilbench.deploy.serial_hub import SerialHub

    if board.mode != "emulated":
        raise ConfigError(f"board '{board.name}' runs as {board.describe()}; only an emulated "
                          "twin can be served (resolve it with emulate=True)")
    model_path, _, firmware = prepare_firmware(
        board, model, opt_level=opt_level, extra_defines=PLAIN_MLPERF_DEFINES if plain_mlperf else ())
    shift = realtime_icount_shift(board) if realtime else ICOUNT_SHIFT
    twin = _RestartableTwin(lambda: start_firmware(firmware, realtime=realtime, icount_shift=shift),
                            on_restart)
    with contextlib.ExitStack() as stack:
        stack.callback(twin.close)
        endpoint = twin.start()
        hub = stack.enter_context(SerialHub(endpoint.url, listen_port=port, restart=twin.restart))
        yield ServedTwin(board=board.name, model=model_name(model_path), model_path=model_path,
                         pty=hub.pty_path, url=hub.url, machine=endpoint.machine,
                         icount_shift=endpoint.icount_shift, realtime=realtime,
                         plain_mlperf=plain_mlperf, qemu_pid=endpoint.pid, twin=twin, hub=hub)


class _RestartableTwin:
    """The QEMU twin being served, replaced by a fresh one on :meth:`restart` (called from the
    hub's thread): the new one is up before the old one stops, so that the twin is never seen
    as stopped in between."""

    def __init__(self, start: Callable[[], "QemuEndpoint"],
                 on_restart: Callable[["QemuEndpoint"], None] | None) -> None:
        self._start = start
        self._on_restart = on_restart
        self.endpoint: "QemuEndpoint | None" = None

    def start(self) -> "QemuEndpoint":
        self.endpoint = self._start()
        return self.endpoint

    def restart(self) -> str:
        # This runs on the hub's thread, which lives as long as the served twin: QEMUs started
        # here die with the process even when it is killed (the main thread's do already).
        procs.tie_children_to_this_thread()
        old, self.endpoint = self.endpoint, self._start()
        old.close()
        if self._on_restart is not None:
            self._on_restart(self.endpoint)
        return self.endpoint.url

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()


def realtime_icount_shift(board: ResolvedBoard) -> int:
    """The -icount shift at which the paced twin runs about as fast as the board: 2^shift ns
    per instruction closest to cpi / clock. Tools that pace themselves by the wall clock
    (MLPerf Tiny's runner waits at most 5 s for each reply line, and wants its performance
    loop to last 10 s) then see the board's pace, not the 7.8 million instructions per second
    of the default shift 7. Instruction counts then have a coarser resolution (one timer tick
    can be several instructions): figures come from unpaced twins."""
    spec = board.board
    if not spec.clock_hz:
        return 7
    ns_per_instruction = 1e9 * spec.cpi / spec.clock_hz
    return max(0, min(10, round(math.log2(ns_per_instruction))))


# ---------------------------------------------------------------- the command


def add_twin_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hilbench twin serve``."""
    parser.description = (
        "Build the firmware for a board's emulated twin, start it, and serve its UART as a "
        "serial device (a pty) and a socket:// URL until Ctrl-C or SIGTERM. Prints one "
        "'key: value' line per fact (pty, url, qemu_pid, ...), then 'ready'.\n\n"
        "examples:\n"
        "  hilbench twin serve --board nucleo-l4r5zi --model kws\n"
        "  hilbench twin serve --board nucleo-l4r5zi --model kws_ref_model --realtime --port 4000\n"
        "  hilbench twin serve --board nano33 --model ad --plain-mlperf")
    from hilbench.cli import add_board_model_arguments, add_lab_arguments

    add_board_model_arguments(parser, "board whose emulated twin to serve")
    add_lab_arguments(parser, require_hardware=False, emulate=False)
    parser.add_argument("--realtime", action="store_true",
                        help="pace the twin's virtual time to the wall clock, at about the board's "
                             "speed (a 10 s window on the DUT's timer lasts 10 s), for tools that "
                             "time themselves by the wall clock")
    parser.add_argument("--plain-mlperf", action="store_true",
                        help="serve firmware without hilbench's protocol extensions, which "
                             "behaves as MLPerf Tiny's reference firmware (docs/protocol.md)")
    parser.add_argument("--port", type=int, default=0, metavar="N",
                        help="TCP port of the socket:// URL on 127.0.0.1 (default: a free one)")


def cmd_twin_serve(args: argparse.Namespace) -> int:
    """Serve the twin until Ctrl-C or SIGTERM."""
    from hilbench.boards import resolve_boards

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a TCP port (0 to 65535)")
    [board] = resolve_boards([args.board], lab=args.lab, emulate=True)
    stop = threading.Event()
    # SIGTERM ends the serve loop like Ctrl-C does, so every context below unwinds.
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with serve_twin(board, args.model, realtime=args.realtime, plain_mlperf=args.plain_mlperf,
                        port=args.port,
                        on_restart=lambda new: print(f"restarted: qemu_pid: {new.pid}", flush=True)) as twin:
            print("\n".join(twin.lines()), flush=True)
            print("ready", flush=True)
            try:
                while not stop.wait(0.2):
                    # (A SIGTERM stops QEMU before it sets stop: that is no failure.)
                    if not twin.is_alive() and not stop.is_set():
                        raise DeployError(twin.hub.failure or
                                          twin.endpoint.failure_report("the served twin stopped"))
            except KeyboardInterrupt:
                pass
        print("stopped", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0

