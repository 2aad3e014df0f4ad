"""The results store: one folder per run under results/runs/<run_id>/.

Layout of a run folder::

    results.csv                  one row per (board, model, runtime, mode), RESULT_COLUMNS
    provenance.json              code version, host, command line, lab file, per-board firmware
    raw/<board>__<model>.npz     per-inference raw data (timings, cycles, outputs ...)
    figures/<board>__<model>.json  every figure of a row beyond the result columns
    serial/<board>__<model>.log  the serial exchange, one timestamped line per message

Every file is replaced atomically after each change, so a crash or Ctrl-C keeps every row
that was finished and never leaves a half-written file (a SIGKILL can leave a hidden
``.name.tmp-*`` file, which readers ignore).

Several processes may write one run folder (``pytest -n N``: one worker per board, see
:meth:`RunRecorder.attach`): results.csv and provenance.json are read, changed and replaced
under a lock on the folder, so no row is lost or written twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from hilbench.record.atomic import (
    atomic_write_bytes,
    atomic_write_text,
    fsync_directory,
    is_temporary,
)
from hilbench.record.provenance import collect_provenance, utc_now_iso
from hilbench.record.rows import ResultsError, Row, read_results_csv, rows_to_csv, validate_row
from hilbench.record.schema import SCHEMA_VERSION

RESULTS_CSV = "results.csv"
PROVENANCE_JSON = "provenance.json"
RUNS_FOLDER = "runs"
RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$")
# Names of boards and models become file names: keep them to a portable alphabet.
_UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def default_results_root() -> Path:
    """The results/ folder: $HILBENCH_RESULTS, else ./results in the working directory."""
    return Path(os.environ.get("HILBENCH_RESULTS", "results"))


def add_results_dir_argument(parser) -> None:
    """The ``--results-dir`` option of every command that reads or writes run folders."""
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="results folder (default: $HILBENCH_RESULTS or ./results)")


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by start time: ``20261126T183947.123Z-3fa9c1`` (UTC + random)."""
    now = now or datetime.now(timezone.utc)
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.")
    return f"{stamp}{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def safe_filename(name: str) -> str:
    """``name`` with characters outside [A-Za-z0-9._-] replaced, for raw/ and serial/ files."""
    cleaned = _UNSAFE_FILENAME_CHARACTERS.sub("_", name).strip("._")
    return cleaned or "unnamed"


def check_unique_names(kind: str, named: Iterable[tuple[str, str]]) -> None:
    """Refuse two things of one kind that a run folder could not tell apart.

    ``named`` holds (name, what it stands for), e.g. (model name, .tflite path). Rows are told
    apart by their names, and raw/, figures/ and serial/ files by safe_filename(name): two
    different things with the same name, or with names that differ only in characters the
    file names replace ('x_1' and 'x 1'), would share rows or overwrite each other's files.
    """
    seen: dict[str, tuple[str, str]] = {}
    for name, source in named:
        key = safe_filename(name)
        other = seen.setdefault(key, (name, source))
        if other == (name, source):
            continue
        if other[0] == name:
            raise ResultsError(
                f"two {kind}s go by the name '{name}' in one run ({other[1]} and {source}): their "
                f"rows and raw/, figures/ and serial/ files would be mixed up; rename one or run "
                "them separately")
        raise ResultsError(
            f"{kind}s '{other[0]}' and '{name}' would share the file name '{key}' in the run "
            f"folder (raw/, figures/, serial/); rename one")


class RunRecorder:
    """Writes one run folder while a benchmark runs. Create it with ``RunRecorder.start``."""

    def __init__(self, run_dir: Path, provenance: dict):
        self.run_dir = Path(run_dir)
        self.run_id = provenance["run_id"]
        self.provenance = provenance
        self._rows: list[Row] = []

    @classmethod
    def start(cls, results_root: Path | None = None, *, run_id: str | None = None,
              command_line: Sequence[str] | None = None,
              lab_file: Path | None = None) -> RunRecorder:
        """Create results_root/runs/<run_id>/ and write its provenance.json.

        ``command_line`` defaults to sys.argv; ``lab_file`` (hilbench.yaml or --lab) is
        copied into provenance.json verbatim.
        """
        run_id = run_id or new_run_id()
        if not RUN_ID_PATTERN.match(run_id):
            raise ResultsError(f"run id {run_id!r} does not look like "
                               "20261126T183947.123Z-3fa9c1; let new_run_id() make it")
        run_dir = Path(results_root or default_results_root()) / RUNS_FOLDER / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        recorder = cls(run_dir, collect_provenance(run_id, command_line, lab_file))
        recorder._write_provenance()
        atomic_write_text(run_dir / RESULTS_CSV, rows_to_csv([]))
        fsync_directory(run_dir.parent)
        return recorder

    @classmethod
    def attach(cls, run_dir: Path) -> RunRecorder:
        """Write into a run folder that another process started (a pytest-xdist worker writing
        into its controller's run). Rows and board facts are added to what is on disk."""
        run_dir = Path(run_dir)
        try:
            provenance = json.loads((run_dir / PROVENANCE_JSON).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ResultsError(f"{run_dir} is not a run folder to write into ({error})") from None
        return cls(run_dir, provenance)

    @contextlib.contextmanager
    def _locked(self):
        """Hold the run folder's lock (a flock on the folder itself, so no file is left behind):
        one process at a time reads, changes and replaces files."""
        descriptor = os.open(self.run_dir, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)   # closing drops the lock

    @property
    def rows(self) -> list[Row]:
        """The rows this recorder added so far (copies)."""
        return [dict(row) for row in self._rows]

    def record_board(self, board: str, **facts: object) -> None:
        """Add facts about one board to provenance.json.

        Expected keys: ``mode``, ``firmware_sha256`` (see provenance.file_sha256),
        ``toolchain`` (see provenance.toolchain_version), ``board_serial``, ``clock_hz``,
        ``port``; any other JSON-serialisable fact is kept as well.
        """
        with self._locked():
            on_disk = json.loads((self.run_dir / PROVENANCE_JSON).read_text(encoding="utf-8"))
            on_disk["boards"].setdefault(board, {}).update(facts)
            self.provenance["boards"] = on_disk["boards"]
            self._write_provenance()

    def append_row(self, row: Mapping[str, object]) -> Row:
        """Validate a finished measurement's row and add it to results.csv atomically.

        run_id, schema_version, git_sha, hilbench_version and timestamp are filled in from
        the run when the row does not carry them. Returns the stored row.
        """
        completed = {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "timestamp": utc_now_iso(),
            "git_sha": self.provenance["git_sha"],
            "hilbench_version": self.provenance["hilbench_version"],
        }
        completed.update({k: v for k, v in row.items() if v is not None and v != ""})
        if completed["run_id"] != self.run_id or completed["schema_version"] != SCHEMA_VERSION:
            raise ResultsError(f"row for run {completed['run_id']} (schema_version "
                               f"{completed['schema_version']}) cannot be added to run "
                               f"{self.run_id} (schema_version {SCHEMA_VERSION})")
        clean = validate_row(completed, f"row for run {self.run_id}")
        with self._locked():   # other processes (xdist workers) may have added rows: keep theirs
            stored = read_results_csv(self.run_dir / RESULTS_CSV)
            self._check_new_row(clean, stored)
            atomic_write_text(self.run_dir / RESULTS_CSV, rows_to_csv(stored + [clean]))
        self._rows.append(clean)
        return dict(clean)

    def _check_new_row(self, row: Row, stored: list[Row]) -> None:
        """A row must not share its identity, or its files' names, with an earlier one of the
        run (``stored``: every row in results.csv, whichever process wrote it)."""
        identity = [str(row[key]) for key in ("board", "model", "runtime", "mode")]
        for earlier in stored:
            if [str(earlier[key]) for key in ("board", "model", "runtime", "mode")] == identity:
                raise ResultsError(f"run {self.run_id} already has a row for board '{identity[0]}', "
                                   f"model '{identity[1]}', runtime '{identity[2]}', mode '{identity[3]}'; "
                                   "a second one would overwrite its files")
        for kind, key in (("board", "board"), ("model", "model")):
            check_unique_names(kind, [(str(r[key]), str(r[key])) for r in (*stored, row)])

    def write_raw(self, board: str, model: str, arrays: Mapping[str, np.ndarray], *,
                  runtime: str = "", mode: str = "") -> Path:
        """Store per-inference raw data as raw/<board>__<model>.npz (atomically).

        Give ``runtime`` and/or ``mode`` when one run measures the same board and model more
        than once (they are appended: <board>__<model>__<runtime>__<mode>.npz). Typical
        arrays: ``latency_ms`` (per inference), ``cycles``, ``outputs`` (raw output tensors),
        ``window`` (window index per inference), ``energy_uj``.
        """
        if not arrays:
            raise ResultsError(f"write_raw({board!r}, {model!r}) got no arrays to store")
        buffer = io.BytesIO()
        np.savez(buffer, **{name: np.asarray(values) for name, values in arrays.items()})
        path = self._row_file("raw", ".npz", board, model, runtime, mode)
        atomic_write_bytes(path, buffer.getvalue())
        return path

    def write_figures(self, board: str, model: str, figures: Mapping[str, object], *,
                      runtime: str = "", mode: str = "") -> Path:
        """Store a row's figures beyond the result columns (confidence interval, host round
        trip, idle power, stack ...) as figures/<board>__<model>[__<runtime>__<mode>].json."""
        path = self._row_file("figures", ".json", board, model, runtime, mode)
        atomic_write_text(path, json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n")
        return path

    def _row_file(self, folder: str, suffix: str, board: str, model: str, runtime: str,
                  mode: str) -> Path:
        directory = self.run_dir / folder
        directory.mkdir(exist_ok=True)
        name_parts = [board, model] + [part for part in (runtime, mode) if part]
        return directory / ("__".join(safe_filename(part) for part in name_parts) + suffix)

    def save_serial_log(self, board: str, lines: Iterable[str], *, model: str = "",
                        header: str = "") -> Path:
        """Store a session's serial log as serial/<board>[__<model>].log, atomically.

        ``lines`` are text lines such as ``hilbench.session.SerialLog.lines()`` gives
        ("<seconds> <direction> <text>"); saving again replaces the file with the longer log.
        """
        serial_dir = self.run_dir / "serial"
        serial_dir.mkdir(exist_ok=True)
        name = "__".join(safe_filename(part) for part in (board, model) if part)
        path = serial_dir / f"{name}.log"
        head = [f"# {line}" for line in header.splitlines()]
        atomic_write_text(path, "\n".join(head + list(lines)) + "\n")
        return path

    def _write_provenance(self) -> None:
        text = json.dumps(self.provenance, indent=2, sort_keys=True, default=str) + "\n"
        atomic_write_text(self.run_dir / PROVENANCE_JSON, text)


@dataclass(frozen=True)
class ResultSet:
    """Rows read from a run folder or a results CSV, with where they came from."""

    rows: list[Row]
    source: Path
    kind: str  # "run" (a run folder), "csv" (a run's results.csv or a leaderboard)
    provenance: dict | None = None
    run_ids: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """How messages refer to this set: 'run <id>' for one run, else its path."""
        if len(self.run_ids) == 1:
            return f"run {self.run_ids[0]}"
        return str(self.source)


def load_run(run_dir: Path) -> ResultSet:
    """Read a run folder's results.csv (schema-checked) and provenance.json."""
    run_dir = Path(run_dir)
    csv_path = run_dir / RESULTS_CSV
    if not csv_path.is_file():
        raise ResultsError(f"{run_dir} is not a run folder (no {RESULTS_CSV}); run folders "
                           f"are under results/{RUNS_FOLDER}/")
    rows = read_results_csv(csv_path)
    provenance = None
    provenance_path = run_dir / PROVENANCE_JSON
    if provenance_path.is_file():
        try:
            provenance = json.loads(provenance_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ResultsError(f"{provenance_path} is not valid JSON ({error})") from None
    run_ids = tuple(sorted({str(row["run_id"]) for row in rows})) or (run_dir.name,)
    return ResultSet(rows, run_dir, "run", provenance, run_ids)


def load_results(path: Path) -> ResultSet:
    """Read a run folder, or a results CSV (a run's results.csv or a leaderboard)."""
    path = Path(path)
    if path.is_dir():
        return load_run(path)
    if not path.exists():
        raise ResultsError(f"{path} does not exist; give a run folder (results/{RUNS_FOLDER}/"
                           "<run_id>) or a results CSV such as results/leaderboard.csv")
    rows = read_results_csv(path)
    return ResultSet(rows, path, "csv", None, tuple(sorted({str(r["run_id"]) for r in rows})))


def list_runs(results_root: Path | None = None) -> list[Path]:
    """Run folders under results_root/runs/, oldest first (run ids sort by start time)."""
    runs_dir = Path(results_root or default_results_root()) / RUNS_FOLDER
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir()
                  if p.is_dir() and not is_temporary(p) and (p / RESULTS_CSV).is_file())
