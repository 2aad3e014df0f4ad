"""run_vectors() and time_inferences(): see the package docstring."""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence, Union

import numpy as np

from hilbench.errors import DutError
from hilbench.session import DutSession

Outputs = Union[bytes, tuple[float, ...]]


class OutputsChangedWarning(UserWarning):
    """A DUT's outputs after 'infer N W' differ from those after 'infer 1 0' on the same input."""


class TicksDroppedWarning(UserWarning):
    """The DUT kept per-inference ticks for only some of the timed inferences (N > max-ticks)."""


@dataclass(frozen=True)
class HarnessTimes:
    """Where the harness's own time went during a vector run: host-clock seconds, summed over
    the DUTs that ran vectors, never a device figure.

    load_path: the channel that carried the inputs ('host-file', 'bulk-crc' or 'hex', see
    DutSession.load_path); bytes_in / bytes_out: input and raw output bytes moved.
    load_s: loading inputs; infer_s: the infer commands (device compute, plus the command's
    round trip and the tick readout); read_s: reading the outputs back. wall_s: from the first
    vector to the last, as a user waits for it; duts: how many DUTs shared the vectors.
    """

    load_path: str
    bytes_in: int
    bytes_out: int
    load_s: float
    infer_s: float
    read_s: float
    wall_s: float
    duts: int = 1

    @property
    def load_bytes_per_s(self) -> float | None:
        """Effective input bytes per second of the load channel (host-clock)."""
        return self.bytes_in / self.load_s if self.load_s > 0 else None

    def as_dict(self) -> dict:
        return {**self.__dict__, "load_bytes_per_s": self.load_bytes_per_s, "clock": "host-clock"}

    def __add__(self, other: "HarnessTimes") -> "HarnessTimes":
        """Two parts of one run, one after the other (wall times add up)."""
        if other.load_path != self.load_path:
            raise DutError(f"vector runs over different channels ({self.load_path}, {other.load_path}) "
                           "cannot be added up")
        return HarnessTimes(self.load_path, self.bytes_in + other.bytes_in, self.bytes_out + other.bytes_out,
                            self.load_s + other.load_s, self.infer_s + other.infer_s,
                            self.read_s + other.read_s, self.wall_s + other.wall_s, max(self.duts, other.duts))


@dataclass(frozen=True)
class VectorRun:
    """The outputs of one 'infer 1 0' per input vector.

    outputs: raw output bytes per vector (output_kind 'raw', hilbench DUTs) or the dequantized
    m-results floats (output_kind 'results', plain MLPerf Tiny DUTs).
    ticks: device timer ticks of each vector's inference ('cycles' extension), else None.
    window_us: m-lap-us difference around each vector's inference (None in energy mode).
    """

    outputs: tuple[Outputs, ...]
    output_kind: str
    ticks: tuple[int, ...] | None
    window_us: tuple[int | None, ...]
    timer_name: str | None
    timer_hz: int | None
    mode: str | None
    latency_source: str | None
    harness: HarnessTimes | None = None
    """Where the harness's time went (host-clock); None when not recorded."""

    def as_array(self, dtype: np.dtype | str) -> np.ndarray:
        """Raw outputs as an array of shape (vectors, bytes // itemsize) in the model's dtype;
        printed results (output_kind 'results') as float64, which holds each printed decimal
        as the same number the text says."""
        if self.output_kind != "raw":
            return np.array(self.outputs, dtype=np.float64)
        return np.stack([np.frombuffer(o, dtype=dtype) for o in self.outputs]) if self.outputs else np.empty((0, 0), dtype)


@dataclass(frozen=True)
class TimingRun:
    """Device timings of 'infer N W' windows on one input.

    per_inference_s: one figure per timed inference from the DUT's per-inference ticks
    (timing_source 'ticks'), else one per window from the m-lap-us stamps divided by N
    (timing_source 'lap-us'; it includes the DUT's loop and input-copy overhead), or empty
    ('none': an energy-mode DUT without ticks, timed by the power probe instead).
    ticks_dropped: timed inferences whose ticks the DUT could not keep (N > its max-ticks).
    outputs_changed: the outputs after a window differ from those after 'infer 1 0'.
    """

    n: int
    warmup: int
    windows: int
    per_inference_s: tuple[float, ...]
    timing_source: str
    window_us: tuple[int | None, ...]
    ticks: tuple[int, ...] | None
    ticks_dropped: int
    timer_name: str | None
    timer_hz: int | None
    reference_outputs: Outputs
    window_outputs: tuple[Outputs, ...]
    outputs_changed: bool
    mode: str | None
    latency_source: str | None


def split_output_tensors(raw: bytes, output_specs: Sequence) -> list[np.ndarray]:
    """Cuts one vector's raw output bytes into arrays, one per output tensor.

    output_specs: the compiled model's outputs (objects with name, shape, dtype and bytes), in
    model order, as the DUT sends them back to back.
    """
    expected = sum(spec.bytes for spec in output_specs)
    if len(raw) != expected:
        raise DutError(f"DUT sent {len(raw)} output bytes; the model's outputs take {expected}")
    arrays, offset = [], 0
    for spec in output_specs:
        chunk = raw[offset:offset + spec.bytes]
        arrays.append(np.frombuffer(chunk, dtype=np.dtype(spec.dtype).newbyteorder("<")).reshape(spec.shape))
        offset += spec.bytes
    return arrays


def _as_bytes(vector: bytes | bytearray | memoryview | np.ndarray) -> bytes:
    if isinstance(vector, np.ndarray):
        return np.ascontiguousarray(vector).tobytes()
    return bytes(vector)


def run_vectors(session: DutSession | Sequence[DutSession], inputs: Iterable[bytes | np.ndarray],
                on_vector: Callable[[], None] | None = None,
                real_values: Sequence[np.ndarray] | None = None) -> VectorRun:
    """Runs each input vector with 'infer 1 0' and reads its outputs (raw bytes if available).

    A numpy input row is sent as its bytes (the caller quantizes it to the model's input dtype).
    ``real_values`` (one row per input, or None) are the float inputs the rows were quantized
    from: a DUT whose 'db' takes float features gets them (DutSession.load_input).
    Several sessions, on DUTs that run the same firmware, share the vectors: each takes the
    next vector when it is free (one thread per extra session), and the outputs and ticks come
    back in input order. on_vector() is called after each vector, from any of those threads.
    """
    sessions = [session] if isinstance(session, DutSession) else list(session)
    rows = [_as_bytes(vector) for vector in inputs]
    reals = list(real_values) if real_values is not None else [None] * len(rows)
    caps = [s.capabilities or s.profile() for s in sessions]
    paths = {s.load_path for s in sessions}
    if any(c != caps[0] for c in caps[1:]) or len(paths) > 1:
        raise DutError("the DUTs sharing the vectors run different firmware or channels: "
                       + "; ".join(f"{s.url}: {c.model}, {sorted(c.extensions)}, {s.load_path}"
                                   for s, c in zip(sessions, caps)))
    started = time.perf_counter()
    results: list[_VectorResult | None] = [None] * len(rows)
    next_row = iter(range(len(rows)))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work(dut: DutSession) -> None:
        while not failures:
            with lock:
                index = next(next_row, None)
            if index is None:
                return
            try:
                results[index] = _run_one(dut, caps[0], rows[index], reals[index])
            except BaseException as error:  # stop the other threads, re-raised below
                failures.append(error)
                return
            if on_vector is not None:
                on_vector()

    threads = [threading.Thread(target=work, args=(dut,), daemon=True) for dut in sessions[1:]]
    for thread in threads:
        thread.start()
    work(sessions[0])
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    done = [r for r in results if r is not None]
    times = HarnessTimes(
        load_path=paths.pop() if paths else "", bytes_in=sum(len(r) for r in rows),
        bytes_out=sum(len(r.outputs) for r in done if isinstance(r.outputs, bytes)),
        load_s=sum(r.load_s for r in done), infer_s=sum(r.infer_s for r in done),
        read_s=sum(r.read_s for r in done), wall_s=time.perf_counter() - started, duts=len(sessions))
    return VectorRun(
        outputs=tuple(r.outputs for r in done),
        output_kind="raw" if caps[0].raw_output else "results",
        ticks=tuple(r.tick for r in done) if caps[0].cycles else None,
        window_us=tuple(r.window_us for r in done),
        timer_name=caps[0].timer_name,
        # the checksummed rate of the ticks replies, not the profile's unprotected one
        timer_hz=done[-1].timer_hz if done and done[-1].timer_hz else caps[0].timer_hz,
        mode=sessions[0].mode,
        latency_source=sessions[0].latency_source,
        harness=times,
    )


def join_vector_runs(first: VectorRun, second: VectorRun) -> VectorRun:
    """One run of first's vectors, then second's (from DUTs with the same firmware)."""
    if (first.output_kind, first.timer_hz, first.mode) != (second.output_kind, second.timer_hz, second.mode):
        raise DutError("vector runs from different firmware or modes cannot be joined")
    ticks = None if first.ticks is None or second.ticks is None else first.ticks + second.ticks
    harness = None if first.harness is None or second.harness is None else first.harness + second.harness
    return replace(first, outputs=first.outputs + second.outputs, ticks=ticks,
                   window_us=first.window_us + second.window_us, harness=harness)


@dataclass(frozen=True)
class _VectorResult:
    outputs: Outputs
    window_us: int | None
    tick: int | None
    timer_hz: int | None
    load_s: float
    infer_s: float
    read_s: float


def _run_one(session: DutSession, caps, data: bytes, real_values: np.ndarray | None) -> _VectorResult:
    """One vector: load it, 'infer 1 0', read the outputs; with the host time of each step."""
    started = time.perf_counter()
    session.load_input(data, real_values)
    loaded = time.perf_counter()
    # quiet: the outputs come from read_outputs(), the printed results are not needed.
    result = session.infer(1, 0, quiet=caps.raw_output)
    inferred = time.perf_counter()
    outputs = session.read_outputs()
    return _VectorResult(outputs=outputs, window_us=result.window_us,
                         tick=result.ticks[0] if result.ticks else None, timer_hz=result.timer_hz,
                         load_s=loaded - started, infer_s=inferred - loaded,
                         read_s=time.perf_counter() - inferred)


def time_inferences(
    session: DutSession, input: bytes | np.ndarray, n: int, warmup: int = 1, windows: int = 1
) -> TimingRun:
    """Times `windows` commands 'infer n warmup' on one input, after an 'infer 1 0' reference.

    Warns with OutputsChangedWarning (and sets outputs_changed) when the outputs after a
    window differ from the reference outputs: the DUT then does not re-load its input per
    inference, and its printed results for N+W > 1 are not to be trusted.
    """
    if n < 1 or warmup < 0 or windows < 1:
        raise DutError(f"time_inferences needs n >= 1, warmup >= 0, windows >= 1; got {n}, {warmup}, {windows}")
    caps = session.capabilities or session.profile()
    session.load_input(_as_bytes(input))
    session.infer(1, 0)
    reference = session.read_outputs()

    window_outputs: list[Outputs] = []
    window_us: list[int | None] = []
    all_ticks: list[int] = []
    timer_hz = None
    dropped = 0
    for _ in range(windows):
        result = session.infer(n, warmup)
        window_outputs.append(session.read_outputs())
        window_us.append(result.window_us)
        if result.ticks is not None:
            all_ticks += result.ticks
            timer_hz = result.timer_hz
            dropped += n - len(result.ticks)

    if caps.cycles and all_ticks:
        source = "ticks"
        per_inference = tuple(t / timer_hz for t in all_ticks)
    elif all(us is not None for us in window_us):
        source = "lap-us"
        per_inference = tuple(us / 1e6 / n for us in window_us)
    else:
        source, per_inference = "none", ()

    changed = any(outputs != reference for outputs in window_outputs)
    if changed:
        warnings.warn(
            OutputsChangedWarning(
                f"DUT on {session.url}: outputs after 'infer {n} {warmup}' differ from those after "
                f"'infer 1 0' on the same input ({_describe(reference)} vs {_describe(window_outputs[0])}); "
                "it does not re-load its input before each inference, so its results for N+W > 1 "
                "are not valid. Outputs are taken from 'infer 1 0' only."
            ),
            stacklevel=2,
        )
    if dropped:
        warnings.warn(
            TicksDroppedWarning(
                f"DUT on {session.url} kept ticks for only {len(all_ticks)} of {n * windows} timed inferences "
                f"(max-ticks {caps.max_ticks}); use more windows with a smaller n"
            ),
            stacklevel=2,
        )
    return TimingRun(
        n=n, warmup=warmup, windows=windows,
        per_inference_s=per_inference, timing_source=source,
        window_us=tuple(window_us), ticks=tuple(all_ticks) if caps.cycles else None, ticks_dropped=dropped,
        timer_name=caps.timer_name, timer_hz=timer_hz or caps.timer_hz,
        reference_outputs=reference, window_outputs=tuple(window_outputs), outputs_changed=changed,
        mode=session.mode, latency_source=session.latency_source,
    )


def _describe(outputs: Outputs) -> str:
    if isinstance(outputs, bytes):
        return outputs.hex() if len(outputs) <= 16 else f"{outputs[:16].hex()}... ({len(outputs)} bytes)"
    shown = ",".join(f"{v:.3f}" for v in outputs[:12])
    return f"[{shown}{',...' if len(outputs) > 12 else ''}]"
