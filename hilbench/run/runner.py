"""run_vectors() and time_inferences(): see the package docstring."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence, Union

import numpy as np

from hilbench.errors import DutError
from hilbench.session import DutSession

Outputs = Union[bytes, tuple[float, ...]]


class OutputsChangedWarning(UserWarning):
    """A DUT's outputs after 'infer N W' differ from those after 'infer 1 0' on the same input."""


class TicksDroppedWarning(UserWarning):
    """The DUT kept per-inference ticks for only some of the timed inferences (N > max-ticks)."""


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

    def as_array(self, dtype: np.dtype | str) -> np.ndarray:
        """Raw outputs as an array of shape (vectors, bytes // itemsize) in the model's dtype."""
        if self.output_kind != "raw":
            return np.array(self.outputs, dtype=np.float32)
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


def run_vectors(session: DutSession, inputs: Iterable[bytes | np.ndarray]) -> VectorRun:
    """Runs each input vector with 'infer 1 0' and reads its outputs (raw bytes if available).

    A numpy input row is sent as its bytes (the caller quantizes it to the model's input dtype).
    """
    caps = session.capabilities or session.profile()
    outputs: list[Outputs] = []
    ticks: list[int] = []
    window_us: list[int | None] = []
    timer_hz = caps.timer_hz
    for vector in inputs:
        session.load_input(_as_bytes(vector))
        result = session.infer(1, 0)
        outputs.append(session.read_outputs())
        window_us.append(result.window_us)
        if result.ticks:
            ticks.append(result.ticks[0])
            timer_hz = result.timer_hz  # the checksummed rate, not the profile's unprotected one
    return VectorRun(
        outputs=tuple(outputs),
        output_kind="raw" if caps.raw_output else "results",
        ticks=tuple(ticks) if caps.cycles else None,
        window_us=tuple(window_us),
        timer_name=caps.timer_name,
        timer_hz=timer_hz,
        mode=session.mode,
        latency_source=session.latency_source,
    )


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
