"""A faulty serial line between the host and a real DUT process, for the noise tests.

Runs the DUT firmware as a child with pipes and relays bytes both ways; its own stdin/stdout are
the host's serial line (a pty). Faults are applied to the DUT's reply to chosen commands:

    --fault PREFIX:OCCURRENCE:KIND   (OCCURRENCE counts from 1 among commands starting with PREFIX)
      garbage   a line of binary garbage before every reply line
      truncate  the first reply line loses its second half and its line end
      corrupt   one character of the first line carrying data is changed (a hex or digit flip)
      drop      the whole reply is swallowed (the DUT seems silent for this command)
      lap       the last digit of the second m-lap-us stamp is moved by 5 (5 us off: more than the
                1 us rounding the host allows for, whatever the digit was)
      absurd    the tick counts become 99,999,999,999,999, with a window and a CRC-32 to match
                (a firmware that is wrong, not a damaged line)
      zero-hz   the m-hb-timer line announces 0 Hz
      bitflip   one byte of the bulk data that follows 'hb bulk' is changed on its way to the DUT
      lose      four bytes of the bulk data are lost on their way to the DUT
    --boot-noise       garbage bytes and a half line before the boot banner
    --silent-after-boot  relay the boot banner, then swallow everything the DUT says

Usage: python faulty_line.py FIRMWARE [options]
"""

from __future__ import annotations

import argparse
import binascii
import os
import re
import select
import struct
import subprocess
import sys

GARBAGE = b"\x13\xfe\x00junk\x7f@@\r\n"
ABSURD_TICKS = 99_999_999_999_999


def absurd_ticks(line: bytes) -> bytes:
    """A tick reply line with every count replaced by ABSURD_TICKS, still self-consistent."""
    text = line.decode()
    if text.startswith("m-hb-ticks-["):
        count = text.count(",") + 1
        return ("m-hb-ticks-[" + ",".join([str(ABSURD_TICKS)] * count) + "]\r\n").encode()
    done = re.match(r"m-hb-ticks-done-\[n=(\d+),stored=(\d+),hz=(\d+),window=\d+,crc32=\w+\]", text)
    if done:
        n, stored, hz = (int(v) for v in done.groups())
        window = ABSURD_TICKS * stored
        crc = binascii.crc32(struct.pack(f"<{4 + stored}Q", n, stored, hz, window, *[ABSURD_TICKS] * stored))
        return f"m-hb-ticks-done-[n={n},stored={stored},hz={hz},window={window},crc32={crc:08x}]\r\n".encode()
    return line


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("firmware")
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--boot-noise", action="store_true")
    parser.add_argument("--silent-after-boot", action="store_true")
    args = parser.parse_args()
    faults = {}
    for spec in args.fault:
        prefix, occurrence, kind = spec.split(":")
        faults[(prefix, int(occurrence))] = kind

    dut = subprocess.Popen([args.firmware], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    host_in, host_out = 0, sys.stdout.buffer
    counts: dict[str, int] = {}
    booted = False
    fault = None  # the fault for the reply being relayed
    applied = False  # truncate/corrupt hit one line only
    reply_buffer = b""
    command = b""
    bulk_left = 0
    bulk_fault = None
    if args.boot_noise:
        host_out.write(b"\xff\xfe boot noise \x00\r\nm-timestamp-mo")
        host_out.flush()

    def send_to_host(line: bytes) -> None:
        nonlocal applied
        if (args.silent_after_boot and booted) or fault == "drop":
            return
        if fault == "garbage":
            host_out.write(GARBAGE)
        if fault == "truncate" and not applied:
            line, applied = line[: max(3, len(line.rstrip()) // 2)], True
        if fault == "absurd":
            line = absurd_ticks(line)
        if fault == "zero-hz" and line.startswith(b"m-hb-timer-["):
            line = re.sub(rb",\d+\]", b",0]", line)
        if fault == "lap" and line.startswith(b"m-lap-us-"):
            if applied:
                digit = int(line.rstrip()[-1:])
                line = line.rstrip()[:-1] + str((digit + 5) % 10).encode() + b"\r\n"
            applied = True
        if fault == "corrupt" and not applied:
            match = re.search(rb"\[[^\]]*?([0-9a-f])", line)
            if match:
                index = match.start(1)
                line, applied = line[:index] + (b"7" if line[index:index + 1] != b"7" else b"3") + line[index + 1:], True
        host_out.write(line)
        host_out.flush()

    while True:
        readable, _, _ = select.select([host_in, dut.stdout], [], [])
        if dut.stdout in readable:
            data = os.read(dut.stdout.fileno(), 4096)
            if not data:
                return 0
            reply_buffer += data
            while b"\n" in reply_buffer:
                line, reply_buffer = reply_buffer.split(b"\n", 1)
                send_to_host(line + b"\n")
                if line.strip() == b"m-ready":
                    booted, fault = True, None
        if host_in in readable:
            data = os.read(host_in, 4096)
            if not data:
                dut.kill()
                return 0
            forward = bytearray()
            for value in data:
                if bulk_left:
                    bulk_left -= 1
                    if bulk_fault == "bitflip" and bulk_left == 0:
                        value ^= 0x01
                    if not (bulk_fault == "lose" and bulk_left < 4):
                        forward.append(value)
                    if bulk_left == 0:
                        bulk_fault = None
                    continue
                forward.append(value)
                if value != ord("%"):
                    command += bytes([value])
                    continue
                text, command = command.decode(errors="replace").strip(), b""
                for prefix in {p for p, _ in faults}:
                    if text.startswith(prefix):
                        counts[prefix] = counts.get(prefix, 0) + 1
                        kind = faults.get((prefix, counts[prefix]))
                        if kind in ("bitflip", "lose"):
                            bulk_fault = kind
                        elif kind:
                            fault, applied = kind, False
                match = re.fullmatch(r"hb bulk (\d+) \S+", text)
                if match:
                    bulk_left = int(match.group(1))
            dut.stdin.write(bytes(forward))


if __name__ == "__main__":
    sys.exit(main())
