from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from crm.calltypes import CallRecord, Disposition
from telephony.dialogs import Correlator, DialogLimits, classify
from telephony.hep import decode_hep
from telephony.sip import parse_sip
from tests.telephony.packets import (
    CALLER,
    CALLER_VIA,
    PROXY,
    PROXY_VIA,
    callee_leg,
    kamailio_capture,
    request,
    response,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
D = Disposition


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(
    steps: Sequence[tuple[float, bytes, tuple[str, int] | None]],
    correlator: Correlator | None = None,
) -> list[CallRecord]:
    correlator = Correlator() if correlator is None else correlator
    records: list[CallRecord] = []
    for seconds, raw, src in steps:
        records += correlator.feed(parse_sip(raw), at(seconds), src)
    return records


INVITE = (0.0, request("INVITE"), CALLER)
FORWARDED = (0.01, request("INVITE", vias=(PROXY_VIA, CALLER_VIA)), PROXY)
RING = [(0.5, callee_leg(180), None), (0.51, response(180), PROXY)]


def refused(code: int, *, ring: bool) -> list[tuple[float, bytes, tuple[str, int] | None]]:
    """Both mirrored legs of a refusal, the callee's copy first, with a retransmission."""
    final = [(2.0, callee_leg(code), None), (2.01, response(code), PROXY)]
    return [INVITE, FORWARDED, *(RING if ring else []), *final, (2.5, response(code), PROXY)]


def test_answered_with_talk_time() -> None:
    steps = [
        INVITE, FORWARDED, *RING,
        (3.0, callee_leg(200), None), (3.01, response(200), PROXY),
        (3.2, response(200), PROXY),  # 200 retransmission
        (3.3, request("ACK", to_tag="to1", vias=("SIP/2.0/UDP x;branch=z9hG4bKack",)), CALLER),
        (63.3, request("BYE", cseq=2, to_tag="to1", vias=("SIP/2.0/UDP x;branch=z9hG4bKbye",)),
         CALLER),
        (63.31, request("BYE", cseq=2, to_tag="to1", vias=(PROXY_VIA,)), PROXY),
    ]  # fmt: skip
    [record] = run(steps)
    assert (record.disposition, record.sip_code, record.rang) == (D.ANSWERED, 200, True)
    assert (record.caller, record.callee, record.call_id) == ("101", "200", "call-1")
    assert (record.started_at, record.answered_at, record.ended_at) == (at(0), at(3.01), at(63.3))
    assert record.talk_seconds == 60


@pytest.mark.parametrize(
    ("code", "ring", "disposition"),
    [
        (486, False, D.BUSY), (600, False, D.BUSY), (603, True, D.BUSY),
        (487, True, D.CANCELLED), (408, True, D.NO_ANSWER), (480, True, D.NO_ANSWER),
        (480, False, D.UNAVAILABLE), (404, False, D.UNAVAILABLE), (410, False, D.UNAVAILABLE),
        (484, False, D.UNAVAILABLE), (485, False, D.UNAVAILABLE), (503, False, D.UNAVAILABLE),
        (604, False, D.UNAVAILABLE), (500, False, D.FAILED), (488, True, D.FAILED),
        (499, False, D.FAILED),
    ],
)  # fmt: skip
def test_refusals(code: int, ring: bool, disposition: Disposition) -> None:
    [record] = run(refused(code, ring=ring))
    assert (record.disposition, record.sip_code, record.rang) == (disposition, code, ring)
    assert record.ended_at == at(2.01)  # the copy toward the caller, not the callee's
    assert record.answered_at is None and record.talk_seconds == 0


def test_caller_cancel_while_ringing() -> None:
    steps = [
        INVITE, FORWARDED, *RING,
        (4.0, request("CANCEL", cseq_method="CANCEL"), CALLER),
        (4.01, response(200, method="CANCEL"), PROXY),
        (4.02, request("CANCEL", vias=(PROXY_VIA,)), PROXY),
        (4.03, callee_leg(487), None), (4.04, response(487), PROXY),
    ]  # fmt: skip
    [record] = run(steps)
    assert (record.disposition, record.sip_code, record.rang) == (D.CANCELLED, 487, True)


def test_proxy_500_for_a_callee_503_keeps_the_callee_code() -> None:
    steps = [INVITE, FORWARDED, (1.0, callee_leg(503), None), (1.01, response(500), PROXY)]
    [record] = run(steps)
    assert (record.disposition, record.sip_code) == (D.UNAVAILABLE, 503)


def test_proxy_ring_timeout_408_is_no_answer_though_the_callee_said_487() -> None:
    steps = [
        INVITE, FORWARDED, *RING,
        (2.0, request("CANCEL", vias=(PROXY_VIA,)), PROXY),  # the proxy's, not the caller's
        (2.01, callee_leg(487), None), (2.02, response(408), PROXY),
    ]  # fmt: skip
    [record] = run(steps)
    assert (record.disposition, record.sip_code) == (D.NO_ANSWER, 408)


def test_auth_challenge_then_answered_retry() -> None:
    retry_via = "SIP/2.0/UDP 10.0.0.11:5060;branch=z9hG4bKcaller2"
    steps = [
        INVITE, (0.1, response(407), PROXY),
        (0.2, request("ACK", cseq_method="ACK"), CALLER),
        (0.3, request("INVITE", cseq=2, vias=(retry_via,)), CALLER),
        (0.31, request("INVITE", cseq=2, vias=(PROXY_VIA, retry_via)), PROXY),
        (1.0, response(200, cseq=2, vias=(retry_via,)), PROXY),
        (11.0, request("BYE", cseq=3, to_tag="to1"), CALLER),
    ]  # fmt: skip
    [record] = run(steps)
    assert (record.disposition, record.sip_code, record.talk_seconds) == (D.ANSWERED, 200, 10)


def test_redirect_not_followed_closes_after_the_follow_timeout() -> None:
    correlator = Correlator()
    assert run([INVITE, (0.1, response(302), PROXY)], correlator) == []
    assert correlator.sweep(at(10)) == []
    [record] = correlator.sweep(at(40))
    assert (record.disposition, record.sip_code, record.ended_at) == (D.UNAVAILABLE, 302, at(0.1))


def test_answered_call_without_bye_is_closed_after_max_call() -> None:
    correlator = Correlator(DialogLimits(max_call=timedelta(hours=1)))
    run([INVITE, (1.0, response(200), PROXY), (1.1, request("ACK", to_tag="to1"), CALLER)],
        correlator)  # fmt: skip
    assert correlator.sweep(at(3000)) == []
    [record] = correlator.sweep(at(3700))
    assert (record.disposition, record.answered_at, record.ended_at) == (D.ANSWERED, at(1), at(1.1))
    assert correlator.stats.timed_out == 1 and len(correlator) == 0


@pytest.mark.parametrize(
    ("steps", "disposition"),
    [
        ([INVITE], D.FAILED),
        ([INVITE, *RING], D.NO_ANSWER),
        ([INVITE, *RING, (3.0, request("CANCEL", cseq_method="CANCEL"), CALLER)], D.CANCELLED),
    ],
)
def test_setup_without_final_response_times_out(
    steps: list[tuple[float, bytes, tuple[str, int] | None]], disposition: Disposition
) -> None:
    correlator = Correlator(DialogLimits(ring_timeout=timedelta(seconds=60)))
    run(steps, correlator)
    assert correlator.sweep(at(59)) == []
    [record] = correlator.sweep(at(61))
    assert (record.disposition, record.sip_code, record.ended_at) == (disposition, None, at(61))


def test_late_copies_after_close_are_ignored_until_linger_ends() -> None:
    correlator = Correlator(DialogLimits(linger=timedelta(seconds=64)))
    assert len(run(refused(486, ring=False), correlator)) == 1
    assert run([(5.0, request("INVITE"), CALLER)], correlator) == []  # INVITE retransmission
    assert len(correlator) == 0
    correlator.sweep(at(100))
    assert run([(101.0, request("INVITE"), CALLER)], correlator) == []
    assert len(correlator) == 1  # a Call-ID reused long after is a new call


def test_in_dialog_requests_and_stray_responses_open_nothing() -> None:
    correlator = Correlator()
    strays = [
        (0.0, request("INVITE", to_tag="to1"), CALLER),  # re-INVITE of a call we never saw
        (0.1, response(200), PROXY),
        (0.2, request("BYE", cseq=2, to_tag="to1"), CALLER),
        (0.3, request("OPTIONS"), CALLER),
    ]
    assert run(strays, correlator) == [] and len(correlator) == 0


def test_full_table_evicts_the_oldest_dialog_and_counts_it() -> None:
    correlator = Correlator(DialogLimits(max_dialogs=3))
    for n in range(3):
        run([(n, request("INVITE", call_id=f"c{n}"), CALLER)], correlator)
    [evicted] = run([(9, request("INVITE", call_id="c3"), CALLER)], correlator)
    assert (evicted.call_id, evicted.disposition, evicted.ended_at) == ("c0", D.FAILED, at(9))
    assert correlator.stats.evicted == 1 and len(correlator) == 3


def test_classify_3xx_is_unavailable() -> None:
    assert classify(301, rang=False) == D.UNAVAILABLE


EXPECTED_FROM_KAMAILIO = [
    (D.ANSWERED, 200), (D.BUSY, 486), (D.BUSY, 600), (D.BUSY, 603), (D.CANCELLED, 487),
    (D.NO_ANSWER, 408), (D.NO_ANSWER, 480), (D.UNAVAILABLE, 404), (D.UNAVAILABLE, 503),
]  # fmt: skip


@pytest.mark.parametrize("mode", ["hep", "raw"])
def test_recorded_kamailio_capture(mode: str) -> None:
    """The datagrams Kamailio really sent for the sipp scenarios, replayed without binaries."""
    correlator = Correlator()
    records: list[CallRecord] = []
    for n, datagram in enumerate(kamailio_capture(mode)):
        if mode == "hep":
            packet = decode_hep(datagram)
            assert packet.timestamp and packet.src_ip and packet.src_port
            when, src, payload = packet.timestamp, (packet.src_ip, packet.src_port), packet.payload
        else:
            when, src, payload = at(n), None, datagram
        records += correlator.feed(parse_sip(payload), when, src)
    assert [(r.disposition, r.sip_code) for r in records] == EXPECTED_FROM_KAMAILIO
    assert len(correlator) == 0
