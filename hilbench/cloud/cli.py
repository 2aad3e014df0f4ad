"""``hilbench cloud serve`` (serve float .tflite models over the Open Inference Protocol on
127.0.0.1) and ``hilbench edge-vs-cloud`` (compare a benchmark run with cloud inference)."""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import threading
from pathlib import Path

from hilbench.cloud.edge_vs_cloud import format_table
from hilbench.cloud.run_comparison import DEFAULT_ROW_NETWORK, compare_run_with_cloud, describe_comparison
from hilbench.cloud.server import DEFAULT_STARTUP_TIMEOUT_S, ensure_server_python, serve_models, server_env_dir
from hilbench.errors import HilbenchError
from hilbench.record.rows import ResultsError
from hilbench.record.store import add_results_dir_argument, default_results_root, list_runs


def add_cloud_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hilbench cloud serve``."""
    parser.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="float .tflite path, models_zoo entry name (its float.tflite) or MLPerf Tiny model name (e.g. ad01_fp32)",
    )
    parser.add_argument("--port", type=int, default=0, help="HTTP port on 127.0.0.1 (default: a free port)")
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=DEFAULT_STARTUP_TIMEOUT_S,
        help=f"seconds to wait for the server to be ready (default {DEFAULT_STARTUP_TIMEOUT_S:.0f})",
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="only create the MLServer environment (for set-up scripts), then exit",
    )


def cmd_cloud_serve(args: argparse.Namespace) -> int:
    """Serve the models until Ctrl-C or SIGTERM; print the base URL and one line per model."""
    try:
        if args.prepare:
            python = ensure_server_python(log=lambda message: print(message, file=sys.stderr))
            print(f"MLServer environment ready: {python} ({server_env_dir()})")
            return 0
        if not args.models:
            print("error: give at least one model to serve (or --prepare)", file=sys.stderr)
            return 2
        stop = threading.Event()
        # SIGTERM ends the wait like Ctrl-C does, so the server is always stopped on the way out.
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            with serve_models(args.models, port=args.port, startup_timeout_s=args.startup_timeout) as server:
                print(f"serving on {server.url} (Open Inference Protocol / KServe V2 REST, MLServer pid {server.pid}); Ctrl-C stops")
                for name, path in server.models.items():
                    print(f"  {name}: {server.url}/v2/models/{name}/infer  <- {path}")
                sys.stdout.flush()
                try:
                    while not stop.wait(0.5):
                        if server.process.poll() is not None:
                            print(f"error: the server exited unexpectedly; its last log lines:\n{server.log_tail()}", file=sys.stderr)
                            return 1
                except KeyboardInterrupt:
                    pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        return 0
    except HilbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def add_edge_vs_cloud_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hilbench edge-vs-cloud``."""
    parser.description = textwrap.fill(
        "Compare a benchmark run with cloud inference. Serves the float version of each of the "
        "run's models with MLServer on 127.0.0.1, measures it over the same test vectors the "
        "boards ran (round trip on the host clock, server compute time, accuracy), adds the "
        "modeled network time, radio energy and bytes on air of each network profile, prints "
        "the labelled table, writes it into the run folder (edge_vs_cloud.csv and .json), and "
        "fills the run's cloud columns (cloud_latency_ms, bytes_on_air_edge, bytes_on_air_cloud) "
        "for one network (--row-network), so that `hilbench leaderboard` and `hilbench report` "
        "show them.")
    parser.epilog = (
        "examples:\n"
        "  hilbench edge-vs-cloud                           # the latest run under results/runs/\n"
        "  hilbench edge-vs-cloud results/runs/20261126T183947.123Z-3fa9c1 --network wifi,lte\n"
        "  hilbench edge-vs-cloud --row-network nb-iot --profiles my_operator.yaml")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run", nargs="?", type=Path, metavar="RUN",
                        help="run folder (default: the latest run under RESULTS_DIR/runs/)")
    add_results_dir_argument(parser)
    parser.add_argument("--network", action="append", default=None, metavar="NAME[,NAME...]",
                        help="network profiles of the table (repeatable or comma-separated; "
                             "default: every profile)")
    parser.add_argument("--row-network", default=DEFAULT_ROW_NETWORK, metavar="NAME",
                        help=f"profile whose figures fill the result rows' cloud columns "
                             f"(default: {DEFAULT_ROW_NETWORK})")
    parser.add_argument("--profiles", type=Path, default=None, metavar="FILE",
                        help="network profile file (default: the one shipped with hilbench)")
    parser.add_argument("--port", type=int, default=0,
                        help="HTTP port of the server on 127.0.0.1 (default: a free port)")
    parser.add_argument("--startup-timeout", type=float, default=DEFAULT_STARTUP_TIMEOUT_S,
                        help=f"seconds to wait for the server (default {DEFAULT_STARTUP_TIMEOUT_S:.0f})")


def latest_run(results_dir: Path | None) -> Path:
    """The newest run folder under ``results_dir/runs/`` (ResultsError when there is none)."""
    runs = list_runs(results_dir)
    if not runs:
        root = results_dir or default_results_root()
        raise ResultsError(f"no run folders under {root}/runs/; run the benchmark first "
                           "(pytest --board=B) or name a run folder")
    return runs[-1]


def cmd_edge_vs_cloud(args: argparse.Namespace) -> int:
    """Run ``hilbench edge-vs-cloud``: print the table and where it was written."""
    run_dir = args.run or latest_run(args.results_dir)
    networks = [name.strip() for value in args.network or () for name in value.split(",")
                if name.strip()]
    print(f"edge vs cloud for run {run_dir}: serving the float models with MLServer ...",
          flush=True)
    comparison = compare_run_with_cloud(run_dir, networks=networks or None,
                                        row_network=args.row_network,
                                        profiles_path=args.profiles, port=args.port,
                                        startup_timeout_s=args.startup_timeout)
    print(format_table(comparison.table_rows))
    print(describe_comparison(comparison))
    return 0
