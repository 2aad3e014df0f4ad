"""``hilbench measure``: the benchmark procedure for one board x model, from the command line.

The same :func:`hilbench.procedure.benchmark_dut` the pytest suite runs; it prints
the result row as a table and the figures behind it, and can write them as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_measure_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hilbench measure``."""
    from hilbench.cli import add_board_model_arguments, add_lab_arguments

    add_board_model_arguments(parser, "board to measure")
    add_lab_arguments(parser)
    parser.add_argument("--vectors", type=int, metavar="N",
                        help="run at most N test vectors, evenly spread over the set (default: all)")
    parser.add_argument("--dataset", metavar="DIR",
                        help="test set in MLPerf Tiny's runner layout (DIR/<model id>/y_labels.csv "
                             "and input files), instead of the zoo's vectors")
    parser.add_argument("--energy-capture", metavar="FILE",
                        help="JLS file recorded by the Joulescope software during the run "
                             "(hardware boards; energy_source capture)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the row and every figure (CI, round trip, idle power, "
                             "stack ...) to this JSON file")


def cmd_measure(args: argparse.Namespace) -> int:
    """Measure one board x model and print the labelled result."""
    from hilbench.bench import find_model, model_name, open_dut
    from hilbench.boards import resolve_boards
    from hilbench.progress import progress_on
    from hilbench.procedure import (BenchmarkOptions, benchmark_dut, check_dataset,
                                    energy_firmware_defines, energy_plan, format_details)
    from hilbench.record import validate_row
    from hilbench.record.atomic import atomic_write_text, check_output_path
    from hilbench.report.table import format_results_table

    json_path = check_output_path(args.json, "--json") if args.json else None
    [board] = resolve_boards([args.board], lab=args.lab, emulate=args.emulate,
                             require_hardware=args.require_hardware)
    print(f"{board.name}: {board.describe()} ({board.reason})")
    dataset = Path(args.dataset) if args.dataset else None
    check_dataset(dataset, [find_model(args.model)])  # a malformed set stops before the build
    capture = Path(args.energy_capture) if args.energy_capture else None
    plan = energy_plan(board, capture)
    with progress_on(sys.stderr, f"{board.name} {model_name(args.model)}") as phases, \
            open_dut(board, args.model, extra_defines=energy_firmware_defines(plan), phases=phases) as dut:
        result = benchmark_dut(dut, BenchmarkOptions(max_vectors=args.vectors, energy_capture=capture,
                                                dataset=dataset),
                               energy=plan)
    row = validate_row(result.row)
    print(format_results_table([row]))
    print(format_details(result.figures))
    if json_path is not None:
        atomic_write_text(json_path, json.dumps({"row": row, "figures": result.figures}, indent=2) + "\n")
        print(f"wrote {json_path}")
    return 0 if result.bitexact_rate in (1.0, None) else 1  # None: the row says why
