"""The serial log: every line sent and received, with timestamps, for the record stage to save."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

SENT = ">"
RECEIVED = "<"
NOTE = "#"


@dataclass(frozen=True)
class LogEntry:
    """One line on the serial line. seconds: since the log started (monotonic clock)."""

    seconds: float
    direction: str  # ">" sent to the DUT, "<" received from it, "#" a note by the session
    text: str

    def format(self) -> str:
        return f"{self.seconds:10.6f} {self.direction} {self.text}"


@dataclass
class SerialLog:
    """An append-only list of LogEntry with a wall-clock start time."""

    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    entries: list[LogEntry] = field(default_factory=list)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def add(self, direction: str, text: str) -> None:
        self.entries.append(LogEntry(time.monotonic() - self._t0, direction, text))

    def lines(self) -> list[str]:
        """The log as text lines: '<seconds> <direction> <text>'."""
        return [entry.format() for entry in self.entries]

    def tail(self, count: int = 10, direction: str = RECEIVED) -> list[str]:
        """The last count texts in one direction (for error messages)."""
        return [e.text for e in self.entries if e.direction == direction][-count:]

    def write(self, path: Path | str) -> Path:
        """Saves the log as a text file with a header line; returns the path."""
        path = Path(path)
        path.write_text(f"# serial log started {self.started_at}\n" + "\n".join(self.lines()) + "\n")
        return path
