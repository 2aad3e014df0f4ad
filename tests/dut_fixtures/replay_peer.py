"""A DUT that answers exactly as a recorded transcript says (stdin/stdout are its serial line).

Transcript format (see tests/support/mlperf_tiny.py for where they are): '# ' comments, '> cmd%' what the host
sent, '< line' each line the DUT sent. Lines before the first '>' are the boot banner.
Each received command must equal the next recorded one; a mismatch is reported on stderr as
'REPLAY MISMATCH' and answered with an e-[...] line. After the last exchange the peer writes
'REPLAY COMPLETE' on stderr. Usage: python replay_peer.py TRANSCRIPT
"""

from __future__ import annotations

import os
import sys


def parse_transcript(path: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(boot lines, [(command without '%', reply lines)])"""
    boot: list[str] = []
    exchanges: list[tuple[str, list[str]]] = []
    for raw in open(path, encoding="utf-8").read().splitlines():
        if raw.startswith("> "):
            exchanges.append((raw[2:].rstrip().removesuffix("%"), []))
        elif raw.startswith("< "):
            (exchanges[-1][1] if exchanges else boot).append(raw[2:].rstrip())
    return boot, exchanges


def main() -> int:
    boot, exchanges = parse_transcript(sys.argv[1])
    out = sys.stdout.buffer

    def send(lines: list[str]) -> None:
        out.write("".join(f"{line}\r\n" for line in lines).encode())
        out.flush()

    send(boot)
    command = b""
    position = 0
    while True:
        byte = os.read(0, 1)
        if not byte:
            return 0
        if byte != b"%":
            command += byte
            continue
        text, command = command.decode(errors="replace"), b""
        if position == len(exchanges):
            print(f"REPLAY MISMATCH: transcript ended, got {text!r}", file=sys.stderr, flush=True)
            send([f"e-[replay: transcript ended, got '{text}']", "m-ready"])
            continue
        expected, reply = exchanges[position]
        if text != expected:
            print(f"REPLAY MISMATCH at exchange {position + 1}: expected {expected!r}, got {text!r}",
                  file=sys.stderr, flush=True)
            send([f"e-[replay: expected '{expected}', got '{text}']", "m-ready"])
            continue
        position += 1
        if position == len(exchanges):  # said before the last reply, so the host can check it at once
            print("REPLAY COMPLETE", file=sys.stderr, flush=True)
        send(reply)


if __name__ == "__main__":
    sys.exit(main())
