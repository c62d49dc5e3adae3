"""Property tests: nothing a sender can put in a datagram escapes the pipeline as an exception,
and every datagram is counted exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.calltypes import CallRecord
from crm.clock import FakeClock
from telephony.dialogs import Correlator, DialogLimits
from telephony.hep import HepError, decode_hep, encode_hep
from telephony.listener import LOOPBACK, SipCaptureProtocol
from telephony.sip import SipParseError, parse_sip
from tests.telephony.packets import CALLER, PROXY, kamailio_capture

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
HEP = kamailio_capture("hep")
RAW = kamailio_capture("raw")
SIP_LINES = sorted({line for d in RAW for line in d.split(b"\r\n")})


@st.composite
def mutated(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "cut":
            del data[at:]
        elif op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b",", b":", b" ", b"\r\n", b";", b"<", b"\x00"]))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
    return bytes(data)


@st.composite
def sip_from_lines(draw: st.DrawFn) -> bytes:
    """Real header lines from Kamailio traffic, shuffled and recombined."""
    lines = draw(st.lists(st.sampled_from(SIP_LINES), max_size=12))
    return b"\r\n".join(lines) + draw(st.sampled_from([b"", b"\r\n\r\n", b"\r\n\r\nv=0"]))


def _wrap(payload: bytes) -> bytes:
    return encode_hep(payload, src=CALLER, dst=PROXY, timestamp=T0)


SIP_PAYLOADS = st.one_of(mutated(RAW), sip_from_lines(), st.binary(max_size=300))
DATAGRAMS = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(lambda b: b"HEP3" + b),
    mutated(HEP),
    SIP_PAYLOADS,
    SIP_PAYLOADS.map(_wrap),
    st.sampled_from(HEP + RAW),
)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(DATAGRAMS)
def test_decoder_and_parser_raise_only_their_own_errors(datagram: bytes) -> None:
    payload = datagram
    try:
        payload = decode_hep(datagram).payload
    except HepError:
        pass
    try:
        msg = parse_sip(payload)
    except SipParseError:
        return
    Correlator().feed(msg, T0, CALLER)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DATAGRAMS, max_size=40), st.lists(st.sampled_from(HEP + RAW), max_size=40))
def test_streams_through_the_listener_balance_and_finish(
    noise: list[bytes], real: list[bytes]
) -> None:
    asyncio.run(_stream(noise + real))


async def _stream(datagrams: list[bytes]) -> None:
    delivered: list[CallRecord] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        delivered.extend(records)

    clock = FakeClock(T0)
    protocol = SipCaptureProtocol(
        on_calls, allow=LOOPBACK, capture_ids=None, auth_key=None, clock=clock,
        correlator=Correlator(DialogLimits(max_dialogs=5)),
    )  # fmt: skip
    protocol.datagram_received(b"x", ("192.0.2.1", 5060))
    for datagram in datagrams:
        protocol.datagram_received(datagram, ("127.0.0.1", 5060))
    clock.advance(timedelta(days=1))
    protocol.sweep()
    await protocol.backlog.drain(timedelta(seconds=30))
    c = protocol.counters
    assert c.received == len(datagrams) + 1
    assert c.received == c.denied + c.hep + c.raw
    assert c.hep + c.raw == c.auth_failed + c.ignored + c.malformed + c.parsed
    assert c.denied == 1 and c.calls == len(delivered) and c.open_dialogs == 0
    assert c.on_call_errors == 0
