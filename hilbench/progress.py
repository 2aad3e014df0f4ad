"""Progress of one board x model while it runs, and the host time each phase took.

The pipeline and the procedure report phases (build, flash or boot, vectors, reference,
timing, energy) and finished vectors to a :class:`Phases`; it keeps the host-clock seconds of
each phase for the figures and, when the front end asked for it, shows them on the terminal
with tqdm (:class:`TerminalProgress`): one line per board x model with the phase, vectors done
of total, rate and ETA. Front ends decide whether to show anything (:func:`wants_progress`):
never when the output is not a terminal, under CI, or when the user asked for quiet.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import IO, Iterator, Protocol

# Environment variables that CI services set; progress lines would only clutter their logs.
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILDKITE", "TF_BUILD")


def wants_progress(stream: IO | None, quiet: bool = False) -> bool:
    """Show progress on ``stream``: only on a terminal, not under CI, not when quiet."""
    if quiet or stream is None or any(os.environ.get(name) for name in CI_VARIABLES):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class ProgressSink(Protocol):
    """Where progress goes: a terminal display, or a test's recorder."""

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, count: int) -> None: ...


class Phases:
    """The current phase of one board x model, its finished vectors, and the host-clock
    seconds of every phase so far (``seconds``). ``advance`` may be called from any thread."""

    def __init__(self, sink: ProgressSink | None = None):
        self.sink = sink
        self.seconds: dict[str, float] = {}
        self._current: str | None = None
        self._started = 0.0
        self._lock = threading.Lock()

    def start(self, name: str, total: int | None = None) -> None:
        """A new phase begins (the previous one ends); ``total``: the vectors it will run."""
        self.stop()
        self._current, self._started = name, time.perf_counter()
        if self.sink is not None:
            self.sink.phase(name, total)

    def advance(self, count: int = 1) -> None:
        """``count`` more vectors of the current phase are done."""
        if self.sink is not None:
            with self._lock:
                self.sink.advance(count)

    def stop(self) -> None:
        """The current phase ends; its seconds are added to ``seconds``."""
        if self._current is not None:
            self.seconds[self._current] = self.seconds.get(self._current, 0.0) + time.perf_counter() - self._started
            self._current = None


class TerminalProgress:
    """One tqdm line for one board x model on ``stream`` (a terminal), cleared on close()."""

    def __init__(self, label: str, stream: IO):
        from tqdm import tqdm

        self.label = label
        self._bar = tqdm(total=None, file=stream, leave=False, dynamic_ncols=True, mininterval=0.1,
                         unit=" vectors", bar_format=self._format(None), desc=label)

    @staticmethod
    def _format(total: int | None) -> str:
        if total is None:
            return "{desc} [{elapsed}]"
        return "{desc}: {n_fmt}/{total_fmt} {bar:20} [{elapsed}<{remaining}, {rate_fmt}]"

    def phase(self, name: str, total: int | None) -> None:
        self._bar.bar_format = self._format(total)
        self._bar.set_description_str(f"{self.label} {name}", refresh=False)
        self._bar.reset(total=total)

    def advance(self, count: int) -> None:
        self._bar.update(count)

    def close(self) -> None:
        self._bar.close()


@contextlib.contextmanager
def progress_on(stream: IO | None, label: str) -> Iterator[Phases]:
    """Phases for a command-line front end: shown on ``stream`` when :func:`wants_progress`
    says so, and cleared at the end."""
    line = TerminalProgress(label, stream) if wants_progress(stream) else None
    try:
        yield Phases(line)
    finally:
        if line is not None:
            line.close()
