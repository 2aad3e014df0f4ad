"""How fast the harness moves vectors and runs the reference suite, on this machine.

    python3 benchmarks/harness_bench.py [--skip-suite] [--kws-vectors 1000]

Prints, with the machine and its load (`uptime`) before and after:
  1. bytes/s into a DUT per transfer path: an emulated twin's host file (`hb file`), its
     emulated UART with the binary bulk load (`hb bulk`, what real boards with hilbench
     firmware get) and with `db` hex commands (plain MLPerf Tiny DUTs), and the host board's
     pty; on nano33's twin with the vww firmware (27,648 input bytes);
  2. 200 vww vectors against 200 ic vectors (its 100, twice) on nano33's twin, and 1000 kws
     vectors (the zoo's 200, five times): one twin and the default spread over twins;
  3. accuracy vectors on a twin with and without `-icount` (one twin, kws);
  4. `pytest --board=nano33` (five zoo models, every vector) with an empty build cache
     (cold) and again (warm), and per model where the time went (host-clock): transfer
     (loading inputs, reading outputs), device compute (the infer commands, which include their
     serial round trips), host work (the tflite-micro and float references), build, boot.
Every figure here is host-clock, from a machine that may be shared: read them with the load.
Instruction counts (icount) are what stay the same on every machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hilbench import zoo  # noqa: E402
from hilbench.bench import open_dut  # noqa: E402
from hilbench.boards import resolve_boards  # noqa: E402
from hilbench.deploy import qemu  # noqa: E402
from hilbench.session.dut_session import LOAD_BULK, LOAD_HEX, LOAD_HOST_FILE  # noqa: E402

BOARD = "nano33"


def load_average() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def rate(bytes_per_s: float) -> str:
    return f"{bytes_per_s / 1e6:.2f} MB/s" if bytes_per_s >= 1e5 else f"{bytes_per_s / 1e3:.1f} KB/s"


def twin(model: str):
    [board] = resolve_boards([BOARD], emulate=True)
    return open_dut(board, model)


def plain_mlperf(session) -> None:
    """Make the session load as it would a plain MLPerf Tiny DUT's: 'db' hex commands."""
    import dataclasses

    caps = session.profile()
    session.capabilities = dataclasses.replace(caps, extensions=caps.extensions - {"bulk-crc"})


def time_loads(session, data: bytes, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        session.load_input(data)
    return len(data) * count / (time.perf_counter() - started)


def transfer_paths() -> str:
    rows = []
    data = zoo.load_vectors("vww").x_int8[0].tobytes()
    with twin("vww") as dut:
        session, folder = dut.session, dut.session.host_file_dir
        for path, count in ((LOAD_HOST_FILE, 50), (LOAD_BULK, 3), (LOAD_HEX, 1)):
            session.host_file_dir = folder if path == LOAD_HOST_FILE else None
            if path == LOAD_HEX:
                plain_mlperf(session)
            assert session.load_path == path
            rows.append([f"{BOARD} twin (QEMU mps2-an386)", path, len(data), count, rate(time_loads(session, data, count))])
    [host] = resolve_boards(["host"])
    with open_dut(host, "vww") as dut:
        session = dut.session
        rows.append(["host board (pty)", session.load_path, len(data), 20, rate(time_loads(session, data, 20))])
        plain_mlperf(session)
        rows.append(["host board (pty)", session.load_path, len(data), 3, rate(time_loads(session, data, 3))])
    return table(["DUT", "path", "bytes per input", "inputs", "input bytes/s (host-clock)"], rows)


def vectors_of(model: str, count: int) -> np.ndarray:
    x = zoo.load_vectors(model).x_int8
    return np.concatenate([x] * (count // len(x) + 1))[:count]


def timed_infer(dut, rows: np.ndarray, max_twins: int | None) -> tuple[float, object]:
    started = time.perf_counter()
    _, run = dut.infer(rows, max_twins=max_twins)
    return time.perf_counter() - started, run


def vector_runs() -> str:
    out = []
    for model, count in (("ic", 200), ("vww", 200), ("kws", ARGS.kws_vectors)):
        rows = vectors_of(model, count)
        with twin(model) as dut:
            for max_twins in (1, None):
                wall, run = timed_infer(dut, rows, max_twins)
                instructions = int(np.median(dut.cycles(run.ticks, run.timer_hz)))
                out.append([model, count, run.harness.duts, f"{wall:.2f} s", f"{wall / count * 1e3:.1f} ms",
                            f"{instructions:,}", rate(run.harness.load_bytes_per_s)])
    walls = {(r[0], r[2]): float(r[3].split()[0]) for r in out}
    ratio = [f"vww / ic, 200 vectors each: {walls[('vww', 1)] / walls[('ic', 1)]:.2f} on one twin"]
    best = {m: min(v for (k, _), v in walls.items() if k == m) for m in ("vww", "ic")}
    ratio.append(f"{best['vww'] / best['ic']:.2f} with the default spread over twins")
    return (table(["model", "vectors", "twins", "wall (host-clock)", "per vector", "instructions/inference (icount)",
                   "input bytes/s"], out) + "\n\n" + ", ".join(ratio))


@contextlib.contextmanager
def without_icount():
    """Twins started inside run QEMU without -icount (what the product never does for timing)."""
    original = qemu.qemu_command

    def command(*args, **kwargs):
        argv = original(*args, **kwargs)
        at = argv.index("-icount")
        return argv[:at] + argv[at + 2:]

    qemu.qemu_command = command
    try:
        yield
    finally:
        qemu.qemu_command = original


def icount_or_not() -> str:
    """The same 200 kws vectors on one twin with and without -icount, twice each, alternating
    (a shared machine's load changes from minute to minute): the faster run of each counts."""
    vectors = vectors_of("kws", 200)
    configurations = {"-icount shift=7 (timing and accuracy)": contextlib.nullcontext,
                      "no -icount (accuracy only)": without_icount}
    best: dict[str, float] = {}
    outputs = {}
    for _round in range(2):
        for label, context in configurations.items():
            with context(), twin("kws") as dut:
                wall, run = timed_infer(dut, vectors, 1)
            best[label] = min(wall, best.get(label, wall))
            outputs[label] = run.outputs
    rows = [[label, len(vectors), f"{wall:.2f} s", f"{wall / len(vectors) * 1e3:.2f} ms"] for label, wall in best.items()]
    same = len({tuple(o) for o in outputs.values()}) == 1
    return (table(["QEMU", "kws vectors", "wall, best of 2 (host-clock)", "per vector"], rows)
            + f"\n\noutputs identical: {same}")


def suite_run(cache: Path, results: Path) -> tuple[float, Path]:
    env = dict(os.environ, HILBENCH_CACHE=str(cache))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", f"--board={BOARD}", "-q", "-p", "no:cacheprovider",
                           "--results-dir", str(results)], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pytest --board={BOARD} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    runs = sorted((results / "runs").iterdir())
    return wall, runs[-1]


def breakdown(run_dir: Path) -> str:
    rows = []
    for path in sorted((run_dir / "figures").glob("*.json")):
        figures = json.loads(path.read_text())
        phases, vectors = figures["harness_s"], figures["vectors"]["harness"]
        rows.append([figures["model"], figures["vectors"]["count"], vectors["duts"],
                     f"{vectors['load_s'] + vectors['read_s']:.2f}", f"{vectors['infer_s']:.2f}",
                     f"{vectors['wall_s']:.2f}", f"{phases.get('reference', 0):.2f}",
                     f"{phases.get('build', 0):.2f}", f"{phases.get('boot twin', 0):.2f}",
                     f"{phases.get('timing', 0):.2f}"])
    return table(["model", "vectors", "twins", "transfer s", "device compute s", "vectors wall s",
                  "host work s", "build s", "boot s", "timing s"], rows)


def suite() -> str:
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        cache, results = Path(tmp) / "cache", Path(tmp) / "results"
        cold, _ = suite_run(cache, results)
        cold_load = load_average()
        warm, run_dir = suite_run(cache, results)
        return (table(["pytest --board=nano33", "wall (host-clock)", "load after"],
                      [["cold (empty build cache)", f"{cold:.1f} s", cold_load],
                       ["warm", f"{warm:.1f} s", load_average()]])
                + "\n\nPer model, warm run (host-clock seconds; transfer and device compute summed over "
                  "the twins that shared the vectors):\n\n" + breakdown(run_dir))


def main() -> None:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-suite", action="store_true", help="leave out the cold and warm suite runs")
    parser.add_argument("--kws-vectors", type=int, default=1000)
    ARGS = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"start: {load_average()}\n")
    sections = [("Input transfer per path", transfer_paths), ("Vector runs", vector_runs),
                ("Accuracy twins with and without -icount", icount_or_not)]
    if not ARGS.skip_suite:
        sections.append(("The reference suite", suite))
    for title, make in sections:
        print(f"## {title}\n\n{make()}\n\n({load_average()})\n", flush=True)


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()
