"""Live energy measurement with a Joulescope (JS220 / JS110) through ``pyjoulescope_driver``.

Usage by the run stage::

    with JoulescopeProbe(serial_number="000415") as probe:
        probe.start()
        ...  # run the timed windows on the DUT; it pulses the timestamp GPIO
        trace = probe.stop()
    result = measure_energy(trace, inferences_per_window, energy_source="probe")

The probe streams current, voltage and one general-purpose input (the DUT's timestamp pin)
with the driver's publish/subscribe API: ``{device}/s/i/ctrl`` = 1 starts a stream,
``{device}/s/i/!data`` delivers blocks of samples. Each block carries ``sample_id`` (the
probe's sample counter at ``sample_rate``) and ``decimate_factor``; block ``k`` of a signal
covers samples ``sample_id // decimate_factor`` onward at ``sample_rate / decimate_factor``.
That counter puts the three signals on one time axis, exactly as a JLS recording does, so the
same :func:`~hilbench.measure.energy.measure_energy` analyses both.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import numpy as np

from hilbench.errors import MeasurementError
from hilbench.measure.energy import PowerTrace, SampledSignal, power_trace_from_signals

# The streams the analysis needs: (name, topic under {device}/s/, element kind).
_CURRENT = ("current", "i", "f32")
_VOLTAGE = ("voltage", "v", "f32")


class _SignalRecorder:
    """Collects the data blocks of one stream and joins them into a :class:`SampledSignal`."""

    def __init__(self, name: str, kind: str, origin: str):
        self.name, self.kind, self.origin = name, kind, origin
        self.blocks: list[tuple[int, float, np.ndarray]] = []

    def add(self, value: dict) -> None:
        decimate = int(value["decimate_factor"]) or 1
        index = int(value["sample_id"]) // decimate
        rate = float(value["sample_rate"]) / decimate
        data = np.array(value["data"], copy=True)
        if self.kind == "u1":  # 8 samples per byte, least significant bit first
            data = np.unpackbits(data.astype(np.uint8), bitorder="little")
        self.blocks.append((index, rate, data))

    def signal(self) -> SampledSignal:
        if not self.blocks:
            raise MeasurementError(
                f"{self.origin}: received no {self.name} samples; check that the probe is "
                "streaming (USB connection, device not in use by the Joulescope UI)")
        rate = self.blocks[0][1]
        first = self.blocks[0][0]
        parts = []
        expected = first
        for (index, block_rate, data), following in zip(self.blocks, [*self.blocks[1:], None]):
            if block_rate != rate:
                raise MeasurementError(
                    f"{self.origin}: {self.name} sample rate changed during the run "
                    f"({rate} -> {block_rate} Hz); do not reconfigure the probe while measuring")
            if index != expected:
                raise MeasurementError(
                    f"{self.origin}: {self.name} stream {'lost' if index > expected else 'repeated'} "
                    f"{abs(index - expected)} samples at t={expected / rate:.6f} s; the host could "
                    "not keep up: lower the sampling rate or close other USB traffic, then run again")
            if self.kind == "u1" and following is not None:
                # Packed bits are padded to whole bytes; the next block says where this one ends.
                count = following[0] - index
                if not 0 <= len(data) - count < 8:
                    raise MeasurementError(
                        f"{self.origin}: {self.name} block at sample {index} has {len(data)} bits "
                        f"but the next block starts {count} samples later")
                data = data[:count]
            parts.append(data)
            expected += len(data)
        return SampledSignal(rate, first / rate, np.concatenate(parts))


class JoulescopeProbe:
    """A Joulescope opened by serial number, streaming current, voltage and one GPI.

    ``gpi`` is the general-purpose input wired to the DUT's timestamp pin (0..3).
    ``sample_rate_hz`` sets the probe's output rate (``h/fs``); None keeps the device default.
    ``driver_factory`` makes the driver object (``pyjoulescope_driver.Driver`` by default).
    """

    def __init__(self, serial_number: str, gpi: int = 0, sample_rate_hz: int | None = None,
                 driver_factory: Callable[[], Any] | None = None, timeout_s: float = 5.0):
        if gpi not in (0, 1, 2, 3):
            raise MeasurementError(f"Joulescope GPI {gpi!r} does not exist (use 0, 1, 2 or 3)")
        self.serial_number = str(serial_number)
        self.gpi = gpi
        self.sample_rate_hz = sample_rate_hz
        self.timeout_s = timeout_s
        self._driver_factory = driver_factory
        self._driver = None
        self._device_path: str | None = None
        self._recorders: dict[str, _SignalRecorder] = {}
        self._lock = threading.Lock()
        self._streaming = False

    @property
    def origin(self) -> str:
        """Names the probe in error messages."""
        return f"Joulescope {self.serial_number}"

    def _streams(self) -> list[tuple[str, str, str]]:
        return [_CURRENT, _VOLTAGE, (f"gpi[{self.gpi}]", f"gpi/{self.gpi}", "u1")]

    def open(self) -> "JoulescopeProbe":
        """Find the probe by serial number, open it and configure ranges and rate."""
        factory = self._driver_factory
        if factory is None:
            try:
                from pyjoulescope_driver import Driver
            except ImportError as error:  # pragma: no cover - depends on the environment
                raise MeasurementError(
                    "live energy measurement needs pyjoulescope_driver: "
                    "pip install 'hilbench[energy]'") from error
            factory = Driver
        self._driver = factory()
        try:
            paths = list(self._driver.device_paths(timeout=self.timeout_s))
            matches = [p for p in paths if p.lower().split("/")[-1] == self.serial_number.lower()]
            if not matches:
                connected = ", ".join(paths) or "none"
                raise MeasurementError(
                    f"{self.origin} is not connected (connected Joulescopes: {connected}); check "
                    "its USB cable or the probe serial number in the lab file")
            self._device_path = matches[0]
            self._driver.open(self._device_path, mode="defaults", timeout=self.timeout_s)
            self._configure()
        except Exception:
            self.close()
            raise
        return self

    def _configure(self) -> None:
        path = self._device_path
        if self.sample_rate_hz is not None:
            self._driver.publish(f"{path}/h/fs", int(self.sample_rate_hz), timeout=self.timeout_s)
        # Autoranging is what the Joulescope UI uses; a fixed range would clip the active
        # current or lose resolution on the idle current.
        if "js110" in path:
            self._driver.publish(f"{path}/s/i/range/select", "auto", timeout=self.timeout_s)
            self._driver.publish(f"{path}/s/v/range/select", "15 V", timeout=self.timeout_s)
        else:
            self._driver.publish(f"{path}/s/i/range/mode", "auto", timeout=self.timeout_s)
            self._driver.publish(f"{path}/s/v/range/mode", "auto", timeout=self.timeout_s)

    def _on_data(self, topic: str, value: dict) -> None:
        # Called on the driver's thread.
        with self._lock:
            recorder = self._recorders.get(topic)
            if recorder is not None and self._streaming:
                recorder.add(value)

    def start(self) -> None:
        """Start streaming; everything until :meth:`stop` becomes the trace."""
        if self._device_path is None:
            raise MeasurementError(f"{self.origin}: open the probe before start()")
        path = self._device_path
        with self._lock:
            self._recorders = {f"{path}/s/{topic}/!data": _SignalRecorder(name, kind, self.origin)
                               for name, topic, kind in self._streams()}
            self._streaming = True
        for data_topic in self._recorders:
            self._driver.subscribe(data_topic, ["pub"], self._on_data, timeout=self.timeout_s)
        for _, topic, _ in self._streams():
            self._driver.publish(f"{path}/s/{topic}/ctrl", 1, timeout=self.timeout_s)

    def stop(self, settle_s: float = 0.2) -> PowerTrace:
        """Stop streaming and return the recorded trace.

        ``settle_s`` waits for blocks still in flight from the probe before stopping.
        """
        if self._device_path is None or not self._recorders:
            raise MeasurementError(f"{self.origin}: stop() without start()")
        time.sleep(settle_s)
        path = self._device_path
        for _, topic, _ in self._streams():
            self._driver.publish(f"{path}/s/{topic}/ctrl", 0, timeout=self.timeout_s)
        for data_topic in self._recorders:
            self._driver.unsubscribe(data_topic, self._on_data, timeout=self.timeout_s)
        with self._lock:
            self._streaming = False
            current, voltage, marker = (r.signal() for r in self._recorders.values())
        return power_trace_from_signals(marker=marker, origin=self.origin,
                                        current_a=current, voltage_v=voltage)

    def close(self) -> None:
        """Close the device and release the driver."""
        driver, self._driver = self._driver, None
        if driver is None:
            return
        try:
            if self._device_path is not None:
                driver.close(self._device_path, timeout=self.timeout_s)
        finally:
            self._device_path = None
            driver.finalize()

    def __enter__(self) -> "JoulescopeProbe":
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()
