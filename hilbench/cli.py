"""The ``hilbench`` command: a thin front end over the stages, like the pytest plugin.

Each subcommand is a small function registered with :func:`command` (as ``boards`` and
``infer`` below), or a stage module's ``add_arguments``/``run`` pair listed in
``STAGE_COMMANDS``: adding a command never touches a dispatch chain. Errors that are
the user's to fix (:class:`~hilbench.errors.HilbenchError`) print one message on stderr and
exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from hilbench import __version__
from hilbench.errors import HilbenchError
from hilbench.report.table import format_text_table

EXIT_OK = 0
EXIT_USAGE = 2

# Modules that register subcommands with @command when imported (besides this one).
COMMAND_MODULES: tuple[str, ...] = ()

# Subcommands whose argument function and run function live in a stage's module, named
# "module:function" and imported only when the parser is built: a stage adds a command by
# adding one line here. (name, one-line summary, add_arguments, run)
STAGE_COMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("leaderboard", "merge benchmark runs into the leaderboard CSV",
     "hilbench.report.leaderboard:add_leaderboard_arguments", "hilbench.report.leaderboard:cmd_leaderboard"),
    ("compare", "compare a run with a baseline; fail on regressions (nightly gate)",
     "hilbench.report.compare:add_compare_arguments", "hilbench.report.compare:cmd_compare"),
    ("report", "write a self-contained HTML report with plots",
     "hilbench.report.html:add_report_arguments", "hilbench.report.html:cmd_report"),
    ("measure", "measure one board x model: latency, accuracy, energy, footprint",
     "hilbench.procedure_cli:add_measure_arguments", "hilbench.procedure_cli:cmd_measure"),
    ("twin serve", "serve a board's emulated twin as a serial device (pty) and a socket:// URL",
     "hilbench.twin_serve:add_twin_serve_arguments", "hilbench.twin_serve:cmd_twin_serve"),
    ("calibrate", "fit the twins' CPI and power against published MLPerf Tiny hardware results",
     "hilbench.calibration.cli:add_calibrate_arguments", "hilbench.calibration.cli:cmd_calibrate"),
    ("cloud serve", "serve float models over the Open Inference Protocol (the cloud side)",
     "hilbench.cloud.cli:add_cloud_serve_arguments", "hilbench.cloud.cli:cmd_cloud_serve"),
    ("edge-vs-cloud", "compare a run with cloud inference of the float models; fill its cloud columns",
     "hilbench.cloud.cli:add_edge_vs_cloud_arguments", "hilbench.cloud.cli:cmd_edge_vs_cloud"),
)
# A name with a space ("cloud serve") is a subcommand of a group ("hilbench cloud ...").

# The namespace attribute holding the function to run: named so that no command's own
# arguments (e.g. a positional called "run") can overwrite it.
_RUN_ATTRIBUTE = "_hilbench_run"


@dataclass(frozen=True)
class Command:
    """One subcommand: its help texts, its arguments, and the function that runs it."""

    name: str
    summary: str
    """One line, shown in ``hilbench --help``."""
    description: str
    """What it does, its defaults and examples, shown in ``hilbench NAME --help``."""
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def command(name: str, *, summary: str, description: str,
            arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None):
    """Register the decorated ``run(args) -> exit status`` function as ``hilbench NAME``."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        if name in COMMANDS:
            raise RuntimeError(f"hilbench subcommand '{name}' is registered twice")
        COMMANDS[name] = Command(name, summary, textwrap.dedent(description).strip(), arguments, run)
        return run

    return register


def _import_function(reference: str) -> Callable:
    module, _, function = reference.partition(":")
    return getattr(importlib.import_module(module), function)


def _register_stage_commands() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    for name, summary, add_arguments, run in STAGE_COMMANDS:
        if name not in COMMANDS:
            # The stage's add_arguments sets the parser's description and examples itself.
            COMMANDS[name] = Command(name, summary, summary, _import_function(add_arguments),
                                     _import_function(run))


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand."""
    _register_stage_commands()
    parser = argparse.ArgumentParser(
        prog="hilbench",
        description="Hardware-in-the-loop benchmarking for TinyML: build models into firmware, "
                    "run them on boards (or their emulated twins, or this computer) and measure "
                    "latency, accuracy and energy.",
        epilog="Run 'hilbench COMMAND --help' for a command's options and examples. "
               "The benchmark suite itself runs under pytest: pytest --board=nano33",
    )
    parser.add_argument("--version", action="version", version=f"hilbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for entry in COMMANDS.values():
        group, _, name = entry.name.rpartition(" ")
        if group and group not in groups:
            group_parser = subparsers.add_parser(group, help=f"{group} commands ({group} --help lists them)")
            groups[group] = group_parser.add_subparsers(dest=f"{group}_command", metavar="COMMAND",
                                                        required=True)
        sub = (groups[group] if group else subparsers).add_parser(
            name, help=entry.summary, description=entry.description,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        entry.add_arguments(sub)
        sub.set_defaults(**{_RUN_ATTRIBUTE: entry.run})
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hilbench`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return getattr(args, _RUN_ATTRIBUTE)(args)
    except HilbenchError as error:
        print(f"hilbench: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("hilbench: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- shared pieces


def add_board_model_arguments(parser: argparse.ArgumentParser, board_help: str) -> None:
    """``--board NAME`` and ``--model MODEL``, for commands that run one board x model."""
    parser.add_argument("--board", required=True, metavar="NAME",
                        help=f"{board_help} (see 'hilbench boards')")
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help="a .tflite file, a models_zoo/ name or an MLPerf Tiny model name")


def add_lab_arguments(parser: argparse.ArgumentParser, *, require_hardware: bool = True,
                      emulate: bool = True) -> None:
    """``--lab``, (optionally) ``--emulate`` and ``--require-hardware``, as in the pytest plugin."""
    parser.add_argument("--lab", metavar="FILE",
                        help="lab file that adds boards or overrides catalog fields "
                             "(default: ./hilbench.yaml when it exists)")
    if emulate:
        parser.add_argument("--emulate", action="store_true",
                            help="use each board's emulated twin even when the board is connected")
    if require_hardware:
        parser.add_argument("--require-hardware", action="store_true",
                            help="fail instead of falling back to the emulated twin when a board "
                                 "is not connected")


# The aligned text table of every command's output (re-exported for the commands here).
format_table = format_text_table


def format_clock(clock_hz: int) -> str:
    """``64 MHz``; ``-`` when unknown (0)."""
    if not clock_hz:
        return "-"
    return f"{clock_hz / 1e6:g} MHz"


# ---------------------------------------------------------------- hilbench boards


def _boards_arguments(parser: argparse.ArgumentParser) -> None:
    add_lab_arguments(parser, require_hardware=False)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also say why each board runs the way it does")


@command(
    "boards",
    summary="list the boards and how each would run now (hardware, emulated or host)",
    arguments=_boards_arguments,
    description="""
        List every board of the catalog (plus the lab file's) with its MCU, core and clock,
        and how it would run if benchmarked now:
          hardware on PORT       the board is connected (found by USB id, serial number,
                                 port or URL)
          ... on labgrid place P the lab file's labgrid section puts it on a labgrid place:
                                 the table adds who holds that place now
          emulated on qemu M     not connected (or --emulate): its emulated twin runs instead
          host                   the firmware runs on this computer

        The lab file (--lab FILE, default ./hilbench.yaml) adds boards and overrides fields:

          boards:
            nano33:
              connection: {serial_number: "A8A8B5D45EB4D44F"}
              power_probe: {kind: joulescope, serial: "000415"}
            nano33-b:
              extends: nano33
              connection: {port: /dev/ttyACM3}
          labgrid:                       # boards on a shared rack (docs/lab.md)
            coordinator: lab-server:20408
            places:
              nano33-b: {place: rack1-nano33-b}

        HILBENCH_LIST_PORTS=FILE replays a port list recorded with 'hilbench ports --save'.

        examples:
          hilbench boards
          hilbench boards --lab lab/rack1.yaml -v
          hilbench boards --emulate
    """,
)
def boards_command(args: argparse.Namespace) -> int:
    """Print the board table."""
    from hilbench.boards import (Board, ResolvedBoard, load_boards, pinned_ports, resolve_board,
                                 scan_ports)

    catalog = load_boards(args.lab)
    ports = scan_ports()
    pinned = pinned_ports(catalog.boards.values())
    lab_places = catalog.labgrid.places if catalog.labgrid else {}
    outcomes: list[tuple[Board, ResolvedBoard | None, str]] = []
    for board in catalog.boards.values():
        try:
            resolved = resolve_board(board, ports, emulate=args.emulate, pinned=pinned,
                                     lab_place=lab_places.get(board.name))
            outcomes.append((board, resolved, resolved.reason))
        except HilbenchError as error:
            # One ambiguous board must not hide the others: show its problem under the table.
            outcomes.append((board, None, str(error)))
    claims = Counter(r.port for _, r, _ in outcomes if r is not None and r.mode == "hardware")
    rows, notes = [], []
    for board, resolved, reason in outcomes:
        if resolved is None:
            runs_now = "unresolved (see below)"
        elif resolved.mode == "hardware" and claims[resolved.port] > 1:
            runs_now = f"{resolved.describe()} (shared, see below)"
            reason = (f"{resolved.port} matches several boards by USB id; pin each with "
                      "connection.serial_number in hilbench.yaml (see 'hilbench ports')")
        else:
            runs_now = resolved.describe()
            if resolved.mode == "emulated":
                # A twin's latency is instructions x cpi: say which cpi and whose.
                reason += f"; latency = instructions x cpi {board.cpi:g} ({board.cpi_source})"
        rows.append((board.name, board.mcu, board.core, format_clock(board.clock_hz), runs_now))
        if args.verbose or "see below" in runs_now:
            notes.append(f"{board.name}: {reason}")
    headers = ("board", "MCU", "core", "clock", "runs now")
    if lab_places and not args.emulate:
        from hilbench.lab.places import place_holders

        holders = place_holders(lab_places.values())
        headers += ("labgrid place now",)
        rows = [row + (holders.get(row[0], "-"),) for row in rows]
    print(format_table(headers, rows))
    if notes:
        print()
        print("\n".join(notes))
    print(f"\nboards from: {', '.join(str(source) for source in catalog.sources)}")
    return EXIT_OK


# ---------------------------------------------------------------- hilbench ports


def _ports_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--save", metavar="FILE",
                        help="write the port list as JSON, to replay it later with "
                             "HILBENCH_LIST_PORTS=FILE")


@command(
    "ports",
    summary="list the serial ports pyserial sees (USB id, serial number), or save them",
    arguments=_ports_arguments,
    description="""
        List the serial ports of this computer with their USB VID:PID and serial number:
        the data 'hilbench boards' matches against the catalog. Use it to find the serial
        number to put in hilbench.yaml when several identical boards are attached.

        examples:
          hilbench ports
          hilbench ports --save lab-ports.json
    """,
)
def ports_command(args: argparse.Namespace) -> int:
    """Print (or save) the live serial port list."""
    from hilbench.boards.ports import live_ports, record_ports

    if args.save:
        count = record_ports(args.save)
        print(f"saved {count} port(s) to {args.save}")
        return EXIT_OK
    rows = [(p.device, f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None else "", p.serial_number,
             p.description) for p in live_ports()]
    print(format_table(("port", "usb id", "serial number", "description"), rows))
    return EXIT_OK


# ---------------------------------------------------------------- hilbench models


MODEL_SETS = ("mlperf-tiny",)


def _models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("fetch",),
                        help="fetch: download a set of reference models into the cache")
    parser.add_argument("model_set", nargs="?", choices=MODEL_SETS, metavar="SET",
                        help="the set to fetch: mlperf-tiny")


@command(
    "models",
    summary="list the reference models; fetch the MLPerf Tiny ones",
    arguments=_models_arguments,
    description="""
        Without arguments: list the models of the zoo (float and int8 .tflite, card, test
        vectors: task, input shape, metric, float and int8 accuracy on the committed test
        vectors, size and operators), then the MLPerf Tiny reference models with their state:
        present, missing or wrong hash (SHA-256 against the pinned file table shipped with
        hilbench). Any of these names works as --model for 'hilbench infer' and pytest, as do
        .tflite paths.

        'hilbench models fetch mlperf-tiny' downloads the MLPerf Tiny models from the
        mlcommons/tiny repository at a pinned commit, checks each file's SHA-256 and writes it
        atomically into $HILBENCH_MLPERF_DIR when set, else into <cache>/mlperf_tiny
        (cache: $HILBENCH_CACHE, default ~/.cache/hilbench). Without network access, copy the
        files into a folder and set HILBENCH_MLPERF_DIR to it instead.

        examples:
          hilbench models
          hilbench models fetch mlperf-tiny
          HILBENCH_MLPERF_DIR=~/models/mlperf_tiny hilbench models
          HILBENCH_ZOO=../my_zoo hilbench models
    """,
)
def models_command(args: argparse.Namespace) -> int:
    """Print the zoo and MLPerf Tiny tables, or fetch a model set."""
    from hilbench import mlperf_tiny
    from hilbench.errors import ConfigError
    from hilbench.zoo import format_models_table

    if args.action == "fetch":
        if args.model_set is None:
            raise ConfigError(f"'hilbench models fetch' needs a set: {', '.join(MODEL_SETS)}")
        paths = mlperf_tiny.fetch(progress=print)
        print(f"{len(paths)} MLPerf Tiny files in {mlperf_tiny.models_dir()}")
        return EXIT_OK
    if args.model_set is not None:
        raise ConfigError(f"'{args.model_set}' needs an action first: hilbench models fetch {args.model_set}")
    print(format_models_table())
    print()
    folder = mlperf_tiny.models_dir()
    states = mlperf_tiny.status()
    print(f"MLPerf Tiny reference models in {folder}:")
    print(format_table(("model", "state", "source"),
                       [(entry.name, state, f"{entry.repository}@{entry.commit[:12]}:{entry.path}")
                        for entry, state in states]))
    if any(state != mlperf_tiny.PRESENT for _, state in states):
        print(f"to get them: {mlperf_tiny.how_to_get_them()}")
    return EXIT_OK


# ---------------------------------------------------------------- hilbench infer


def _infer_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_model_arguments(parser, "board to run on")
    parser.add_argument("--input", required=True, metavar="X.npy",
                        help="input rows: shape (rows, ...) in the model's input dtype (int8 "
                             "for quantized models; not re-quantized)")
    parser.add_argument("--output", required=True, metavar="Y.npy",
                        help="where to write the raw output tensors, shape (rows, ...), in the "
                             "model's output dtype")
    add_lab_arguments(parser)
    parser.add_argument("--opt-level", default="O2", metavar="LEVEL",
                        help="compiler optimisation level of the firmware (default: O2)")


@command(
    "infer",
    summary="run every row of an input array on a board; write the raw outputs",
    arguments=_infer_arguments,
    description="""
        Compile the model, build firmware for the board (or its emulated twin, or the host),
        start it, run every row of X.npy with one 'infer 1 0' each, and write the raw
        output tensors to Y.npy in the model's output dtype.

        The last line on stdout is
          cycles_per_inference: N (<latency_source>)
        N being the median over the rows, in CPU cycles of the board: device-timer on
        hardware, icount on an emulated twin (instructions x the board's cpi, 1.0 unless
        calibrated), host-clock on the host (time x this computer's clock, an estimate).

        examples:
          hilbench infer --board host --model ad01_int8 --input x.npy --output y.npy
          hilbench infer --board nano33 --emulate --model models_zoo/kws/int8.tflite \\
              --input kws_x.npy --output kws_y.npy
    """,
)
def infer_command(args: argparse.Namespace) -> int:
    """Run the input rows on the board and write the outputs."""
    import io

    import numpy as np

    from hilbench.bench import model_name, open_dut
    from hilbench.boards import resolve_boards
    from hilbench.progress import progress_on
    from hilbench.record.atomic import atomic_write_bytes, check_output_path

    inputs = _load_array(args.input)
    output = check_output_path(args.output, "--output")
    [board] = resolve_boards([args.board], lab=args.lab, emulate=args.emulate,
                             require_hardware=args.require_hardware)
    print(f"{board.name}: {board.describe()} ({board.reason})")
    with progress_on(sys.stderr, f"{board.name} {model_name(args.model)}") as phases, \
            open_dut(board, args.model, opt_level=args.opt_level, phases=phases) as dut:
        phases.start("vectors", total=len(inputs))
        outputs, run = dut.infer(inputs, on_vector=phases.advance)
        phases.stop()
        # Exactly the path given (np.save would add .npy to y.out), whole or not at all.
        buffer = io.BytesIO()
        np.save(buffer, outputs, allow_pickle=False)
        atomic_write_bytes(output, buffer.getvalue())
        print(f"wrote {output}: {outputs.shape[0]} rows of {outputs.dtype} "
              f"{tuple(outputs.shape[1:])} from {dut.model_name} on {dut.mode}")
        if run.ticks:
            cycles = dut.cycles(run.ticks, run.timer_hz)
        elif run.window_us and all(us is not None for us in run.window_us):
            # A plain MLPerf Tiny DUT: its m-lap-us stamps around each 'infer 1 0'.
            cycles = [dut.window_cycles(us) for us in run.window_us]
        else:
            raise HilbenchError(f"the DUT on {dut.endpoint.url} reports neither per-inference "
                                "timer ticks nor m-lap-us stamps, so cycles per inference are unknown")
        print(f"cycles_per_inference: {round(float(np.median(cycles)))} ({dut.latency_source})")
    return EXIT_OK


def _load_array(path: str):
    """An input array from a .npy file, refusing one whose header promises more data than the
    file holds (a damaged or hostile header must not make numpy allocate terabytes)."""
    import numpy as np

    from hilbench.errors import ConfigError

    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
            shape, _, dtype = read_header(handle)
            data_bytes = os.fstat(handle.fileno()).st_size - handle.tell()
            if dtype.hasobject:
                raise ValueError("it holds Python objects (pickles), which are not loaded")
            needed = math.prod(shape) * dtype.itemsize
            if needed != data_bytes:
                raise ValueError(f"its header claims shape {shape} of {dtype} ({needed} bytes) "
                                 f"but the file holds {data_bytes} bytes of data")
            handle.seek(0)
            return np.load(handle, allow_pickle=False)
    except FileNotFoundError:
        raise ConfigError(f"input file '{path}' does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"input file '{path}' is a folder; give a .npy file") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"input file '{path}' is not a usable .npy array file: {error}") from None


if __name__ == "__main__":
    sys.exit(main())
