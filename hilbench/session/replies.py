"""Parsers for the DUT's reply lines (docs/protocol.md). Each raises BadReply when a line is not
as the protocol says, which the session treats as line noise and answers with a resync."""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass, field

EXTENSION_RAW_OUTPUT = "raw-output"
EXTENSION_CYCLES = "cycles"
EXTENSION_BULK_CRC = "bulk-crc"
EXTENSION_QUIET_INFER = "quiet-infer"
EXTENSION_HOST_FILE = "host-file"
# The files of the host-file channel, in the folder the DUT's emulator runs in
# (firmware_targets/common/hb_hal.h).
HOST_INPUT_FILE = "hb_input.bin"
HOST_OUTPUT_FILE = "hb_output.bin"
# MLPerf Tiny reference limit on a command's length (EE_CMD_SIZE): a plain DUT truncates longer ones.
MLPERF_CMD_SIZE = 80


class BadReply(Exception):
    """A reply that does not parse: corrupted or truncated by the serial line."""


@dataclass(frozen=True)
class Capabilities:
    """What the reply to 'profile' says about a DUT. A plain MLPerf Tiny DUT has no extensions."""

    profile: str
    model: str
    extensions: frozenset[str] = frozenset()
    timer_name: str | None = None
    timer_hz: int | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    max_ticks: int | None = None
    cmd_size: int = MLPERF_CMD_SIZE
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def raw_output(self) -> bool:
        return EXTENSION_RAW_OUTPUT in self.extensions

    @property
    def cycles(self) -> bool:
        return EXTENSION_CYCLES in self.extensions and bool(self.timer_hz)

    @property
    def bulk_crc(self) -> bool:
        return EXTENSION_BULK_CRC in self.extensions

    @property
    def quiet_infer(self) -> bool:
        """'hb infer N W': infer without printing the dequantized m-results line."""
        return EXTENSION_QUIET_INFER in self.extensions

    @property
    def host_file(self) -> bool:
        """The firmware moves inputs and outputs through host files ('hb file', 'hb raw file')."""
        return EXTENSION_HOST_FILE in self.extensions

    @property
    def plain_mlperf(self) -> bool:
        return not self.extensions


def bracketed(line: str, key: str) -> str | None:
    """The text inside 'm-<key>-[...]', or None if the line is another reply."""
    prefix = f"m-{key}-["
    if line.startswith(prefix):
        if not line.endswith("]"):
            raise BadReply(f"truncated reply line {line!r}")
        return line[len(prefix):-1]
    return None


def parse_key_values(text: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise BadReply(f"'{item}' is not key=value")
        pairs[key.strip()] = value.strip()
    return pairs


def parse_int(text: str, what: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise BadReply(f"{what} '{text}' is not a whole number")
    return int(text)


def parse_timer_hz(text: str) -> int:
    """The timer rate a DUT announces; 0 Hz would make every tick count infinitely long."""
    hz = parse_int(text, "timer Hz")
    if hz == 0:
        raise BadReply("the DUT announces a 0 Hz timer, so its tick counts cannot be turned into time")
    return hz


def parse_floats(text: str) -> tuple[float, ...]:
    # One ',' after the last number is allowed: MLPerf Tiny's reference firmware for vww01
    # prints one ('m-results-[0.976,0.023,]', hilbench.mlperf_wire).
    text = text[:-1] if text.endswith(",") else text
    try:
        return tuple(float(v) for v in text.split(",")) if text.strip() else ()
    except ValueError as exc:
        raise BadReply(f"results [{text}] are not comma-separated numbers") from exc


PROFILE_KEYS = ("profile", "model", "hb-caps", "hb-timer", "hb-model")


def parse_profile(lines: list[str]) -> Capabilities:
    values: dict[str, str] = {}
    for line in lines:
        for key in PROFILE_KEYS:
            value = bracketed(line, key)
            if value is not None:
                values[key] = value
        # The profile decides how every figure is taken: a damaged line must not pass for a
        # DUT without some extension (this host and hilbench firmware know the same m-hb lines).
        if line.startswith("m-") and not line.isprintable() or (
                line.startswith("m-hb-") and not any(line.startswith(f"m-{key}-[") for key in PROFILE_KEYS)):
            raise BadReply(f"unexpected line {line!r} in the reply to 'profile'")
    if "profile" not in values:
        raise BadReply("no m-profile-[...] line")
    timer_name = timer_hz = None
    if "hb-timer" in values:
        name, _, hz = values["hb-timer"].partition(",")
        timer_name, timer_hz = name.strip(), parse_timer_hz(hz)
    extensions = frozenset(e.strip() for e in values.get("hb-caps", "").split(",") if e.strip())
    if not extensions and ("hb-timer" in values or "hb-model" in values):
        raise BadReply("m-hb-timer/m-hb-model lines without an m-hb-caps line: the caps line was damaged")
    if EXTENSION_CYCLES in extensions and timer_hz is None:
        raise BadReply("the DUT announces 'cycles' but no m-hb-timer-[<name>,<Hz>] line came")
    if timer_hz is not None and EXTENSION_CYCLES not in extensions:
        # Only a DUT with per-inference ticks announces a timer: a damaged caps line must not
        # quietly switch the timing to the lap stamps (which include the input copies).
        raise BadReply(f"the DUT announces a timer but its caps [{','.join(sorted(extensions))}] "
                       "lack 'cycles': the caps line was damaged")
    model_info = parse_key_values(values.get("hb-model", ""))

    def optional_int(key: str) -> int | None:
        return parse_int(model_info[key], key) if key in model_info else None

    return Capabilities(
        profile=values["profile"],
        model=values.get("model", ""),
        extensions=extensions,
        timer_name=timer_name,
        timer_hz=timer_hz,
        input_bytes=optional_int("input-bytes"),
        output_bytes=optional_int("output-bytes"),
        max_ticks=optional_int("max-ticks"),
        cmd_size=optional_int("cmd-size") or MLPERF_CMD_SIZE,
        extra={k: v for k, v in model_info.items()},
    )


@dataclass(frozen=True)
class InferReply:
    """The reply to 'infer N W'. lap_us: the two m-lap-us stamps (none in energy mode)."""

    n: int
    warmup: int
    lap_us: tuple[int, ...]
    results: tuple[float, ...]


def parse_infer(lines: list[str], n: int, warmup: int, with_results: bool = True) -> InferReply:
    """The reply to 'infer N W', or to 'hb infer N W' (with_results False: no m-results line)."""
    expected = [f"m-warmup-start-{warmup}", "m-warmup-done", f"m-infer-start-{n}", "m-infer-done"]
    protocol = [line for line in lines if line.startswith("m-")]
    missing = [marker for marker in expected if marker not in protocol]
    if missing:
        raise BadReply(f"missing {', '.join(missing)}")
    laps = []
    start, done = protocol.index(f"m-infer-start-{n}"), protocol.index("m-infer-done")
    for line in protocol[start + 1:done]:
        if line.startswith("m-lap-us-"):
            laps.append(parse_int(line[len("m-lap-us-"):], "m-lap-us"))
    if len(laps) not in (0, 2):
        raise BadReply(f"expected 2 m-lap-us lines between m-infer-start and m-infer-done, got {len(laps)}")
    results = None
    for line in protocol[done + 1:]:
        value = bracketed(line, "results")
        if value is not None:
            results = parse_floats(value)
    if results is None and with_results:
        raise BadReply("no m-results-[...] line after m-infer-done")
    return InferReply(n=n, warmup=warmup, lap_us=tuple(laps), results=results or ())


def parse_results(lines: list[str]) -> tuple[float, ...]:
    for line in lines:
        value = bracketed(line, "results")
        if value is not None:
            return parse_floats(value)
    raise BadReply("no m-results-[...] line")


def parse_raw_output(lines: list[str]) -> bytes:
    """The reply to 'hb raw': hex lines, then m-hb-raw-done with the byte count and CRC-32."""
    data = bytearray()
    for line in lines:
        chunk = bracketed(line, "hb-raw")
        if chunk is not None:
            try:
                data += bytes.fromhex(chunk)
            except ValueError as exc:
                raise BadReply(f"raw output line {line!r} is not hex") from exc
    return check_raw_output(lines, bytes(data))


def check_raw_output(lines: list[str], data: bytes) -> bytes:
    """data, if it has the byte count and CRC-32 that the reply's m-hb-raw-done line announces
    (after 'hb raw', or 'hb raw file', where the bytes come from the host file)."""
    summary = None
    for line in lines:
        done = bracketed(line, "hb-raw-done")
        if done is not None:
            summary = parse_key_values(done)
    if summary is None:
        raise BadReply("no m-hb-raw-done-[...] line")
    count = parse_int(summary.get("bytes", ""), "raw byte count")
    crc = int(summary.get("crc32", "x"), 16) if re.fullmatch(r"[0-9a-fA-F]{1,8}", summary.get("crc32", "")) else None
    if len(data) != count:
        raise BadReply(f"raw output has {len(data)} bytes, the DUT announced {count}")
    if crc is None or binascii.crc32(data) != crc:
        raise BadReply("raw output bytes do not match their CRC-32")
    return data


@dataclass(frozen=True)
class TickReport:
    """The reply to 'hb ticks': the kept per-inference tick counts of the last 'infer N W', the
    rate they count at, and the ticks between its two timestamps (window), all covered by the
    reply's CRC-32."""

    ticks: tuple[int, ...]
    n: int
    timer_hz: int
    window_ticks: int


def ticks_crc32(n: int, stored: int, timer_hz: int, window_ticks: int, ticks: tuple[int, ...]) -> int:
    """The CRC-32 of an 'hb ticks' reply: every figure as 8 bytes, little endian (docs/protocol.md)."""
    return binascii.crc32(struct.pack(f"<{4 + len(ticks)}Q", n, stored, timer_hz, window_ticks, *ticks))


def parse_ticks(lines: list[str], n: int) -> TickReport:
    ticks: list[int] = []
    summary = None
    for line in lines:
        chunk = bracketed(line, "hb-ticks")
        if chunk is not None:
            ticks += [parse_int(v, "tick count") for v in chunk.split(",") if v]
        done = bracketed(line, "hb-ticks-done")
        if done is not None:
            summary = parse_key_values(done)
    if summary is None:
        raise BadReply("no m-hb-ticks-done-[...] line")
    if "crc32" not in summary:
        raise BadReply("m-hb-ticks-done has no crc32 (a damaged line, or firmware older than this "
                       "hilbench: rebuild or reflash it)")
    figures = {key: parse_int(summary.get(key, ""), key) for key in ("n", "stored", "window")}
    figures["hz"] = parse_timer_hz(summary.get("hz", ""))
    crc = summary["crc32"]
    if not re.fullmatch(r"[0-9a-fA-F]{8}", crc) or (
            ticks_crc32(figures["n"], figures["stored"], figures["hz"], figures["window"], tuple(ticks))
            != int(crc, 16)):
        raise BadReply("tick counts do not match their CRC-32")
    if figures["n"] != n:
        raise BadReply(f"ticks are for {figures['n']} inferences, not the {n} just run")
    if figures["stored"] != len(ticks):
        raise BadReply(f"got {len(ticks)} tick counts, the DUT announced {figures['stored']}")
    if sum(ticks) > figures["window"]:
        raise BadReply(f"the inferences took {sum(ticks)} ticks in all, more than the "
                       f"{figures['window']} ticks between the timestamps around them")
    return TickReport(ticks=tuple(ticks), n=n, timer_hz=figures["hz"], window_ticks=figures["window"])
