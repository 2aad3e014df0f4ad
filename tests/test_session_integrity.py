"""Device figures that are wrong but well formed: a flipped digit in a tick count, a lap stamp
that disagrees with the ticks, a firmware that reports absurd tick counts, a 0 Hz timer. The
DUT is the real host firmware behind tests/dut_fixtures/faulty_line.py; each case must end in a
retry that gives the right figure, or in a clear error, never in a wrong number."""

from __future__ import annotations

import binascii
import struct

import pytest

from dut_fixtures.helpers import build_stub, start_python_peer
from dut_fixtures.stub_model import INPUT_BYTES
from hilbench.errors import DutError
from hilbench.session import DutSession
from hilbench.session.replies import BadReply, parse_profile, parse_ticks

VECTOR = bytes((i * 29 + 3) & 0xFF for i in range(INPUT_BYTES))


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    return build_stub(tmp_path_factory)


def faulty_session(firmware, *faults: str, retries: int = 2, timeout: float = 0.5):
    options = [item for fault in faults for item in ("--fault", fault)]
    endpoint = start_python_peer("faulty_line.py", str(firmware.path), *options)
    session = DutSession.from_endpoint(endpoint, timeout=timeout, retries=retries)
    session.sync()
    return endpoint, session


def ticks_reply(ticks, n, hz, window, crc=None) -> list[str]:
    if crc is None:
        crc = binascii.crc32(struct.pack(f"<{4 + len(ticks)}Q", n, len(ticks), hz, window, *ticks))
    return [f"m-hb-ticks-[{','.join(map(str, ticks))}]",
            f"m-hb-ticks-done-[n={n},stored={len(ticks)},hz={hz},window={window},crc32={crc:08x}]", "m-ready"]


def test_a_flipped_digit_in_a_tick_count_fails_its_crc():
    good = ticks_reply([674000], 1, 10_000_000, 674100)
    assert parse_ticks(good, 1).ticks == (674000,)
    flipped = [good[0].replace("674000", "274000"), *good[1:]]
    with pytest.raises(BadReply, match="CRC-32"):
        parse_ticks(flipped, 1)


def test_ticks_beyond_their_own_window_are_refused():
    with pytest.raises(BadReply, match="more than"):
        parse_ticks(ticks_reply([500, 600], 2, 1000, 1000), 2)


def test_a_tick_reply_without_a_checksum_is_refused():
    with pytest.raises(BadReply, match="no crc32"):
        parse_ticks(["m-hb-ticks-[190]", "m-hb-ticks-done-[n=1,stored=1]", "m-ready"], 1)


def test_a_0_hz_timer_is_refused():
    lines = ["m-profile-[ULPMark for tinyML Firmware V0.0.1]", "m-model-[stub40]",
             "m-hb-caps-[raw-output,cycles,bulk-crc]", "m-hb-timer-[systick,0]",
             "m-hb-model-[input-bytes=40,output-bytes=8,max-ticks=128,cmd-size=80]", "m-ready"]
    with pytest.raises(BadReply, match="0 Hz"):
        parse_profile(lines)
    # A damaged timer or caps line must not quietly turn the tick extension off either.
    with pytest.raises(BadReply, match="no m-hb-timer"):
        parse_profile([line for line in lines if "timer" not in line])
    lines[3] = "m-hb-timer-[systick,25000000]"
    with pytest.raises(BadReply, match="lack 'cycles'"):
        parse_profile([line.replace("cycles", "cyclgs") for line in lines])


@pytest.mark.parametrize("fault, n, noticed", [
    ("hb ticks:1:corrupt", 3, "do not match their CRC-32"),  # a flipped digit in a tick count
    ("infer:1:lap", 2, "m-lap-us stamps span"),  # a lap stamp that disagrees with the ticks
])
def test_a_damaged_figure_is_retried_to_a_consistent_one(firmware, fault, n, noticed):
    # A generous timeout: on a loaded machine a slow reply must not add a third attempt,
    # which would make the count below fail for a reason the test is not about.
    endpoint, session = faulty_session(firmware, fault, timeout=5.0)
    with endpoint, session:
        session.load_input(VECTOR)
        result = session.infer(n, 0)
        log = "\n".join(session.log_lines())
    assert noticed in log and log.count(f"> infer {n} 0%") == 2
    # The retried figure is consistent with the DUT's own stamps around it.
    assert sum(result.ticks) / result.timer_hz * 1e6 <= result.window_us + 1


def test_absurd_tick_counts_with_a_valid_crc_are_refused(firmware):
    endpoint, session = faulty_session(firmware, *(f"hb ticks:{i}:absurd" for i in (1, 2, 3)))
    with endpoint, session:
        session.load_input(VECTOR)
        with pytest.raises(DutError) as error:
            session.infer(1, 0)
    message = str(error.value)
    assert "host saw the whole command take" in message and "infer 1 0" in message


def test_a_dut_announcing_a_0_hz_timer_gives_an_error(firmware):
    endpoint, session = faulty_session(firmware, *(f"profile:{i}:zero-hz" for i in (1, 2, 3)))
    with endpoint, session:
        with pytest.raises(DutError, match="0 Hz timer"):
            session.profile()
