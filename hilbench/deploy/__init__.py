"""The deploy stage: put firmware where it runs and hand back an Endpoint to talk to it.

Every backend (host process, QEMU, a flashed board) returns the same Endpoint: a pyserial URL for
the session stage, the honesty labels of what runs behind it, and close(), which stops whatever
the backend started. close() is idempotent and also runs when the Endpoint is garbage-collected
or the interpreter exits, so a failing test never leaves an emulator or DUT process behind.
"""

from __future__ import annotations

import subprocess
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hilbench.deploy import procs
from hilbench.errors import DeployError
from hilbench.record.schema import LATENCY_SOURCES, MODES


def _release(process: subprocess.Popen | None, cleanups: list[Callable[[], None]]) -> None:
    """Stops the endpoint's process (its whole group, then forgets it) and runs its cleanups."""
    if process is not None:
        procs.terminate(process)
    while cleanups:
        cleanup = cleanups.pop()
        try:
            cleanup()
        except OSError:
            pass


@dataclass(eq=False)
class Endpoint:
    """A running DUT reachable over serial.

    url: a pyserial URL or device path (e.g. /dev/pts/5, socket://localhost:4000, /dev/ttyACM0).
    mode: hardware | emulated | host.  latency_source: device-timer | icount | host-clock.
    process: the backend's process (host firmware, emulator), if it started one; started with
    procs.spawn, so close() stops its whole process group.
    boot_lines: the boot banner, when the backend read it while checking that the DUT started.
    cleanups: callables run by close() after the process is stopped (close fds, remove files).
    host_file_dir: the folder where the DUT's host-file channel reads its inputs and writes its
    outputs (an emulated twin's semihosting, docs/protocol.md 'hb file'); None when it has no
    such channel and all data travels over the serial line.
    """

    url: str
    mode: str
    latency_source: str
    process: subprocess.Popen | None = None
    command: tuple[str, ...] = ()
    description: str = ""
    log_path: Path | None = None
    boot_lines: list[str] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    host_file_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DeployError(f"endpoint mode '{self.mode}' is not one of {', '.join(MODES)}")
        if self.latency_source not in LATENCY_SOURCES:
            raise DeployError(
                f"endpoint latency_source '{self.latency_source}' is not one of {', '.join(LATENCY_SOURCES)}"
            )
        # The finalizer holds the process and cleanup list, not self, so self can be collected.
        self._finalizer = weakref.finalize(self, _release, self.process, self.cleanups)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def is_alive(self) -> bool:
        """True while the backend's process runs (always True for an endpoint without one)."""
        return self.process is None or self.process.poll() is None

    def log_tail(self, max_chars: int = 2000) -> str:
        """The end of the backend's log (e.g. the DUT process's stderr), for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-max_chars:]

    def close(self) -> None:
        """Stops the backend's process and releases its resources. Safe to call twice."""
        self._finalizer()

    def __enter__(self) -> "Endpoint":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
