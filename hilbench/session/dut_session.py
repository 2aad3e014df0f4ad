"""DutSession: drive a DUT that speaks the MLPerf Tiny serial protocol, over any pyserial URL.

A command is sent as '<text>%' and its reply is every line up to 'm-ready'. Lines that are not
protocol replies (boot noise, debug prints, garbage) are logged and skipped. A reply that does
not parse, or that does not end in time, is treated as line noise: the session resynchronises
(drains the line, then sends 'name%' until a clean m-name/m-ready answer) and repeats the
command. Only commands that are safe to repeat are repeated: a failed input load is restarted
from 'db load N', never continued.

The hilbench extensions (raw output bytes, per-inference ticks, bulk load with CRC-32) are used
only when the reply to 'profile' announces them, so a plain MLPerf Tiny DUT works unchanged.
"""

from __future__ import annotations

import binascii
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import serial

from hilbench.errors import DutError
from hilbench.mlperf_wire import FLOAT32_FEATURES, wire_format
from hilbench.session import replies
from hilbench.session.replies import BadReply, Capabilities, InferReply
from hilbench.session.serial_log import NOTE, RECEIVED, SENT, SerialLog

T = TypeVar("T")

READY = "m-ready"
NAME_REPLY = re.compile(r"m-name-.+-\[.*\]")  # "m-name-%s-[%s]" in the reference firmware
# Bytes per 'db <hex>' command, as the MLPerf Tiny runner sends them: 'db ' + 62 hex digits stays
# well inside the reference firmware's 80-character command buffer.
DB_CHUNK_BYTES = 31
# Input channels of load_input, fastest first.
LOAD_HOST_FILE, LOAD_BULK, LOAD_HEX = "host-file", "bulk-crc", "hex"
_POLL_S = 0.02
# The m-lap-us stamps are device microseconds rounded down: their difference is within 1 us of
# the window's ticks.
LAP_US_ROUNDING = 1
# How much device time can pass per second of the host's clock, by what runs behind the URL: a
# board's timer runs at most its crystal's or RC oscillator's error (a few %) fast; an emulator's
# virtual clock can outrun the wall clock (QemuEndpoint gives its own bound from -icount).
MAX_DEVICE_SPEEDUP = {"hardware": 1.1, "host": 1.1, "emulated": 1e4, None: 1e4}
# Host time is read around the whole reply: allow for one timer tick and the stamps' rounding.
DEVICE_TIME_SLACK_S = 2e-3
_QUIET_S = 0.1


class _Timeout(Exception):
    """No m-ready within the command's time limit."""


@dataclass(frozen=True)
class InferResult:
    """One 'infer N W' command's outcome.

    lap_us: the DUT's two m-lap-us stamps around the N timed inferences (empty in energy mode).
    results: the dequantized outputs the DUT printed after the last inference (m-results).
    ticks: per-inference timer ticks (hilbench 'cycles' extension), else None. A DUT keeps at
    most Capabilities.max_ticks of them, so len(ticks) can be smaller than n.
    timer_hz: ticks per second of the timer that counted them (from the checksummed reply).
    host_s: host-clock seconds from sending the command to its m-ready. Both of a window's
    timestamps happen in between, so it bounds the window of a DUT that cannot time itself.
    """

    n: int
    warmup: int
    lap_us: tuple[int, ...]
    results: tuple[float, ...]
    ticks: tuple[int, ...] | None = None
    timer_hz: int | None = None
    host_s: float | None = None

    @property
    def window_us(self) -> int | None:
        """Device microseconds between the two lap stamps (None in energy mode)."""
        return self.lap_us[1] - self.lap_us[0] if len(self.lap_us) == 2 else None


class DutSession:
    """A conversation with one DUT over a pyserial URL (device path, socket://, rfc2217://, pty).

    timeout: seconds allowed for a plain command's reply; inference_timeout: extra seconds
    allowed per inference of an 'infer' command; retries: how many times a command is repeated
    after line noise or silence before DutError. mode and latency_source label what runs
    behind the URL (see DutSession.from_endpoint). host_file_dir: the folder of an emulated
    twin's host-file channel; when given and the DUT announces the channel, inputs and raw
    outputs move through files there ('hb file', 'hb raw file') instead of over the serial
    line. Set it to None to move everything over the serial line, as on a real board.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115200,
        timeout: float = 2.0,
        inference_timeout: float = 10.0,
        retries: int = 2,
        mode: str | None = None,
        latency_source: str | None = None,
        host_file_dir: Path | None = None,
        max_device_speedup: float | None = None,
    ) -> None:
        self.url = url
        self.host_file_dir = host_file_dir
        self.timeout = timeout
        self.inference_timeout = inference_timeout
        self.retries = retries
        self.mode = mode
        self.latency_source = latency_source
        self.max_device_speedup = max_device_speedup or MAX_DEVICE_SPEEDUP.get(mode, MAX_DEVICE_SPEEDUP[None])
        self.log = SerialLog()
        self.capabilities: Capabilities | None = None
        self.input_spec = None
        """The model's input tensor (hilbench.compile.TensorSpec), where the host knows it: the
        'db' path of a DUT whose firmware takes float features quantizes with it."""
        self.boot_lines: list[str] = []
        self._buffer = b""
        self._lines: list[str] = []  # lines split off the buffer, not yet handed out
        self._last_reply_s = 0.0  # host seconds from sending the last command to its m-ready
        self._last_refusal: tuple[str, list[str]] | None = None  # (command, e- lines) just refused
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=_POLL_S, write_timeout=30)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DutError(f"cannot open serial port {url}: {exc}; check the port name and that no other program uses it") from exc
        self.log.add(NOTE, f"opened {url} at {baudrate} baud")

    @classmethod
    def from_endpoint(cls, endpoint, **options) -> "DutSession":
        """A session on a deploy Endpoint, carrying its mode and latency_source labels."""
        options.setdefault("max_device_speedup", getattr(endpoint, "max_device_speedup", None))
        options.setdefault("host_file_dir", endpoint.host_file_dir)
        session = cls(endpoint.url, mode=endpoint.mode, latency_source=endpoint.latency_source, **options)
        # If the backend already read the boot banner, sync() trusts it instead of waiting for one.
        session.boot_lines = list(getattr(endpoint, "boot_lines", []))
        return session

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._port.is_open:
            self._port.close()
            self.log.add(NOTE, f"closed {self.url}")

    def __enter__(self) -> "DutSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def sync(self, timeout: float = 5.0, probe_interval: float = 0.5) -> list[str]:
        """Waits for the DUT's boot banner to end in m-ready, or probes it with 'name%'.

        Returns the boot lines seen (those the deploy backend read, if it did, else empty when
        the banner was missed and a probe answered). Raises DutError if neither happens within
        timeout seconds.
        """
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        if self.boot_lines and self.boot_lines[-1] == READY:
            # The deploy backend saw the banner end; the DUT says nothing until asked.
            self._discard_pending()
            return self.boot_lines
        while time.monotonic() < deadline:
            line = self._read_line(min(deadline, time.monotonic() + probe_interval))
            if line is None:
                if self._probe(min(deadline, time.monotonic() + probe_interval)):
                    self._drain()
                    self.boot_lines = seen
                    return seen
                continue
            seen.append(line)
            if line == READY:
                self._drain()  # a late answer to an earlier probe must not pass for the next reply
                self.boot_lines = seen
                return seen
        raise DutError(
            f"DUT on {self.url} is not answering: no m-ready at boot and no answer to 'name%' "
            f"within {timeout:.1f} s; last lines received: {self.log.tail()!r}. "
            "Check the port, the baud rate and that the firmware runs."
        )

    # ------------------------------------------------------------------ MLPerf Tiny commands

    def name(self) -> str:
        """The DUT's name reply, e.g. 'dut-[unspecified]'."""
        def parse(lines: list[str]) -> str:
            for line in lines:
                if NAME_REPLY.fullmatch(line):
                    return line[len("m-name-"):]
            raise BadReply("no m-name-<device>-[<vendor>] line")
        return self._transact("name", parse)

    def profile(self) -> Capabilities:
        """Reads the profile and the hilbench extensions the DUT announces; caches them."""
        self.capabilities = self._transact("profile", replies.parse_profile)
        self.log.add(NOTE, f"extensions: {','.join(sorted(self.capabilities.extensions)) or 'none (plain MLPerf Tiny DUT)'}")
        return self.capabilities

    def timestamp(self) -> int | None:
        """Device time in microseconds (None in energy mode, where the DUT pulses a pin)."""
        def parse(lines: list[str]) -> int | None:
            for line in lines:
                if line.startswith("m-lap-us-"):
                    return replies.parse_int(line[len("m-lap-us-"):], "m-lap-us")
            return None
        return self._transact("timestamp", parse)

    def load_input(self, data: bytes, real_values: np.ndarray | None = None) -> None:
        """Loads one input (all input tensors back to back) into the DUT.

        The channel (:attr:`load_path`): an emulated twin's host file when both sides have
        it, else the binary bulk load with CRC-32 when the DUT announces it, else 'db load N'
        and 'db <hex>' commands as the MLPerf Tiny runner does. The binary channels carry the
        tensor; 'db' carries what the firmware of the DUT's model id takes there
        (hilbench.mlperf_wire: uint8 pixels for vww01 and ic01, float32 features for ad01,
        which are ``real_values`` where the caller has the float input it quantized).
        """
        data = bytes(data)
        caps = self._caps()
        if caps.input_bytes is not None and len(data) != caps.input_bytes:
            raise DutError(f"input is {len(data)} bytes but the DUT's model '{caps.model}' takes {caps.input_bytes}")
        if not data:
            raise DutError("input is empty")
        if self.load_path == LOAD_HEX:
            data = self.db_bytes(data, real_values)
        load = {LOAD_HOST_FILE: self._load_host_file, LOAD_BULK: self._load_bulk,
                LOAD_HEX: self._load_hex}[self.load_path]
        self._with_retries(f"load {len(data)} input bytes", lambda: load(data))

    def db_bytes(self, tensor: bytes, real_values: np.ndarray | None = None) -> bytes:
        """The bytes 'db' must carry to load ``tensor`` into this DUT: its model id's wire format
        (hilbench.mlperf_wire). Float features need the model's input quantization
        (:attr:`input_spec`); without it the tensor is never sent in their place."""
        wire = wire_format(self._caps().model)
        if wire.db_is_tensor:
            return tensor
        spec = self.input_spec
        if spec is None and wire.db_input == FLOAT32_FEATURES:
            raise DutError(f"the DUT on {self.url} runs '{self._caps().model}', whose 'db' takes "
                           f"{wire.db_input}, not the input tensor: set the session's input_spec "
                           "(the model's input quantization) to encode them")
        try:
            return wire.encode(np.frombuffer(tensor, dtype=spec.dtype if spec else np.int8), spec, real_values)
        except ValueError as error:
            raise DutError(f"cannot encode the input for '{self._caps().model}': {error}") from None

    @property
    def load_path(self) -> str:
        """How load_input moves an input: 'host-file', 'bulk-crc' (serial) or 'hex' (serial)."""
        if self._uses_host_files():
            return LOAD_HOST_FILE
        return LOAD_BULK if self._caps().bulk_crc else LOAD_HEX

    def _uses_host_files(self) -> bool:
        return self.host_file_dir is not None and self._caps().host_file

    def infer(self, n: int = 1, warmup: int = 0, *, quiet: bool = False) -> InferResult:
        """Runs 'infer N W': W warm-up then N timed inferences on the loaded input.

        With the 'cycles' extension, also reads the per-inference ticks ('hb ticks'). Every
        device time is checked against the host's own clock and, with ticks, against the
        checksummed window the DUT reports; a figure that cannot be true counts as line noise,
        and the inference is repeated.
        quiet: a caller that reads the outputs with raw_output() does not need the printed
        m-results line; a DUT with the 'quiet-infer' extension then leaves it out ('hb infer
        N W'), which saves its serial time (results then stays empty).
        """
        if n < 1 or warmup < 0:
            raise DutError(f"infer needs n >= 1 and warmup >= 0, got n={n}, warmup={warmup}")
        quiet = quiet and self._caps().quiet_infer
        text = f"{'hb infer' if quiet else 'infer'} {n} {warmup}"
        timeout = self.timeout + (n + warmup) * self.inference_timeout

        def attempt() -> InferResult:
            reply = replies.parse_infer(self._exchange_checked(text, timeout), n, warmup, with_results=not quiet)
            host_s = self._last_reply_s
            if reply.lap_us:
                self._check_device_time(text, (reply.lap_us[1] - reply.lap_us[0]) / 1e6, host_s)
            if not self._caps().cycles:
                return InferResult(n=n, warmup=warmup, lap_us=reply.lap_us, results=reply.results,
                                   host_s=host_s)
            report = replies.parse_ticks(self._exchange_checked("hb ticks", self.timeout), n)
            self._check_tick_report(text, report, reply, host_s)
            return InferResult(n=n, warmup=warmup, lap_us=reply.lap_us, results=reply.results,
                               ticks=report.ticks, timer_hz=report.timer_hz, host_s=host_s)

        return self._with_retries(text, attempt)

    def _check_tick_report(self, text: str, report: replies.TickReport, reply: InferReply,
                           host_s: float) -> None:
        """The checksummed ticks against the rest of what the DUT and the host saw."""
        if report.timer_hz != self._caps().timer_hz:
            announced = self._caps().timer_hz
            self.profile()  # the profile read earlier may have been the damaged one
            raise BadReply(f"the DUT counts ticks at {report.timer_hz} Hz, its profile announced {announced} Hz")
        window_s = report.window_ticks / report.timer_hz
        self._check_device_time(text, window_s, host_s)
        if reply.lap_us and abs((reply.lap_us[1] - reply.lap_us[0]) - window_s * 1e6) > LAP_US_ROUNDING:
            raise BadReply(f"the m-lap-us stamps span {reply.lap_us[1] - reply.lap_us[0]} us, the "
                           f"checksummed window {window_s * 1e6:.0f} us")

    def _check_device_time(self, text: str, device_s: float, host_s: float) -> None:
        """Device time cannot pass much faster than the host's clock while the host waits."""
        limit = self.max_device_speedup * host_s + DEVICE_TIME_SLACK_S
        if device_s > limit:
            raise BadReply(f"the DUT reports {device_s:.6g} s of device time for '{text}', but the "
                           f"host saw the whole command take {host_s:.3g} s (at most {limit:.3g} s "
                           f"is plausible for a {self.mode or 'DUT of unknown kind'})")

    def results(self) -> tuple[float, ...]:
        """The dequantized outputs of the last inference ('results')."""
        return self._transact("results", replies.parse_results)

    def db_print(self) -> bytes:
        """The loaded input bytes as the DUT holds them ('db print')."""
        def parse(lines: list[str]) -> bytes:
            data = bytearray()
            for line in lines:
                if line.startswith("m-buffer-"):
                    try:
                        data += bytes.fromhex(line[len("m-buffer-"):].replace("-", ""))
                    except ValueError as exc:
                        raise BadReply(f"buffer line {line!r} is not hex") from exc
            return bytes(data)
        return self._transact("db print", parse)

    # ------------------------------------------------------------------ hilbench extensions

    def raw_output(self) -> bytes:
        """The raw output bytes of the last inference, all output tensors back to back."""
        if not self._caps().raw_output:
            raise DutError(f"DUT on {self.url} does not announce the raw-output extension; use results()")
        if self._uses_host_files():
            path = self.host_file_dir / replies.HOST_OUTPUT_FILE

            def from_file(lines: list[str]) -> bytes:
                try:
                    data = path.read_bytes()
                except OSError as error:
                    raise BadReply(f"cannot read the outputs from {path}: {error}") from error
                return replies.check_raw_output(lines, data)

            return self._transact("hb raw file", from_file)
        return self._transact("hb raw", replies.parse_raw_output)

    def read_outputs(self) -> bytes | tuple[float, ...]:
        """The last inference's outputs: raw bytes if the DUT can send them, else the results floats."""
        return self.raw_output() if self._caps().raw_output else self.results()

    # ------------------------------------------------------------------ the serial log

    def log_lines(self) -> list[str]:
        """Every line sent and received so far, with timestamps."""
        return self.log.lines()

    def write_log(self, path: Path | str) -> Path:
        """Saves the serial log to a text file."""
        return self.log.write(path)

    # ------------------------------------------------------------------ command machinery

    def command(self, text: str, timeout: float | None = None) -> list[str]:
        """Sends one command and returns its reply lines up to and including m-ready (no retries)."""
        try:
            return self._exchange(text, timeout or self.timeout)
        except _Timeout as exc:
            raise DutError(f"DUT on {self.url} did not finish '{text}': {exc}; last lines received: {self.log.tail()!r}") from exc

    def _caps(self) -> Capabilities:
        return self.capabilities if self.capabilities is not None else self.profile()

    def _transact(self, text: str, parse: Callable[[list[str]], T], timeout: float | None = None) -> T:
        """Sends a command that is safe to repeat, parses its reply, retries after noise."""
        return self._with_retries(text, lambda: parse(self._exchange_checked(text, timeout or self.timeout)))

    def _with_retries(self, what: str, attempt: Callable[[], T]) -> T:
        started = time.monotonic()
        problems = []
        for number in range(1 + self.retries):
            try:
                return attempt()
            except (_Timeout, BadReply) as exc:
                problems.append(str(exc))
                self.log.add(NOTE, f"'{what}' attempt {number + 1} failed: {exc}")
                if number < self.retries:
                    self._resync()
        raise DutError(
            f"DUT on {self.url} gave no usable answer to '{what}' after {1 + self.retries} attempts "
            f"in {time.monotonic() - started:.1f} s ({'; '.join(problems)}); "
            f"last lines received: {self.log.tail()!r}"
        )

    def _exchange_checked(self, text: str, timeout: float) -> list[str]:
        lines = self._exchange(text, timeout)
        errors = [line for line in lines if line.startswith("e-")]
        if any(line.startswith("e-[Unknown command") for line in errors):
            # This session sends only commands the DUT knows: the line garbled this one.
            raise BadReply(f"the DUT did not recognise '{text}': {errors[0]}")
        if errors:
            # One flipped bit turns 'm-' into 'e-': a refusal counts only when the DUT gives
            # the same one again.
            previous, self._last_refusal = self._last_refusal, (text, errors)
            if previous == (text, errors):
                raise DutError(f"DUT on {self.url} refused '{text}': {'; '.join(errors)}")
            raise BadReply(f"the DUT refused '{text}' ({'; '.join(errors)}); asking again to tell "
                           "a refusal from line noise")
        self._last_refusal = None
        return lines

    def _exchange(self, text: str, timeout: float) -> list[str]:
        self._discard_pending()
        sent = time.monotonic()
        self._write(f"{text}%".encode("ascii"), f"{text}%")
        lines = self._collect_reply(text, timeout)
        self._last_reply_s = time.monotonic() - sent
        return lines

    def _collect_reply(self, text: str, timeout: float) -> list[str]:
        started = time.monotonic()
        deadline = started + timeout
        lines: list[str] = []
        while True:
            line = self._read_line(deadline)
            if line is None:
                raise _Timeout(f"no m-ready within {timeout:.1f} s (got {len(lines)} lines: {lines[-3:]!r})")
            lines.append(line)
            if line == READY:
                return lines

    def _probe(self, deadline: float) -> bool:
        """Sends 'name%' and says whether a clean m-name ... m-ready answer came back in time."""
        self._write(b"name%", "name%")
        lines = []
        while True:
            line = self._read_line(deadline)
            if line is None:
                return False
            lines.append(line)
            if line == READY:
                return any(NAME_REPLY.fullmatch(line) for line in lines) and not any(line.startswith("e-") for line in lines)

    def _resync(self) -> None:
        """Brings the line back to a known state: drain, then probe until a clean answer."""
        self.log.add(NOTE, "resynchronising")
        self._drain()
        for _ in range(3):
            if self._probe(time.monotonic() + self.timeout):
                self._drain()
                return
            self._drain()
        self.log.add(NOTE, "resync failed")

    # ------------------------------------------------------------------ input loading

    def _load_hex(self, data: bytes) -> None:
        count = len(data)
        lines = self._exchange_checked(f"db load {count}", self.timeout)
        if f"m-[Expecting {count} bytes]" not in lines:
            raise BadReply(f"'db load {count}' was not acknowledged with m-[Expecting {count} bytes]")
        for offset in range(0, count, DB_CHUNK_BYTES):
            chunk = data[offset:offset + DB_CHUNK_BYTES]
            lines = self._exchange_checked(f"db {chunk.hex()}", self.timeout)
            last = offset + len(chunk) == count
            if last and "m-load-done" not in lines:
                raise BadReply(f"no m-load-done after the last of {count} bytes")
            if not last and "m-load-done" in lines:
                raise BadReply(f"m-load-done after {offset + len(chunk)} of {count} bytes")

    def _load_host_file(self, data: bytes) -> None:
        count, crc = len(data), binascii.crc32(data)
        path = self.host_file_dir / replies.HOST_INPUT_FILE
        # The twin waits for a command while the file is written, so it never reads half of it.
        path.write_bytes(data)
        self.log.add(NOTE, f"wrote {count} input bytes (crc32 {crc:08x}) to {path}")
        lines = self._exchange_checked(f"hb file {count} {crc:08x}", self.timeout)
        if "m-load-done" not in lines:
            raise BadReply("no m-load-done after 'hb file'")

    def _load_bulk(self, data: bytes) -> None:
        count, crc = len(data), binascii.crc32(data)
        text = f"hb bulk {count} {crc:08x}"
        self._discard_pending()
        self._write(f"{text}%".encode("ascii"), f"{text}%")
        deadline = time.monotonic() + self.timeout
        while True:
            line = self._read_line(deadline)
            if line is None:
                raise _Timeout(f"no m-hb-bulk-ready after '{text}'")
            if line.startswith("e-"):
                self._collect_reply(text, self.timeout)
                raise DutError(f"DUT on {self.url} refused '{text}': {line}")
            if line == f"m-hb-bulk-ready-[{count}]":
                break
        self._write(data, f"<{count} binary bytes, crc32 {crc:08x}>")
        # Time to move the bytes at a slow 9600 baud, plus the usual reply time.
        try:
            lines = self._collect_reply(text, self.timeout + count * 10 / 9600)
        except _Timeout:
            # Bytes were lost on the way: the DUT still waits for some. Feed it filler so it
            # finishes (and reports a CRC error) before the resync that follows.
            self._write(b" " * count + b"%", f"<{count} filler bytes and '%' to end a stalled bulk load>")
            raise
        errors = [line for line in lines if line.startswith("e-")]
        if errors:
            raise BadReply(f"bulk load rejected: {'; '.join(errors)}")
        if "m-load-done" not in lines:
            raise BadReply("no m-load-done after the bulk bytes")

    # ------------------------------------------------------------------ bytes and lines

    def _write(self, data: bytes, shown: str) -> None:
        self.log.add(SENT, shown)
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DutError(f"writing '{shown}' to {self.url} failed: {exc}; did the DUT reset or its process exit?") from exc

    def _read_some(self) -> bytes:
        try:
            waiting = self._port.in_waiting
            return self._port.read(waiting or 1)
        except (serial.SerialException, OSError) as exc:
            raise DutError(
                f"reading from {self.url} failed: {exc}; the DUT closed the line "
                f"(last lines received: {self.log.tail()!r})"
            ) from exc

    def _read_line(self, deadline: float) -> str | None:
        """The next protocol line, or None at the deadline. Noise lines are logged and skipped."""
        while True:
            while not self._lines and b"\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                self._lines += self._clean(raw)
            if self._lines:
                return self._lines.pop(0)
            if time.monotonic() >= deadline:
                return None
            self._buffer += self._read_some()

    def _clean(self, raw: bytes) -> list[str]:
        """Turns one received line into the protocol lines it holds (none for noise)."""
        text = raw.decode("ascii", errors="replace").strip("\r\x00 ")
        if not text:
            return []
        self.log.add(RECEIVED, text)
        if not text.startswith(("m-", "e-")):
            # Noise in front of a reply ("\x13junkm-ready"): keep the reply.
            starts = [p for p in (text.find("m-"), text.find("e-[")) if p > 0]
            if starts:
                self.log.add(NOTE, "dropped noise in front of a reply")
                text = text[min(starts):]
        # A line whose end was lost runs into the next one ("m-lap-us-12m-ready"): keep the
        # m-ready so the command ends; the damaged part then makes the reply fail to parse.
        if text != READY and text.endswith(READY):
            self.log.add(NOTE, "a line ran into m-ready: treating it as truncated")
            return [text[: -len(READY)], READY]
        return [text]

    def _discard_pending(self) -> None:
        """Drops what arrived unasked (stale replies, noise) so it cannot pass for the next reply."""
        try:
            waiting = self._port.in_waiting
        except (serial.SerialException, OSError):
            waiting = 0
        if waiting:
            self._buffer += self._read_some()   # a closed line is a DutError here too
        stale = self._lines + [raw.decode("ascii", errors="replace").strip() for raw in self._buffer.split(b"\n")]
        for text in filter(None, stale):
            self.log.add(NOTE, f"discarded unasked input: {text}")
        self._buffer = b""
        self._lines = []

    def _drain(self, quiet: float = _QUIET_S, limit: float = 2.0) -> None:
        """Reads and logs until the line has been quiet for `quiet` seconds (at most `limit`)."""
        end = time.monotonic() + limit
        last_data = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last_data < quiet:
            data = self._read_some()
            if data:
                self._buffer += data
                last_data = time.monotonic()
        self._discard_pending()
