#!/usr/bin/env python3
"""Measures what a nightly lab run costs per board, on a lab of twins on 127.0.0.1.

It starts a real labgrid coordinator and one exporter per twin (the test suite's lab helper),
then measures and prints a markdown table of:

- the labgrid overhead of one board x model: reserve + acquire + release of a place, median of
  ``--cycles`` cycles, as hilbench does it (hilbench.lab.places);
- the suite's wall time per board x model through labgrid, for each ``--models`` model with
  its ``--vectors`` test vectors: one board alone, then two boards side by side (``-n 2``);
- the machine it ran on (cores, load).

docs/lab.md works out a 100-board nightly from these figures. Wall times depend on the
machine and its load (host-clock): the twins' instruction counts do not.

    python3 benchmarks/lab_rates.py --models ad kws --vectors 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hilbench.lab.config import BoardPlace  # noqa: E402
from hilbench.lab.places import session_for  # noqa: E402
from tests.support.labgrid_lab import Lab, lab_file, start_twin, tcp_port  # noqa: E402

BOARDS = ("twin-a", "twin-b")


def place_cycle_seconds(lab: Lab, cycles: int) -> list[float]:
    """Wall time of reserve + acquire + release of one place, ``cycles`` times."""
    place = BoardPlace("twin-a", lab.coordinator, place="bench-twin-a", acquire_timeout_s=30)
    session = session_for(lab.coordinator)
    times = []
    for _ in range(cycles):
        started = time.perf_counter()
        session.release(session.hold(place))
        times.append(time.perf_counter() - started)
    return times


def suite_seconds(lab_path: Path, boards: str, model: str, vectors: int, workers: int,
                  folder: Path) -> float:
    """Wall time of ``pytest --board=BOARDS --model=MODEL`` through labgrid, start to end."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark",
               "-p", "no:hypothesispytest", f"--board={boards}", f"--model={model}", "--lab",
               str(lab_path), "--vectors", str(vectors), "--results-dir", str(folder / "results"),
               str(REPO / "hilbench" / "suite")]
    if workers > 1:
        command += ["-n", str(workers)]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"the suite failed on {boards} x {model}:\n{result.stdout[-3000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["ad", "kws"])
    parser.add_argument("--vectors", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=20, help="place hold/release cycles")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="hilbench-lab-rates-"))
    rows = []
    for model in args.models:
        twins = {board: start_twin(model) for board in BOARDS}
        lab = Lab(folder / f"lab-{model}").start()
        try:
            for host, board in zip(("host-a", "host-b"), BOARDS):
                lab.add_exporter(host, {board: tcp_port(twins[board].url)})
                lab.add_place(f"bench-{board}", f"{host}/{board}/NetworkSerialPort")
            lab_path = lab_file(folder / f"lab-{model}.yaml", lab.coordinator,
                                {board: f"bench-{board}" for board in BOARDS})
            if not rows:
                cycle = place_cycle_seconds(lab, args.cycles)
                rows.append(("labgrid reserve + acquire + release, one place",
                             f"{statistics.median(cycle) * 1e3:.0f} ms (median of {len(cycle)})"))
            alone = suite_seconds(lab_path, "twin-a", model, args.vectors, 1, folder)
            both = suite_seconds(lab_path, ",".join(BOARDS), model, args.vectors, 2, folder)
            rows.append((f"suite, {model} x {args.vectors} vectors, 1 board", f"{alone:.1f} s"))
            rows.append((f"suite, {model} x {args.vectors} vectors, 2 boards with -n 2",
                         f"{both:.1f} s ({2 * alone / both:.2f}x the rate of one board at a time)"))
        finally:
            lab.stop()
            for twin in twins.values():
                twin.close()
    print(f"Lab rates on 127.0.0.1 (twins of nano33, mps2-an386; wall times, host-clock), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end:\n")
    print("| what | wall time |\n|---|---:|")
    for what, value in rows:
        print(f"| {what} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
