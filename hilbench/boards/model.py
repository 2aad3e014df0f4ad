"""What a board is: small immutable records, filled from the catalog and lab files.

A board is plain validated data. Builders, flashers, emulators and DUT sessions are
separate objects that take a :class:`Board` (or a resolved board) and act on it.

Each field's ``metadata["expect"]`` says, in words, what a valid value looks like; the
loader (:mod:`hilbench.boards.catalog`) quotes it in its error messages, so the schema and
its documentation are one and the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BoardKind = Literal["board", "emulated", "host"]
FlasherKind = Literal["platformio", "bossac", "pyocd", "none"]
ProbeKind = Literal["joulescope", "none"]


class BoardRuleError(ValueError):
    """A rule that spans several fields of a board is broken (the loader adds file and key)."""

    def __init__(self, field_path: str, message: str):
        super().__init__(f"{field_path}: {message}")
        self.field_path = field_path
        self.message = message


# Upper bounds that no microcontroller board comes near: a value beyond one is a typo (or a
# YAML .inf), and would turn into a nonsense figure much later.
MAX_CURRENT_MA = 100_000.0
MAX_MEMORY_BYTES = 2**40


def _expect(text: str, **extra) -> dict:
    """A field's description for error messages, plus its number range (minimum,
    exclusive_minimum, maximum): the loader checks every number against it, and that it is
    finite."""
    return {"expect": text, **extra}


@dataclass(frozen=True)
class UsbId:
    """A USB vendor:product pair, as pyserial reports it (integers)."""

    vid: int
    pid: int

    @classmethod
    def parse(cls, text: str) -> "UsbId":
        """Parse ``"2341:805a"`` (hex, with or without ``0x``). Raises ValueError."""
        vid_text, sep, pid_text = str(text).partition(":")
        if not sep:
            raise ValueError(text)
        vid, pid = int(vid_text, 16), int(pid_text, 16)
        if not (0 <= vid <= 0xFFFF and 0 <= pid <= 0xFFFF):
            raise ValueError(text)
        return cls(vid, pid)

    def __str__(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}"


@dataclass(frozen=True)
class BuildRecipe:
    """How to build firmware for the real board."""

    platformio_env: str | None = field(
        default=None, metadata=_expect("a PlatformIO environment name, e.g. nano33ble"))
    firmware_target: str | None = field(
        default=None,
        metadata=_expect("a folder name in firmware_targets/ built with the local toolchain, "
                         "e.g. host or mps2-an386"))


@dataclass(frozen=True)
class Connection:
    """How to reach the board's serial line.

    Matching order when resolving: ``url``, then ``port``, then ``serial_number``, then
    ``usb_ids``.
    """

    usb_ids: tuple[UsbId, ...] = field(
        default=(), metadata=_expect("a list of USB ids as 'VID:PID' hex strings, e.g. ['2341:805a']"))
    serial_number: str | None = field(
        default=None, metadata=_expect("the USB serial number string of this very board"))
    port: str | None = field(
        default=None, metadata=_expect("a serial device, e.g. /dev/ttyACM0 or COM5"))
    url: str | None = field(
        default=None,
        metadata=_expect("a pyserial URL, e.g. rfc2217://lab-pi:4000 or socket://host:port"))
    baud: int = field(default=115200, metadata=_expect("bits per second, e.g. 115200", minimum=1,
                                                       maximum=100_000_000))


@dataclass(frozen=True)
class Flasher:
    """How firmware gets onto the real board."""

    kind: FlasherKind = field(default="none", metadata=_expect("the flashing tool"))
    target: str | None = field(
        default=None, metadata=_expect("the flasher's name for the chip, e.g. stm32l4r5zitx for pyOCD"))
    probe_serial: str | None = field(
        default=None, metadata=_expect("the debug probe's serial number, when several are attached"))


@dataclass(frozen=True)
class PowerProbe:
    """The instrument that measures the board's current."""

    kind: ProbeKind = field(default="none", metadata=_expect("the probe type"))
    serial: str | None = field(
        default=None, metadata=_expect("the probe's serial number, e.g. '000415'"))
    gpi: int = field(default=0, metadata=_expect(
        "the probe's general-purpose input wired to the DUT's timestamp pin (0 to 3)", minimum=0,
        maximum=3))
    capture: str | None = field(
        default=None, metadata=_expect(
            "a JLS file that the Joulescope software records during the run, analysed instead "
            "of a live probe (energy_source capture), e.g. captures/nano33.jls"))


@dataclass(frozen=True)
class PowerProfile:
    """Datasheet currents used to *model* energy when no probe measures it.

    Energy from this profile is always labelled ``energy_source = model``.
    """

    active_ma: float = field(metadata=_expect(
        "current in mA while running code at the board's clock and voltage", minimum=0.0,
        exclusive_minimum=True, maximum=MAX_CURRENT_MA))
    idle_ma: float = field(metadata=_expect("current in mA while waiting (WFI)", minimum=0.0,
                                            maximum=MAX_CURRENT_MA))
    voltage_v: float = field(metadata=_expect("supply voltage in volts, e.g. 3.3", minimum=0.0,
                                              exclusive_minimum=True, maximum=60.0))
    source: str = field(metadata=_expect(
        "where the figures come from: datasheet name and section (say 'approximate' if unsure)"))


@dataclass(frozen=True)
class CpiCalibration:
    """Where a board's CPI comes from, so that every emulated latency can say it.

    The catalog's figures are fitted by ``hilbench calibrate`` against published MLPerf Tiny
    hardware results (docs/emulation.md); a lab file that sets ``cpi`` names its own source.
    """

    source: str = field(metadata=_expect(
        "where the CPI comes from, e.g. 'cycle counter on our board, kws, 2026-11-27'"))
    fit: str | None = field(default=None, metadata=_expect(
        "how it was fitted, e.g. 'geometric mean over 4 models, leave-one-model-out'"))
    error_band_pct: float | None = field(default=None, metadata=_expect(
        "the largest cross-validated latency error of the fit, in %", minimum=0.0))


@dataclass(frozen=True)
class EmulatedTwin:
    """The emulated machine with the same CPU core, used when the board is absent."""

    qemu_machine: str = field(metadata=_expect("a qemu-system-arm -machine name, e.g. mps2-an386"))
    firmware_target: str | None = field(
        default=None,
        metadata=_expect("the firmware_targets/ folder for the twin (default: the qemu machine name)"))
    renode_platform: str | None = field(
        default=None,
        metadata=_expect("a Renode platform file, e.g. platforms/boards/arduino_nano_33_ble.repl"))

    icount_shift: int = field(default=7, metadata=_expect(
        "the QEMU -icount shift the twin runs with (virtual time = instructions x 2^shift ns); "
        "hilbench's own twins use 7", minimum=0))

    @property
    def target(self) -> str:
        """The firmware target folder that builds for this twin."""
        return self.firmware_target or self.qemu_machine


@dataclass(frozen=True)
class Board:
    """One board of the catalog (or of a lab file), validated."""

    name: str = field(metadata=_expect("the board's short name, e.g. nano33"))
    title: str = field(metadata=_expect("a human-readable name, e.g. 'Arduino Nano 33 BLE Sense'"))
    kind: BoardKind = field(metadata=_expect(
        "board (real hardware with an emulated twin), emulated (emulation only) or host"))
    mcu: str = field(metadata=_expect("the microcontroller part, e.g. nRF52840"))
    core: str = field(metadata=_expect("the CPU core, e.g. cortex-m4f"))
    clock_hz: int = field(metadata=_expect(
        "the CPU clock in Hz, e.g. 64000000 (0 = unknown, for the host)", minimum=0,
        maximum=10_000_000_000))
    ram_bytes: int = field(metadata=_expect("RAM size in bytes", minimum=0, maximum=MAX_MEMORY_BYTES))
    flash_bytes: int = field(metadata=_expect("flash size in bytes", minimum=0, maximum=MAX_MEMORY_BYTES))
    cpi: float = field(default=1.0, metadata=_expect(
        "cycles per instruction, used to turn emulated instruction counts into cycles "
        "(1.0 = uncalibrated assumption)", minimum=0.0, exclusive_minimum=True, maximum=100.0))
    cpi_calibration: CpiCalibration | None = field(default=None, metadata=_expect(
        "a mapping with source (and optional fit, error_band_pct); none: the cpi is uncalibrated"))
    build: BuildRecipe = field(default_factory=BuildRecipe, metadata=_expect("a mapping"))
    connection: Connection = field(default_factory=Connection, metadata=_expect("a mapping"))
    flasher: Flasher = field(default_factory=Flasher, metadata=_expect("a mapping"))
    power_probe: PowerProbe = field(default_factory=PowerProbe, metadata=_expect("a mapping"))
    power_profile: PowerProfile | None = field(
        default=None, metadata=_expect("a mapping with active_ma, idle_ma, voltage_v, source"))
    model: str | None = field(default=None, metadata=_expect(
        "the model a pre-flashed board runs (flasher kind none): a .tflite path or a model "
        "name; needed when its firmware reports a model that is not an MLPerf Tiny id"))
    twin: EmulatedTwin | None = field(
        default=None, metadata=_expect("a mapping with qemu_machine (and optional renode_platform)"))

    @property
    def cpi_source(self) -> str:
        """One line for result rows: the CPI's source and error band, or 'uncalibrated'."""
        calibration = self.cpi_calibration
        if calibration is None:
            return "uncalibrated: assumed, not fitted"
        band = ("" if calibration.error_band_pct is None
                else f" (cross-validated error up to {calibration.error_band_pct:g}%)")
        return f"{calibration.source}{band}"

    def __post_init__(self) -> None:
        # Cross-field rules; the loader turns these into ConfigErrors naming file and key.
        if self.kind != "host" and self.clock_hz == 0:
            raise BoardRuleError("clock_hz", f"a board of kind '{self.kind}' needs its CPU clock: "
                                             "latency is its cycles divided by the clock (0 is for the host only)")
        if self.kind in ("board", "emulated") and self.twin is None:
            raise BoardRuleError("twin", f"a board of kind '{self.kind}' needs an emulated twin "
                                         "(twin: {qemu_machine: ...})")
        if self.kind == "host" and self.build.firmware_target is None:
            raise BoardRuleError("build.firmware_target",
                                 "the host board needs build.firmware_target (e.g. host)")
