"""``hilbench cloud serve``: serve float .tflite models over the Open Inference Protocol on 127.0.0.1."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from hilbench.cloud.server import DEFAULT_STARTUP_TIMEOUT_S, ensure_server_python, serve_models, server_env_dir
from hilbench.errors import HilbenchError


def add_cloud_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hilbench cloud serve``."""
    parser.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="float .tflite path, models_zoo entry name (its float.tflite) or shared MLPerf Tiny model name (e.g. ad01_fp32)",
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
