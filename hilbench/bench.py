"""The one pipeline both front ends use: model -> compile -> build -> deploy -> session.

``open_dut(board, model)`` is a context manager that yields a ready :class:`Dut`: the
model compiled to C, firmware built for the board's target, the firmware running (flashed,
emulated or a host process), and a serial session talking to it. The ``hilbench infer``
command and the pytest plugin's ``dut`` fixture both go through it.

This module also finds models by name (:func:`find_model`): a path, a ``models_zoo/``
model, or an MLPerf Tiny reference model (:mod:`hilbench.mlperf_tiny`: fetched into the
cache, or in ``$HILBENCH_MLPERF_DIR``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from hilbench import mlperf_tiny, zoo
from hilbench.boards import ResolvedBoard
from hilbench.build import Firmware, build_firmware
from hilbench.compile import CompiledModel, TensorSpec, compile_model
from hilbench.deploy import Endpoint
from hilbench.errors import BuildError, ConfigError, DeployError, DutError, MeasurementError, ModelError
from hilbench.lab.locks import board_lock
from hilbench.mlperf_tiny import MODEL_OF_ID, PLAIN_MLPERF_DEFINE
from hilbench.mlperf_wire import ANOMALY_SCORE, wire_format
from hilbench.paths import cache_root, zoo_root
from hilbench.progress import Phases
from hilbench.zoo import model_name
from hilbench.measure.accuracy import dequantize
from hilbench.run.printed_outputs import recover_printed_outputs
from hilbench.run import TimingRun, VectorRun, join_vector_runs, run_vectors, time_inferences
from hilbench.session import DutSession

if TYPE_CHECKING:
    from hilbench.deploy.platformio_project import PlatformioProject
    from hilbench.session.replies import Capabilities


def zoo_models() -> dict[str, Path]:
    """The zoo's int8 models by name (models_zoo/<name>/int8.tflite)."""
    if not zoo_root().is_dir():
        return {}
    return {model.name: model.int8_path for model in zoo.list_models() if model.int8_path.is_file()}


def find_model(name_or_path: str | Path) -> Path:
    """The .tflite file for a path, a zoo model name, or an MLPerf Tiny model name."""
    text = str(name_or_path)
    path = Path(text)
    if path.is_dir():
        raise ModelError(f"model '{path}' is a folder; give its .tflite file")
    if path.is_file():
        if path.suffix != ".tflite":
            raise ModelError(f"model file '{path}' is not a .tflite file; "
                             "give a TensorFlow Lite flatbuffer (.tflite)")
        return path.resolve()
    in_zoo = zoo_models()
    if text in in_zoo:
        return in_zoo[text]
    if "/" not in text and mlperf_tiny.is_reference_name(text):
        return mlperf_tiny.model_path(text)   # refuses a missing or wrong file, naming it
    if path.suffix == ".tflite" or "/" in text:
        raise ModelError(f"model file '{text}' does not exist")
    raise ModelError(
        f"model '{text}' is neither a file, a zoo model (known: {', '.join(in_zoo) or 'none'}) nor "
        f"an MLPerf Tiny reference model (known: {', '.join(mlperf_tiny.INT8_MODELS)}); "
        "give a .tflite path or one of these names")


def default_models() -> list[Path]:
    """The reference benchmark's models: every zoo model, else the MLPerf Tiny int8 models."""
    models = list(zoo_models().values()) or list(mlperf_tiny.present_int8_models().values())
    if not models:
        raise ModelError(f"no models found: {zoo_root()} has no <name>/{zoo.INT8_FILE} and "
                         f"{mlperf_tiny.models_dir()} has no MLPerf Tiny models; give --model PATH")
    return models


def dataset_models(dataset: Path) -> list[Path]:
    """The MLPerf Tiny reference models whose model-id folder (kws01/, vww01/, ic01/, ad01/)
    ``dataset`` holds, in the benchmark's order: what a --dataset run without --model
    benchmarks. Raises ConfigError when it holds none, ModelError when such a model is missing."""
    ids = [model_id for model_id in MODEL_OF_ID if (Path(dataset) / model_id).is_dir()]
    if not ids:
        raise ConfigError(f"dataset folder {dataset} has no folder of an MLPerf Tiny model id "
                          f"({', '.join(MODEL_OF_ID)}); name the model of each of its folders "
                          "with --model")
    return [mlperf_tiny.model_path(MODEL_OF_ID[model_id]) for model_id in ids]


# ---------------------------------------------------------------- the pipeline


SCORE_ONLY = "the DUT prints one anomaly score, not the output tensor"


@dataclass(frozen=True)
class DeviceOutputs:
    """The outputs of a run of vectors, and how they came back from the DUT.

    kind: 'raw' (output bytes, hilbench firmware), 'printed' (the m-results floats of a
    plain MLPerf Tiny DUT) or 'score' (the one anomaly score a plain DUT prints instead of its
    outputs: ad01, hilbench.mlperf_wire). values: the output tensors in the model's dtype, or
    None when printed floats do not determine them exactly (``reason`` says why). scores: the
    dequantized outputs, the DUT's own floats when printed (one column of scores for 'score').
    """

    kind: str
    values: np.ndarray | None
    scores: np.ndarray
    printed_format: str | None = None
    reason: str = ""

    @property
    def exact(self) -> bool:
        return self.values is not None


@dataclass
class Dut:
    """A device under test, ready to infer: what runs, where, and how its figures are labelled."""

    board: ResolvedBoard
    model_path: Path
    model: CompiledModel
    firmware: "Firmware | PlatformioProject | None"
    """None for a pre-flashed board (flasher kind ``none``): hilbench did not build it."""
    endpoint: Endpoint
    session: DutSession
    runtime: str = "hilbench"
    """The runtime's name in results: hilbench's AOT runtime and its kernel set."""
    phases: Phases = field(default_factory=Phases)
    """Where the pipeline and the procedure report their phases and finished vectors (a
    progress display, if the front end attached one), and the host time of each phase."""

    @property
    def model_name(self) -> str:
        """The model's name in results (zoo folder name or file stem)."""
        return model_name(self.model_path)

    @property
    def mode(self) -> str:
        """hardware | emulated | host: what actually runs behind the session."""
        return self.endpoint.mode

    @property
    def latency_source(self) -> str:
        """device-timer | icount | host-clock: what the DUT's timings are based on."""
        return self.endpoint.latency_source

    def input_rows(self, inputs: np.ndarray) -> list[np.ndarray]:
        """Split ``inputs`` into one row per inference, checked against the model's input tensor.

        ``inputs`` has shape (rows, ...) with as many elements per row as the input tensor and
        the input's dtype (int8 for a quantized model): it is sent as is, never re-quantized.
        """
        spec = self.input_spec
        inputs = np.asarray(inputs)
        per_row = int(np.prod(spec.shape))
        if inputs.dtype != np.dtype(spec.dtype):
            raise ModelError(
                f"input rows have dtype {inputs.dtype} but model input '{spec.name}' is {spec.dtype}"
                + (f"; quantize them first: round(x / {spec.scale:g}) + {spec.zero_point}"
                   if spec.dtype in ("int8", "uint8") else ""))
        if inputs.ndim >= 1 and len(inputs) == 0:
            raise ModelError(f"the input array has no rows (shape {inputs.shape}); give at least one")
        if inputs.ndim < 1 or inputs.size == 0 or inputs[0].size != per_row:
            raise ModelError(
                f"input rows have shape {inputs.shape} but model input '{spec.name}' has "
                f"{per_row} elements {tuple(spec.shape)}; give an array of shape (rows, {per_row}) "
                f"or (rows, {', '.join(str(d) for d in spec.shape)})")
        return [np.ascontiguousarray(row).reshape(-1) for row in inputs]

    @property
    def input_spec(self) -> TensorSpec:
        """The model's single input tensor."""
        if len(self.model.inputs) != 1:
            raise ModelError(f"model {self.model_path} has {len(self.model.inputs)} inputs; "
                             "hilbench streams models with exactly one input")
        return self.model.inputs[0]

    @property
    def output_spec(self) -> TensorSpec:
        """The model's single output tensor."""
        if len(self.model.outputs) != 1:
            raise ModelError(f"model {self.model_path} has {len(self.model.outputs)} outputs; "
                             "hilbench reads models with exactly one output")
        return self.model.outputs[0]

    def __post_init__(self) -> None:
        if self.firmware is not None:
            check_profile(self.session, self.firmware)

    @property
    def plain_mlperf(self) -> bool:
        """A plain MLPerf Tiny DUT: none of hilbench's protocol extensions."""
        return self.session.capabilities is not None and self.session.capabilities.plain_mlperf

    def infer(self, inputs: np.ndarray, *, on_vector: Callable[[], None] | None = None,
              max_twins: int | None = None) -> tuple[np.ndarray, VectorRun]:
        """Run every row of ``inputs`` (one 'infer 1 0' each).

        Returns the outputs, shape (rows, *output shape without its batch dimension), in the
        model's output dtype, and the run record (device ticks per row, labels). A plain
        MLPerf Tiny DUT prints its outputs as floats: they are recovered exactly, or DutError
        says why they cannot be (a guessed tensor never comes out).
        """
        outputs, run = self.read_outputs(inputs, on_vector=on_vector, max_twins=max_twins)
        if outputs.kind == "score":
            raise DutError(f"the plain MLPerf Tiny DUT on {self.endpoint.url} runs "
                           f"'{self.session.capabilities.model}', which prints one anomaly score per "
                           "inference, not its output tensor: there are no outputs to write; "
                           "benchmark it with 'hilbench measure' or the pytest suite")
        if not outputs.exact:
            raise DutError(f"the outputs of the plain MLPerf Tiny DUT on {self.endpoint.url} cannot be "
                           f"recovered exactly from the floats it printed: {outputs.reason}")
        return outputs.values, run

    def read_outputs(self, inputs: np.ndarray, *, on_vector: Callable[[], None] | None = None,
                     max_twins: int | None = None, real_values: np.ndarray | None = None
                     ) -> tuple[DeviceOutputs, VectorRun]:
        """Run every row of ``inputs`` (one 'infer 1 0' each) and say how its outputs came back:
        raw bytes (hilbench firmware), printed floats or a printed anomaly score (a plain MLPerf
        Tiny DUT). ``real_values`` (rows like ``inputs``, or None): the float inputs the rows
        were quantized from, sent where the DUT's 'db' takes float features.

        on_vector() is called after each row (from any thread).

        On an emulated board the rows may be spread over several twins of the same firmware,
        one per CPU core (``max_twins``, default: the cores this process may use): each twin
        gives the same outputs and instruction counts for the same row
        (tests/test_twin_channels.py), and a twin only helps when it has enough work, which
        the first rows' time tells (:func:`helper_twins_for`). Timings never come from here.
        """
        rows = self.input_rows(inputs)
        reals = [None] * len(rows) if real_values is None else list(np.asarray(real_values).reshape(len(rows), -1))
        first = min(len(rows), FIRST_ROWS_ALONE)
        run = run_vectors(self.session, rows[:first], on_vector, reals[:first])
        seconds_per_row = run.harness.wall_s / first if run.harness else 0.0
        helpers = helper_twins_for(self, len(rows) - first, seconds_per_row, max_twins)
        if len(rows) > first:
            with self.more_twins(helpers) as twins:
                run = join_vector_runs(run, run_vectors([self.session, *twins], rows[first:], on_vector,
                                                       reals[first:]))
        spec = self.output_spec
        shape = (len(rows), *(tuple(spec.shape[1:]) if len(spec.shape) > 1 and spec.shape[0] == 1
                              else tuple(spec.shape)))
        if run.output_kind == "raw":
            values = run.as_array(spec.dtype).reshape(shape)
            scores = dequantize(values, spec.scale, spec.zero_point) if spec.scale else values.astype(np.float64)
            return DeviceOutputs("raw", values, scores), run
        if wire_format(self.session.capabilities.model).results == ANOMALY_SCORE:
            printed = run.as_array(np.float64)
            if printed.shape != (len(rows), 1):
                raise DutError(f"the plain MLPerf Tiny DUT on {self.endpoint.url} runs "
                               f"'{self.session.capabilities.model}', whose results are one anomaly "
                               f"score, but printed {printed.shape[-1]} numbers per inference")
            return DeviceOutputs("score", None, printed, reason=SCORE_ONLY), run
        printed = run.as_array(np.float64).reshape(shape)
        recovery = recover_printed_outputs(printed.reshape(len(rows), -1), spec.dtype, spec.scale,
                                           spec.zero_point)
        values = recovery.values.reshape(shape) if recovery.exact else None
        return DeviceOutputs("printed", values, printed, recovery.convention, recovery.reason), run

    @contextlib.contextmanager
    def more_twins(self, count: int) -> Iterator[list[DutSession]]:
        """``count`` more twins of this DUT's firmware, with their sessions (synchronised, the
        same profile); stopped on exit."""
        if count and (self.mode != "emulated" or self.firmware is None):
            raise DeployError(f"only an emulated board can start more twins, not {self.board.name} ({self.mode})")
        with contextlib.ExitStack() as stack:
            sessions = []
            for _ in range(count):
                endpoint = stack.enter_context(deploy(self.board, self.firmware))
                session = stack.enter_context(
                    DutSession.from_endpoint(endpoint, baudrate=self.board.board.connection.baud))
                if self.session.host_file_dir is None:  # the same channel as this DUT's session
                    session.host_file_dir = None
                session.sync()
                session.input_spec = db_input_spec(self.model)
                if session.profile() != self.session.capabilities:
                    raise DeployError(f"a second twin of {self.board.name} answers with another profile: "
                                      f"{session.capabilities} instead of {self.session.capabilities}")
                sessions.append(session)
            yield sessions

    def time(self, row: np.ndarray, n: int, warmup: int = 1, windows: int = 1) -> TimingRun:
        """Time ``windows`` commands 'infer n warmup' on one input row."""
        [single] = self.input_rows(np.asarray(row).reshape(1, -1))
        return time_inferences(self.session, single, n, warmup=warmup, windows=windows)

    def window_seconds(self, window_us: float) -> float:
        """A timing window of the board in seconds, from the DUT's m-lap-us stamps.

        On a twin, m-lap-us counts virtual microseconds: under -icount that is the
        instruction count x 2^shift ns, so the board's time is instructions x cpi / clock
        (label ``icount``), as for ticks.
        """
        if self.mode != "emulated":
            return window_us / 1e6
        shift = getattr(self.endpoint, "icount_shift", None)
        if shift is None:
            shift = self.board.board.twin.icount_shift
        instructions = window_us * 1000.0 / 2 ** shift
        return instructions * self.board.board.cpi / self.board.board.clock_hz

    def window_cycles(self, window_us: float) -> float:
        """CPU cycles of the board for a window of m-lap-us stamps (see window_seconds and
        cycles: the board's clock, or this computer's on the host)."""
        clock_hz = host_clock_hz() if self.mode == "host" else self.board.board.clock_hz
        return self.window_seconds(window_us) * clock_hz

    def inference_seconds(self, ticks: Sequence[int], timer_hz: int) -> np.ndarray:
        """Per-inference latency *of the board* in seconds, from device timer readings.

        On an emulated twin the emulator's own clock says nothing about the real board: the
        latency is its instruction count x cpi / the board's clock (label ``icount``).
        """
        if self.mode == "emulated":
            return self.cycles(ticks, timer_hz) / self.board.board.clock_hz
        return np.asarray(ticks, dtype=np.float64) / timer_hz

    def cycles(self, ticks: Sequence[int], timer_hz: int) -> np.ndarray:
        """CPU cycles of the board for device timer readings, labelled by :attr:`latency_source`.

        hardware: ticks at ``timer_hz`` scaled to the board's clock (exact when the timer is
        the CPU clock). emulated: the emulator's instruction count times the board's ``cpi``
        (an uncalibrated 1.0 unless the lab set it). host: seconds times this computer's
        CPU clock, an estimate.
        """
        if self.mode == "emulated":
            instructions = [self.endpoint.instructions_from_ticks(int(t), timer_hz) for t in ticks]
            return np.asarray(instructions, dtype=np.float64) * self.board.board.cpi
        seconds = np.asarray(ticks, dtype=np.float64) / timer_hz
        clock_hz = self.board.board.clock_hz if self.mode == "hardware" else host_clock_hz()
        return seconds * clock_hz

    def result_row(self, **figures: object) -> dict[str, object]:
        """A result row for this DUT: its identity and labels, plus ``figures`` (result columns)."""
        board = self.board.board
        row: dict[str, object] = {
            "board": board.name, "mode": self.mode, "core": board.core,
            "clock_hz": board.clock_hz or None, "model": self.model_name, "runtime": self.runtime,
            "latency_source": self.latency_source,
        }
        if self.mode == "emulated":
            # Emulated latency is instructions x cpi: the row says which cpi, and whose.
            row.update(cpi=board.cpi, cpi_source=board.cpi_source)
        row.update(figures)
        return row


# A helper twin boots in about 0.1 s; it is worth starting when the rows left would keep one
# twin busy for longer than this (host-clock seconds).
HELPER_TWIN_MIN_WORK_S = 1.0
# Rows run on the DUT's own twin before deciding on helpers: their time estimates the rest.
FIRST_ROWS_ALONE = 4


def usable_cores() -> int:
    """CPU cores this process may keep busy: those it may run on, divided among the
    pytest-xdist workers of the run (PYTEST_XDIST_WORKER_COUNT), each of which runs a board."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        workers = 1
    return max(1, cores // workers)


def helper_twins_for(dut: Dut, rows_left: int, seconds_per_row: float, max_twins: int | None = None) -> int:
    """How many more twins to start for ``rows_left`` rows that take about ``seconds_per_row``
    each on one twin: none on hardware or a host board, else enough to use the cores (at most
    ``max_twins`` twins in all), keeping at least HELPER_TWIN_MIN_WORK_S of work per twin."""
    if dut.mode != "emulated" or dut.firmware is None or rows_left < 2:
        return 0
    twins = min(max_twins or usable_cores(), rows_left,
                int(rows_left * seconds_per_row / HELPER_TWIN_MIN_WORK_S))
    return max(0, twins - 1)


def host_clock_hz() -> float:
    """This computer's CPU clock, from /proc/cpuinfo (the first core's current 'cpu MHz')."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("cpu mhz"):
                return float(line.split(":", 1)[1]) * 1e6
    except (OSError, ValueError):
        pass
    raise MeasurementError("cannot read this computer's CPU clock from /proc/cpuinfo, so host "
                           "timings cannot be given in cycles")


def compiled_model_dir(model_path: Path, kernels: str) -> Path:
    """Where a model's C sources go: the cache, keyed by the model file's content, the kernel
    set and the compiler's own sources, with the wire-format table it generates from (two
    checkouts or kernel sets never share a folder)."""
    from hilbench import mlperf_wire

    digest = hashlib.sha256(Path(model_path).read_bytes())
    digest.update(kernels.encode())
    for source in [*sorted(Path(compile_model.__code__.co_filename).parent.glob("*.py")),
                   Path(mlperf_wire.__file__)]:
        digest.update(source.read_bytes())
    return cache_root() / "compiled" / f"{model_name(model_path)}-{kernels}-{digest.hexdigest()[:16]}"


# Cores whose compilers define __ARM_FEATURE_DSP: there kernels="auto" runs the SMLAD/SXTB16
# inner loops; elsewhere (the host, Cortex-M0/M3) it runs the portable C loops.
DSP_CORES = frozenset({"cortex-m4", "cortex-m4f", "cortex-m7", "cortex-m33", "cortex-m35p",
                       "cortex-m55", "cortex-m85"})


def runtime_label(kernels: str, core: str) -> str:
    """The result row's runtime: the kernel set that actually runs on this core."""
    if kernels == "auto":
        return "hilbench-dsp" if core in DSP_CORES else "hilbench-portable"
    return f"hilbench-{kernels}"


def deploy(board: ResolvedBoard, firmware: Firmware | None) -> Endpoint:
    """Start ``firmware`` where ``board`` runs: a host process, an emulator, or a flashed board.

    ``firmware`` is None for a pre-flashed board (flasher kind ``none``). A board on a labgrid
    place is reached through the place, which stays held until the endpoint is closed.
    """
    if board.lab_place is not None:
        from hilbench.lab.places import place_endpoint

        return place_endpoint(board, firmware)
    deployer = _DEPLOYERS.get(board.mode)
    if deployer is None:
        raise DeployError(f"board '{board.name}' has mode '{board.mode}', which nothing can deploy")
    return deployer(board, firmware)


def _deploy_host(board: ResolvedBoard, firmware: Firmware) -> Endpoint:
    from hilbench.deploy.host import start_host_firmware

    return start_host_firmware(firmware)


def _deploy_emulated(board: ResolvedBoard, firmware: Firmware | None) -> Endpoint:
    if firmware is None:
        # A twin that runs already (lab file: kind emulated, connection.url, flasher none).
        from hilbench.deploy.qemu import TwinEndpoint

        return TwinEndpoint(url=board.port, mode="emulated", latency_source="icount",
                            description=f"running twin {board.name} at {board.port}",
                            icount_shift=board.board.twin.icount_shift)
    from hilbench.deploy.qemu import start_firmware

    return start_firmware(firmware)


def _deploy_hardware(board: ResolvedBoard, firmware: Firmware | None) -> Endpoint:
    if firmware is None:
        # flasher 'none': the lab keeps the board flashed; hilbench only talks to it.
        return Endpoint(url=board.port, mode="hardware", latency_source="device-timer",
                        description=f"pre-flashed {board.name} on {board.port}")
    from hilbench.deploy.flash import flash_board

    result = flash_board(board, firmware)
    return Endpoint(url=board.port, mode="hardware", latency_source="device-timer",
                    command=result.command,
                    description=f"{board.name} on {board.port}, flashed with {result.command[0]}")


# What deploying is called while it runs, per mode (a progress display shows it).
DEPLOY_PHASES = {"hardware": "flash", "emulated": "boot twin", "host": "start"}
_DEPLOYERS = {"host": _deploy_host, "emulated": _deploy_emulated, "hardware": _deploy_hardware}


@contextlib.contextmanager
def open_dut(board: ResolvedBoard, model: str | Path, *, opt_level: str = "O2",
             kernels: str = "auto", extra_defines: tuple[str, ...] = (),
             phases: Phases | None = None) -> Iterator[Dut]:
    """Compile, build, deploy and connect: yield a ready :class:`Dut`; stop everything on exit.

    ``board`` comes from :func:`hilbench.boards.resolve_boards`; ``model`` is a path or a
    name (see :func:`find_model`). ``phases`` receives the build and deploy phases and becomes
    the Dut's. Raises ModelError, BuildError, DeployError or DutError, each naming the stage
    and what to do.
    """
    phases = phases or Phases()
    phases.start("build")
    if board.port:
        check_network_port(board)
    model_path, compiled, firmware = prepare_firmware(board, model, opt_level=opt_level,
                                                      kernels=kernels, extra_defines=extra_defines)
    phases.start(DEPLOY_PHASES[board.mode])
    with contextlib.ExitStack() as stack:
        stack.enter_context(board_lock(board))   # no other process flashes or talks to it now
        endpoint = stack.enter_context(deploy(board, firmware))
        session = stack.enter_context(DutSession.from_endpoint(endpoint, baudrate=board.board.connection.baud))
        session.input_spec = db_input_spec(compiled)
        session.sync()
        capabilities = check_profile(session, firmware)
        if capabilities.plain_mlperf:
            _check_plain_dut_model(board, model_path, compiled, capabilities)
            # The firmware's own runtime, as the DUT names itself (MLPerf Tiny has no field
            # for it): 'mlperf-dut:dut-[unspecified]'.
            runtime = f"mlperf-dut:{session.name()}"
        else:
            if board.mode == "hardware" or firmware is None:
                _check_board_model(board, compiled, capabilities, flashed=firmware is not None)
            runtime = runtime_label(kernels, board.board.core)
        phases.stop()
        yield Dut(board, model_path, compiled, firmware, endpoint, session, runtime=runtime,
                  phases=phases)


def db_input_spec(compiled: CompiledModel) -> TensorSpec | None:
    """The input tensor a session's 'db' path quantizes float features with (None for a model
    with several inputs, whose 'db' bytes are the tensors themselves)."""
    return compiled.inputs[0] if len(compiled.inputs) == 1 else None


NETWORK_PORT_TIMEOUT_S = 3.0


def check_network_port(board: ResolvedBoard) -> None:
    """A board on a socket:// or rfc2217:// URL must answer before anything is built: the lab
    file vouched for it, so a closed port is an error, never a reason to run the twin."""
    url = board.port or ""
    if not url.startswith(("socket://", "rfc2217://")):
        return
    parts = urllib.parse.urlsplit(url)
    try:
        address = (parts.hostname, parts.port)
    except ValueError as error:  # a port outside 0..65535
        raise DutError(f"board '{board.name}': {url} is not a valid URL ({error}); fix "
                       f"boards.{board.name}.connection in the lab file") from None
    if not parts.hostname or parts.port is None:
        raise DutError(f"board '{board.name}': {url} names no host:port; fix "
                       f"boards.{board.name}.connection in the lab file")
    try:
        socket.create_connection(address, timeout=NETWORK_PORT_TIMEOUT_S).close()
    except OSError as error:
        raise DutError(f"board '{board.name}': nothing answers at {url} ({error.strerror or error}); "
                       "start the DUT's serial server there, or fix "
                       f"boards.{board.name}.connection in the lab file") from None


def prepare_firmware(board: ResolvedBoard, model: str | Path, *, opt_level: str = "O2",
                     kernels: str = "auto", extra_defines: tuple[str, ...] = ()
                     ) -> tuple[Path, CompiledModel, "Firmware | PlatformioProject | None"]:
    """Find and compile the model and build firmware for the board: (model path, compiled
    model, firmware). The firmware is None for a pre-flashed board."""
    model_path = find_model(model)
    compiled = compile_model(model_path, compiled_model_dir(model_path, kernels), kernels=kernels)
    return model_path, compiled, _build_for(board, compiled, opt_level, extra_defines)


def _build_for(board: ResolvedBoard, compiled: CompiledModel, opt_level: str,
               extra_defines: tuple[str, ...]) -> "Firmware | PlatformioProject | None":
    """The firmware to deploy: built locally, a PlatformIO project (PlatformIO builds it on
    upload), or None for a pre-flashed board or a running twin (flasher kind ``none``), or a
    twin that a lab serves on a labgrid place (the lab built and started it)."""
    on_place = board.lab_place is not None
    if board.mode != "host" and (board.port or on_place) and board.board.flasher.kind == "none":
        return None
    if board.mode == "emulated" and on_place:
        return None
    if board.mode == "hardware" and board.board.flasher.kind == "platformio":
        from hilbench.deploy.platformio_project import generate_project

        # PlatformIO builds and uploads in one step (hilbench/deploy/flash.py): write its project.
        return generate_project(board.board.build.platformio_env or "", compiled,
                                baud=board.board.connection.baud, opt_level=opt_level,
                                extra_defines=extra_defines)
    if not board.firmware_target:
        raise BuildError(
            f"board '{board.name}' runs as {board.describe()}, but has no local firmware target "
            f"(build.firmware_target) and does not upload with PlatformIO: use --emulate, or "
            f"flash it yourself and set boards.{board.name}.flasher.kind: none in hilbench.yaml")
    return build_firmware(board.firmware_target, compiled, opt_level=opt_level,
                          extra_defines=extra_defines)


def check_profile(session: DutSession, firmware) -> "Capabilities":
    """The DUT's profile, checked against firmware that hilbench built: that firmware says
    whether it has the extensions, so a profile that disagrees was damaged on the line (a
    lost m-hb-caps line looks like a plain DUT). It is read once more, then refused."""
    capabilities = session.capabilities or session.profile()
    if firmware is None:  # pre-flashed: the profile itself says what the DUT is
        return capabilities
    built_plain = PLAIN_MLPERF_DEFINE in getattr(firmware, "defines", ())
    if capabilities.plain_mlperf != built_plain:
        capabilities = session.profile()
        if capabilities.plain_mlperf != built_plain:
            raise DutError(
                f"the DUT on {session.url} answers 'profile' "
                f"{'without' if capabilities.plain_mlperf else 'with'} hilbench's extensions, but "
                f"its firmware was built {'without' if built_plain else 'with'} them: the line is "
                f"damaged, or another device answers; last lines: {session.log.tail()!r}")
    return capabilities


def _check_plain_dut_model(board: ResolvedBoard, model_path: Path, compiled: CompiledModel,
                           capabilities) -> None:
    """A plain MLPerf Tiny DUT says only a model name. An MLPerf Tiny id (kws01, ...) names its
    reference model; any other name needs the lab file to say which .tflite the board runs
    (``boards.<name>.model``), and the tensor sizes then come from that file."""
    reported = capabilities.model
    if reported in MODEL_OF_ID:
        if compiled.model_name != reported:
            raise DeployError(
                f"the board '{board.name}' on {board.port} runs the MLPerf Tiny model "
                f"'{reported}' ({MODEL_OF_ID[reported]}), not '{model_name(model_path)}'; "
                f"benchmark it with --model={MODEL_OF_ID[reported]}")
        return
    declared = board.board.model
    if not declared:
        raise DeployError(
            f"the board '{board.name}' on {board.port} is a plain MLPerf Tiny DUT that runs "
            f"model '{reported}', which is not an MLPerf Tiny id ({', '.join(MODEL_OF_ID)}); say "
            f"which .tflite it runs with boards.{board.name}.model in the lab file")
    if find_model(declared).read_bytes() != Path(model_path).read_bytes():
        raise DeployError(
            f"the board '{board.name}' on {board.port} runs '{declared}' "
            f"(boards.{board.name}.model in the lab file), not '{model_path}'; benchmark it "
            f"with --model={declared}")


def _check_board_model(board: ResolvedBoard, compiled: CompiledModel, capabilities,
                       flashed: bool) -> None:
    """A board must run this model: same name and tensor sizes in its profile. For a flashed
    board this proves the flash took; a pre-flashed one may simply run something else.

    (The profile cannot prove the weights are the same; flash the board from the same file.)
    """
    input_bytes = sum(spec.bytes for spec in compiled.inputs)
    output_bytes = sum(spec.bytes for spec in compiled.outputs)
    found = (capabilities.model, capabilities.input_bytes, capabilities.output_bytes)
    if found != (compiled.model_name, input_bytes, output_bytes) and flashed:
        raise DeployError(
            f"board '{board.name}' on {board.port or board.describe()} was flashed with '{compiled.model_name}' "
            f"({input_bytes} / {output_bytes} bytes) but reports model '{found[0]}' ({found[1]} "
            f"input / {found[2]} output bytes): the flash did not take, or another board answers "
            "on that port (set connection.serial_number in hilbench.yaml)")
    if found != (compiled.model_name, input_bytes, output_bytes):
        raise DeployError(
            f"the pre-flashed board '{board.name}' on {board.port or board.describe()} runs model '{found[0]}' "
            f"({found[1]} input / {found[2]} output bytes), not '{compiled.model_name}' "
            f"({input_bytes} / {output_bytes}); flash it with firmware for this model")
