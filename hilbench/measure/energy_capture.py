"""Read a JLS v2 capture recorded by the Joulescope software into a :class:`PowerTrace`.

The file must hold, for one Joulescope (source), the fixed-rate signals ``current`` (A) and
``voltage`` (V), or ``power`` (W), plus the digital input the DUT pulses at each timestamp
(``gpi[0]`` by default). These are the names the Joulescope UI and ``pyjoulescope_driver``'s
recorder give them. Analyse the result with :func:`hilbench.measure.energy.measure_energy`
and ``energy_source="capture"``.

The whole capture is read into memory (4 bytes per analog sample); keep captures to the run
being measured. A recording that spans more than the energy windows (the whole benchmark
session, several models) is cut to the run's wall-clock span with ``utc_span``: the Joulescope
software stores UTC time stamps along each signal, so the host's clock finds the windows in it.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from hilbench.errors import MeasurementError
from hilbench.measure.energy import PowerTrace, SampledSignal, power_trace_from_signals

DEFAULT_MARKER_SIGNAL = "gpi[0]"
_ANALOG_SIGNALS = ("current", "voltage", "power")
# JLS time stamps: seconds since 2018-01-01T00:00:00Z as 34Q30 fixed point (pyjls time64).
_JLS_EPOCH_UNIX_S = 1514764800
_JLS_TIME_ONE_S = 1 << 30


def _import_pyjls():
    try:
        import pyjls
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise MeasurementError(
            "reading JLS captures needs pyjls: pip install 'hilbench[energy]'") from error
    return pyjls


def _read_signal(reader, signal, pyjls) -> SampledSignal:
    """One fixed-rate signal, unpacked to one value per sample."""
    length = int(signal.length)
    raw = reader.fsr(signal.signal_id, 0, length) if length else np.empty(0, np.float32)
    if signal.data_type == pyjls.DataType.U1:
        values = np.unpackbits(np.asarray(raw, dtype=np.uint8), count=length, bitorder="little")
    elif signal.data_type == pyjls.DataType.U4:
        packed = np.asarray(raw, dtype=np.uint8)
        values = np.empty(packed.size * 2, dtype=np.uint8)
        values[0::2] = packed & 0x0F
        values[1::2] = packed >> 4
        values = values[:length]
    else:
        values = np.asarray(raw)
    rate = float(signal.sample_rate)
    # sample_id_offset is the probe's sample counter at the first recorded sample; it puts
    # all signals of one source on one time axis.
    return SampledSignal(rate, int(signal.sample_id_offset) / rate, values)


def unix_to_jls_time(unix_s: float) -> int:
    """A Unix time in seconds as a JLS (pyjls time64) time stamp."""
    return int(round((unix_s - _JLS_EPOCH_UNIX_S) * _JLS_TIME_ONE_S))


def _probe_time_s(reader, signal, unix_s: float, origin: str) -> float:
    """The probe-clock time (sample_id / rate) of a wall-clock instant, from the signal's UTC map."""
    try:
        index = reader.timestamp_to_sample_id(signal.signal_id, unix_to_jls_time(unix_s))
    except Exception as error:  # pyjls raises plain RuntimeError when the map is empty
        raise MeasurementError(
            f"{origin}: has no UTC time stamps for {signal.name!r} ({error}), so the run's "
            "energy windows cannot be found in it by time; record with the Joulescope UI or "
            "pyjoulescope_driver's recorder, which write them") from error
    return (int(signal.sample_id_offset) + float(index)) / float(signal.sample_rate)


def _crop(signal: SampledSignal, start_s: float, end_s: float) -> SampledSignal:
    """The samples of ``signal`` that lie wholly within [start_s, end_s] on the probe clock."""
    rate = signal.sample_rate_hz
    first = max(0, math.ceil((start_s - signal.first_sample_s) * rate))
    stop = min(len(signal.values), math.floor((end_s - signal.first_sample_s) * rate))
    stop = max(first, stop)
    return SampledSignal(rate, signal.first_sample_s + first / rate, np.asarray(signal.values)[first:stop])


def read_jls_capture(path: str | Path, marker_signal: str = DEFAULT_MARKER_SIGNAL,
                     serial_number: str | None = None,
                     supply_voltage_v: float | None = None,
                     utc_span: tuple[float, float] | None = None) -> PowerTrace:
    """Load the power and timestamp-GPI signals of a JLS v2 capture.

    ``serial_number`` picks one Joulescope when the file holds several. ``supply_voltage_v``
    is only used when the file has current but neither voltage nor power. ``utc_span``
    (start, end) in Unix seconds keeps only the samples recorded in that wall-clock span.
    """
    pyjls = _import_pyjls()
    path = Path(path)
    if not path.is_file():
        raise MeasurementError(f"energy capture {str(path)!r} does not exist")
    origin = f"capture {path.name}"
    try:
        reader = pyjls.Reader(str(path))
    except Exception as error:  # pyjls raises plain RuntimeError on a corrupt file
        raise MeasurementError(f"{origin}: not a readable JLS v2 file ({error})") from error
    with reader:
        sources = {sid: src for sid, src in reader.sources.items() if sid != 0}
        if serial_number is not None:
            sources = {sid: src for sid, src in sources.items() if src.serial_number == serial_number}
            if not sources:
                known = ", ".join(src.serial_number for sid, src in reader.sources.items() if sid)
                raise MeasurementError(
                    f"{origin}: no Joulescope with serial number {serial_number!r} (file has: {known})")
        wanted = (*_ANALOG_SIGNALS, marker_signal)
        found: dict[str, list] = {name: [] for name in wanted}
        for signal in reader.signals.values():
            if signal.source_id in sources and signal.signal_type == pyjls.SignalType.FSR \
                    and signal.name in found:
                found[signal.name].append(signal)
        for name, signals in found.items():
            if len(signals) > 1:
                serials = ", ".join(sources[s.source_id].serial_number for s in signals)
                raise MeasurementError(
                    f"{origin}: several Joulescopes recorded {name!r} ({serials}); "
                    "pass the serial number of the one that measured the DUT")
        if not found[marker_signal]:
            names = sorted({s.name for s in reader.signals.values() if s.signal_id != 0})
            raise MeasurementError(
                f"{origin}: has no timestamp signal {marker_signal!r} (signals: {', '.join(names)}); "
                "record the GPI the DUT pulses, or name it with marker_signal")
        signals = {name: _read_signal(reader, found[name][0], pyjls) if found[name] else None
                   for name in wanted}
        if utc_span is not None:
            reference = next(found[name][0] for name in (*_ANALOG_SIGNALS, marker_signal) if found[name])
            start_s, end_s = (_probe_time_s(reader, reference, t, origin) for t in utc_span)
            if end_s <= start_s:
                raise MeasurementError(f"{origin}: the requested span {utc_span} is empty")
            signals = {name: None if signal is None else _crop(signal, start_s, end_s)
                       for name, signal in signals.items()}
            if all(s is None or len(s.values) == 0 for s in signals.values()):
                raise MeasurementError(
                    f"{origin}: holds no samples between {_describe_unix(utc_span[0])} and "
                    f"{_describe_unix(utc_span[1])} (the run's energy windows); was it recorded "
                    "during this run?")
    return power_trace_from_signals(
        marker=signals[marker_signal], origin=origin, current_a=signals["current"],
        voltage_v=signals["voltage"], power_w=signals["power"], supply_voltage_v=supply_voltage_v)


def _describe_unix(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, timezone.utc).isoformat(timespec="milliseconds")
