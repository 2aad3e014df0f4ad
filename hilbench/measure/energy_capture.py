"""Read a JLS v2 capture recorded by the Joulescope software into a :class:`PowerTrace`.

The file must hold, for one Joulescope (source), the fixed-rate signals ``current`` (A) and
``voltage`` (V), or ``power`` (W), plus the digital input the DUT pulses at each timestamp
(``gpi[0]`` by default). These are the names the Joulescope UI and ``pyjoulescope_driver``'s
recorder give them. Analyse the result with :func:`hilbench.measure.energy.measure_energy`
and ``energy_source="capture"``.

The whole capture is read into memory (4 bytes per analog sample); keep captures to the run
being measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hilbench.errors import MeasurementError
from hilbench.measure.energy import PowerTrace, SampledSignal, power_trace_from_signals

DEFAULT_MARKER_SIGNAL = "gpi[0]"
_ANALOG_SIGNALS = ("current", "voltage", "power")


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


def read_jls_capture(path: str | Path, marker_signal: str = DEFAULT_MARKER_SIGNAL,
                     serial_number: str | None = None,
                     supply_voltage_v: float | None = None) -> PowerTrace:
    """Load the power and timestamp-GPI signals of a JLS v2 capture.

    ``serial_number`` picks one Joulescope when the file holds several. ``supply_voltage_v``
    is only used when the file has current but neither voltage nor power.
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
    return power_trace_from_signals(
        marker=signals[marker_signal], origin=origin, current_a=signals["current"],
        voltage_v=signals["voltage"], power_w=signals["power"], supply_voltage_v=supply_voltage_v)
