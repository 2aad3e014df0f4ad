"""The hilbench pytest plugin (entry point ``pytest11: hilbench``).

Options: ``--board`` (repeatable, comma-separated), ``--model`` (repeatable: a zoo name, a
MLPerf Tiny reference model name, or a .tflite path), ``--emulate``, ``--require-hardware``,
``--lab FILE``, ``--results-dir DIR``, ``--vectors N``, ``--twins N``, ``--energy-capture FILE``, ``--cloud``
(compare the run with cloud inference at the end, see :mod:`hilbench.cloud.run_comparison`).

Fixtures, usable in any project's tests:

``board``
    a :class:`~hilbench.boards.ResolvedBoard` (the board and how it runs: hardware,
    emulated or host). Parametrized once per ``--board`` value; a test may parametrize it
    itself with board names: ``@pytest.mark.parametrize("board", ["host"], indirect=True)``.
``tflite_model``
    the path of the model under test. Parametrized once per ``--model`` value (default: the
    reference models, see :func:`hilbench.bench.default_models`); override the fixture to
    pin a test to one model.
``dut``
    a ready :class:`hilbench.bench.Dut` for (board, tflite_model): firmware built, deployed,
    serial session open. Opened once per pair and shared by the tests that ask for it.
``hilbench_results``
    records result rows: ``hilbench_results.record(row, raw=..., figures=...)``; rows go to
    the run folder under ``--results-dir`` and into the summary table at the end of the
    session.

The reference benchmark suite (:mod:`hilbench.suite`, one test per board x model) ships in
the package: ``pytest --board=B`` adds it to the run, from any folder, beside the tests found
there, unless paths are named on the command line or ``--no-reference-suite`` is given.

Without ``--board`` the plugin is inert: it adds no tests and prints nothing.

With pytest-xdist (``pytest --board=a,b,c -n 3``) boards run side by side: all tests of one
board go to one worker (``--dist loadgroup``, one group per board), so a board is never
shared; the controller starts the run folder and every worker writes its rows into it (see
:meth:`hilbench.record.store.RunRecorder.attach`); the controller prints the one summary.
Boards on labgrid places (the lab file's ``labgrid:`` section) are checked with the
coordinator before anything is built.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import pytest

from hilbench.errors import HilbenchError
from hilbench.progress import Phases, wants_progress

if TYPE_CHECKING:  # imported lazily at run time: without --board the plugin loads nothing heavy
    from hilbench.bench import Dut
    from hilbench.boards import ResolvedBoard
    from hilbench.progress import TerminalProgress
    from hilbench.record.store import RunRecorder

_STATE = pytest.StashKey["HilbenchState"]()
REFERENCE_SUITE = Path(__file__).resolve().parent / "suite" / "test_reference_benchmark.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hilbench", "hilbench: hardware-in-the-loop TinyML benchmarks")
    group.addoption("--board", action="append", default=[], metavar="NAME",
                    help="benchmark on this board (repeatable, or comma-separated: "
                         "--board=nano33,host). Runs on the real board when it is connected, "
                         "else on its emulated twin. See 'hilbench boards'.")
    group.addoption("--model", action="append", default=[], metavar="NAME_OR_PATH",
                    help="model to benchmark (repeatable): a models_zoo/ name, an MLPerf Tiny "
                         "reference model name (e.g. kws_ref_model) or a .tflite path. "
                         "Default: every zoo model (the MLPerf Tiny int8 models when the zoo "
                         "is empty).")
    group.addoption("--emulate", action="store_true",
                    help="use the emulated twin even when a board is connected")
    group.addoption("--require-hardware", action="store_true",
                    help="fail when a board is not connected instead of using its twin")
    group.addoption("--lab", metavar="FILE",
                    help="lab file adding boards or overriding catalog fields "
                         "(default: ./hilbench.yaml when it exists)")
    group.addoption("--results-dir", metavar="DIR",
                    help="where run folders are written (default: $HILBENCH_RESULTS or ./results)")
    group.addoption("--cloud", action="store_true",
                    help="at the end of the run, compare it with cloud inference of the float "
                         "models on every network profile, as 'hilbench edge-vs-cloud RUN' does")
    group.addoption("--vectors", type=int, metavar="N",
                    help="run at most N test vectors per model, evenly spread over its set "
                         "(default: all)")
    group.addoption("--twins", type=int, metavar="N",
                    help="at most N emulated twins of one firmware share a model's accuracy "
                         "vectors (default: one per CPU core, shared among pytest-xdist workers); "
                         "timing always runs on one twin")
    group.addoption("--dataset", metavar="DIR",
                    help="test sets in MLPerf Tiny's runner layout (DIR/kws01/y_labels.csv and "
                         "input files, ...) instead of the zoo's vectors, scored as the runner "
                         "scores them; without --model, the MLPerf Tiny reference models whose "
                         "id folder (kws01, vww01, ic01, ad01) DIR holds")
    group.addoption("--kernels", choices=("auto", "portable"), default="auto",
                    help="int8 kernel set: auto = SMLAD/SXTB16 inner loops on cores with the DSP "
                         "extension, portable C elsewhere (default); portable = plain C everywhere. "
                         "Both are bit-exact with tflite-micro; the runtime column says which ran")
    group.addoption("--no-reference-suite", action="store_true",
                    help="run only the tests found here (your own, using the dut fixture), not "
                         "hilbench's reference benchmark suite, which --board adds when no paths "
                         "are named")
    group.addoption("--energy-capture", metavar="FILE",
                    help="measure energy from this JLS file, recorded by the Joulescope "
                         "software during the run (hardware boards; energy_source capture)")


@dataclass
class HilbenchState:
    """What the plugin knows during one pytest session."""

    config: pytest.Config
    boards: list[ResolvedBoard] = field(default_factory=list)   # one per --board
    models: list[Path] = field(default_factory=list)             # one per --model (or the defaults)
    rows: list[dict] = field(default_factory=list)
    recorder: RunRecorder | None = None                          # started by the first row
    duts: dict[str, OpenDut] = field(default_factory=dict)       # by board name
    board_facts: dict[str, dict] = field(default_factory=dict)   # board name -> provenance facts
    serial_logs: list[tuple] = field(default_factory=list)       # (board, model, header, lines)
    details: list[str] = field(default_factory=list)             # lines under the summary table
    cloud_summary: str = ""                                      # --cloud: table or error
    progress: ProgressLine | None = None                         # None: no progress display

    @property
    def active(self) -> bool:
        """True when --board was given: only then does the plugin add tests and output."""
        return bool(self.boards)

    def option(self, name: str) -> Any:
        return self.config.getoption(name)

    def close_dut(self, board_name: str) -> None:
        """Stop the board's DUT, keeping its serial log for the run folder."""
        current = self.duts.pop(board_name)
        if current.dut is not None:
            endpoint = current.dut.endpoint
            self.serial_logs.append((board_name, current.dut.model_name,
                                     getattr(endpoint, "description", "") or endpoint.url,
                                     current.dut.session.log.lines()))
        current.stack.close()

    def resolve(self, names: list[str]) -> list[ResolvedBoard]:
        """Resolve board names with this session's --lab, --emulate, --require-hardware."""
        from hilbench.boards import resolve_boards

        return resolve_boards(names, lab=self.option("lab"), emulate=self.option("emulate"),
                              require_hardware=self.option("require_hardware"))


def _state(config: pytest.Config) -> HilbenchState:
    state = config.stash.get(_STATE, None)
    if state is None:
        state = config.stash[_STATE] = HilbenchState(config)
    return state


def pytest_configure(config: pytest.Config) -> None:
    from hilbench.boards import split_board_names
    from hilbench.procedure import check_dataset
    from hilbench.record.store import check_unique_names

    names = split_board_names(config.getoption("board") or [])
    state = _state(config)
    if not names:
        return
    try:
        state.boards = state.resolve(names)
        dataset = config.getoption("dataset")
        state.models = _models_from_options(config.getoption("model") or [], dataset)
        check_unique_names("board", [(board.name, board.name) for board in state.boards])
        check_unique_names("model", [(_model_label(path), str(path)) for path in state.models])
        check_dataset(Path(dataset) if dataset else None, state.models)  # before any build
    except HilbenchError as error:
        raise pytest.UsageError(f"hilbench: {error}") from None
    state.progress = ProgressLine.for_session(config)
    _add_reference_suite(config)
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"   # one worker per board: xdist_group marks, below


_RUN_DIR_KEY = "hilbench_run_dir"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist controller: every worker writes its rows into this session's run folder."""
    state = _state(node.config)
    if state.active:
        node.workerinput[_RUN_DIR_KEY] = str(_recorder(state).run_dir)


def _recorder(state: HilbenchState) -> RunRecorder:
    """The run folder's recorder: started on first use, or the xdist controller's folder."""
    if state.recorder is None:
        from hilbench.record.store import RunRecorder

        shared = getattr(state.config, "workerinput", {}).get(_RUN_DIR_KEY)
        if shared:
            state.recorder = RunRecorder.attach(Path(shared))
        else:
            results_dir = state.option("results_dir")
            lab = state.option("lab")
            state.recorder = RunRecorder.start(Path(results_dir) if results_dir else None,
                                               lab_file=Path(lab) if lab else _default_lab_file())
    return state.recorder


def _is_xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no" \
        and bool(getattr(config.option, "tx", None))


def _add_reference_suite(config: pytest.Config) -> None:
    """``pytest --board=B`` runs the reference suite beside the tests found here; named paths
    run exactly what they name."""
    if config.getoption("no_reference_suite") or config.args_source is pytest.Config.ArgsSource.ARGS:
        return
    config.args.append(str(REFERENCE_SUITE))


class ProgressLine:
    """The progress of the board x model that runs now, on a line of its own below pytest's.

    pytest captures the tests' output; this line goes to the terminal through a duplicate of
    the original stdout, so capture never swallows it. It shows only between a test's start and
    its report, on the line below pytest's current one, and is cleared before pytest reports
    the test, with the cursor put back where pytest left it: pytest's output stays exactly
    what it would be without it. Off when stdout is not a terminal, under CI, and with -q.
    """

    def __init__(self, config: pytest.Config, stream):
        self._config = config
        self._stream = stream
        self._shown: tuple[Phases, TerminalProgress, int] | None = None

    @classmethod
    def for_session(cls, config: pytest.Config) -> "ProgressLine | None":
        if not wants_progress(sys.stdout, quiet=config.getoption("verbose") < 0):
            return None
        try:
            stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
        except (OSError, ValueError):
            return None
        return cls(config, stream)

    def show(self, phases: Phases, label: str) -> None:
        """Show the phases of one board x model until hide()."""
        from hilbench.progress import TerminalProgress  # tqdm: only when it shows

        self.hide()
        writer = getattr(self._config.pluginmanager.get_plugin("terminalreporter"), "_tw", None)
        column = writer.width_of_current_line if writer is not None else 0
        if writer is not None:
            writer.flush()
        if column:
            self._stream.write("\n")
        line = TerminalProgress(label, self._stream)
        phases.sink = line
        self._shown = (phases, line, column)

    def close(self) -> None:
        self.hide()
        self._stream.close()

    def hide(self) -> None:
        """Clear the line and put the cursor back at the end of pytest's line."""
        if self._shown is None:
            return
        phases, line, column = self._shown
        self._shown = None
        phases.sink = None
        line.close()
        if column:
            self._stream.write(f"\x1b[A\x1b[{column}C")  # up one line, right to pytest's column
        self._stream.flush()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    """Before pytest reports a test's result (or a failed set-up): the progress line goes."""
    progress = _state(item.config).progress
    if progress is not None and (call.when != "setup" or call.excinfo is not None):
        progress.hide()


def pytest_unconfigure(config: pytest.Config) -> None:
    progress = _state(config).progress
    if progress is not None:
        progress.close()


def _models_from_options(values: list[str], dataset: str | None = None) -> list[Path]:
    from hilbench.bench import dataset_models, default_models, find_model

    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if names:  # the same file given twice runs once, as a board given twice does
        return list(dict.fromkeys(find_model(name) for name in names))
    return dataset_models(Path(dataset)) if dataset else default_models()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = _state(config)
    if not state.active:
        return None
    lines = [f"hilbench: {b.name}: {b.describe()} ({b.reason})" for b in state.boards]
    lines.append("hilbench models: " + ", ".join(_model_label(path) for path in state.models))
    return lines


def _model_label(path: Path) -> str:
    from hilbench.bench import model_name

    return model_name(path)


# ---------------------------------------------------------------- parametrization


def _uses_plugin_fixture(metafunc: pytest.Metafunc, name: str) -> bool:
    """True when ``name`` is requested and resolves to this plugin's fixture (not a user's override)."""
    if name not in metafunc.fixturenames:
        return False
    definitions = metafunc._arg2fixturedefs.get(name) or ()
    return bool(definitions) and definitions[-1].func.__module__ == __name__


def _parametrized_by_test(metafunc: pytest.Metafunc, name: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        argnames = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(argnames, str):
            argnames = [a.strip() for a in argnames.split(",")]
        if name in argnames:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = _state(metafunc.config)
    if not state.active:
        return
    if _uses_plugin_fixture(metafunc, "board") and not _parametrized_by_test(metafunc, "board"):
        # Under pytest-xdist, the tests of one board form one group: one worker runs them all.
        grouped = metafunc.config.pluginmanager.hasplugin("xdist")
        metafunc.parametrize("board", [
            pytest.param(b, id=b.name, marks=[pytest.mark.xdist_group(b.name)] if grouped else [])
            for b in state.boards], indirect=True)
    if _uses_plugin_fixture(metafunc, "tflite_model") and \
            not _parametrized_by_test(metafunc, "tflite_model"):
        metafunc.parametrize("tflite_model", state.models, ids=[_model_label(p) for p in state.models],
                             indirect=True)


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def board(request: pytest.FixtureRequest) -> ResolvedBoard:
    """The board under test, resolved (mode hardware / emulated / host)."""
    param = getattr(request, "param", None)
    if param is None:
        pytest.skip("needs a board: run pytest with --board=NAME (see 'hilbench boards')")
    if isinstance(param, str):
        # A test parametrized with board names: resolve them with this session's options.
        try:
            [param] = _state(request.config).resolve([param])
        except HilbenchError as error:
            pytest.fail(f"hilbench: {error}", pytrace=False)
    return param


@pytest.fixture
def tflite_model(request: pytest.FixtureRequest) -> Path:
    """The model under test: a .tflite path."""
    param = getattr(request, "param", None)
    if param is None:
        pytest.skip("needs --board=NAME (and optionally --model=NAME) to choose a model")
    if isinstance(param, str):
        from hilbench.bench import find_model

        try:
            return find_model(param)
        except HilbenchError as error:
            pytest.fail(f"hilbench: {error}", pytrace=False)
    return Path(param)


@dataclass
class OpenDut:
    """The DUT a board runs now (or why it could not be opened), and how to stop it."""

    key: tuple
    dut: Dut | None = None
    error: str | None = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


@pytest.fixture
def dut(request: pytest.FixtureRequest, board: ResolvedBoard, tflite_model: Path) -> Dut:
    """A ready device under test for (board, tflite_model), shared by consecutive tests.

    A board runs one firmware at a time: asking for another model on the same board stops
    the previous DUT (emulator, host process or serial session) first.
    """
    state = _state(request.config)
    key = (board.mode, str(tflite_model))
    current = state.duts.get(board.name)
    if current is None or current.key != key:
        if current is not None:
            state.close_dut(board.name)
        current = state.duts[board.name] = OpenDut(key)
        from hilbench.bench import open_dut
        from hilbench.procedure import energy_firmware_defines, energy_plan

        phases = Phases()
        if state.progress is not None:
            state.progress.show(phases, f"{board.name} {_model_label(tflite_model)}")
        try:
            # A board measured by a probe or a capture runs energy-mode firmware.
            defines = energy_firmware_defines(energy_plan(board, state.option("energy_capture")))
            current.dut = current.stack.enter_context(open_dut(
                board, tflite_model, kernels=state.option("kernels"), extra_defines=defines,
                phases=phases))
        except HilbenchError as error:
            # Remember the failure: the next test on this pair must not rebuild and fail again.
            current.error = f"hilbench: {board.name} ({board.describe()}), {_model_label(tflite_model)}: {error}"
            current.stack.close()
    if current.error is not None:
        pytest.fail(current.error, pytrace=False)
    if state.progress is not None and current.dut.phases.sink is None:
        state.progress.show(current.dut.phases, f"{board.name} {current.dut.model_name}")
    firmware = current.dut.firmware
    state.board_facts.setdefault(board.name, board_facts(board)).setdefault("firmware", {})[
        current.dut.model_name] = {"target": firmware.target,
                                   "firmware_sha256": firmware.firmware_sha256,
                                   "compile_command": list(firmware.compile_command)} \
        if firmware is not None else {"pre_flashed": True}
    return current.dut


def board_facts(board: ResolvedBoard) -> dict:
    """What provenance.json says about a board: how it ran and which one it was."""
    facts = {"mode": board.mode, "reason": board.reason, "clock_hz": board.board.clock_hz,
             "core": board.board.core, "cpi": board.board.cpi}
    if board.mode == "hardware":
        facts["port"] = board.port
        if board.port_info is not None and board.port_info.serial_number:
            facts["board_serial"] = board.port_info.serial_number
    if board.qemu_machine:
        facts["qemu_machine"] = board.qemu_machine
    return facts


class ResultsRecorder:
    """Collects result rows for the run folder and the end-of-session summary."""

    def __init__(self, state: HilbenchState):
        self._state = state

    def record(self, row: Mapping[str, object], raw: Mapping[str, Any] | None = None,
               figures: Mapping[str, Any] | None = None) -> dict:
        """Validate and store one result row, with optional raw per-inference arrays and the
        figures beyond the result columns (a JSON file per row in the run folder)."""
        state = self._state
        _recorder(state)
        try:
            for name, facts in state.board_facts.items():   # provenance first, then the row
                state.recorder.record_board(name, **facts)
            stored = state.recorder.append_row(row)
            names = (str(row["board"]), str(row["model"]))
            labels = {"runtime": str(row.get("runtime") or ""), "mode": str(row.get("mode") or "")}
            if raw:
                state.recorder.write_raw(*names, raw, **labels)
            if figures:
                state.recorder.write_figures(*names, figures, **labels)
                from hilbench.procedure import format_details

                details = format_details(figures)
                if details:
                    state.details.append(details)
        except HilbenchError as error:  # a row that breaks the result contract fails its test
            pytest.fail(f"hilbench: {error}", pytrace=False)
        state.rows.append(stored)
        return stored

    @property
    def run_dir(self) -> Path | None:
        """The run folder, once a row was recorded."""
        return self._state.recorder.run_dir if self._state.recorder else None


def _default_lab_file() -> Path | None:
    from hilbench.boards.catalog import LAB_FILE_NAME

    path = Path.cwd() / LAB_FILE_NAME
    return path if path.is_file() else None


@pytest.fixture
def hilbench_results(request: pytest.FixtureRequest) -> ResultsRecorder:
    """Record result rows: ``hilbench_results.record(row)``."""
    return ResultsRecorder(_state(request.config))


# ---------------------------------------------------------------- end of session


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = _state(session.config)
    for board_name in list(state.duts):
        state.close_dut(board_name)   # stop emulators and host processes, close serial ports
    if state.recorder is not None:
        for board_name, model, header, lines in state.serial_logs:
            state.recorder.save_serial_log(board_name, lines, model=model, header=header)
        if _is_xdist_controller(session.config):
            _collect_workers_rows(state)
        if state.option("cloud") and not hasattr(session.config, "workerinput"):
            _compare_with_cloud(session, state)


def _collect_workers_rows(state: HilbenchState) -> None:
    """xdist controller: the summary shows every worker's rows, read back from the run folder."""
    from hilbench.procedure import format_details
    from hilbench.record.store import load_run

    run_dir = state.recorder.run_dir
    state.rows = load_run(run_dir).rows
    figures_dir = run_dir / "figures"
    for path in sorted(figures_dir.glob("*.json")) if figures_dir.is_dir() else ():
        details = format_details(json.loads(path.read_text(encoding="utf-8")))
        if details:
            state.details.append(details)


def _compare_with_cloud(session: pytest.Session, state: HilbenchState) -> None:
    """--cloud: the edge-vs-cloud step on this run's folder; a failure fails the session."""
    from hilbench.cloud.edge_vs_cloud import format_table
    from hilbench.cloud.run_comparison import compare_run_with_cloud, describe_comparison
    from hilbench.record.store import load_run

    try:
        comparison = compare_run_with_cloud(state.recorder.run_dir)
    except HilbenchError as error:
        state.cloud_summary = f"hilbench --cloud: {error}"
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    state.rows = load_run(state.recorder.run_dir).rows   # now with the cloud columns
    state.cloud_summary = format_table(comparison.table_rows) + "\n" + describe_comparison(comparison)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    if not state.active:
        return
    terminalreporter.section("hilbench results")
    if not state.rows:
        terminalreporter.write_line("no result rows were recorded")
        return
    from hilbench.report.table import format_results_table

    terminalreporter.write_line(format_results_table(state.rows))
    for line in state.details:
        terminalreporter.write_line(line)
    if state.recorder is not None:
        terminalreporter.write_line(f"run folder: {state.recorder.run_dir}")
    if state.cloud_summary:
        terminalreporter.section("hilbench edge vs cloud")
        terminalreporter.write_line(state.cloud_summary)

