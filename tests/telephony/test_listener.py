from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from crm.calltypes import CallRecord, Disposition
from crm.clock import FakeClock
from telephony.dialogs import DialogLimits
from telephony.hep import encode_hep
from telephony.listener import ListenerCounters, SipListener, parse_networks, start_listener
from tests.telephony.kamailio import HEP_AUTH_KEY, HEP_CAPTURE_ID
from tests.telephony.packets import CALLER, PROXY, kamailio_capture, request, response

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _hep(payload: bytes, src: tuple[str, int] = CALLER, **kwargs: object) -> bytes:
    options: dict[str, object] = {"capture_id": HEP_CAPTURE_ID, "auth_key": HEP_AUTH_KEY}
    options.update(kwargs)
    return encode_hep(payload, src=src, dst=PROXY, timestamp=T0, **options)  # type: ignore[arg-type]


def balanced(c: ListenerCounters) -> bool:
    return (
        c.received == c.denied + c.hep + c.raw
        and c.hep + c.raw == c.auth_failed + c.ignored + c.malformed + c.parsed
    )


async def eventually(predicate: Callable[[], bool]) -> None:
    """Counters are plain ints the protocol bumps; polling is how a test observes them."""
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _send(listener: SipListener, datagrams: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, listener.address)
    await eventually(lambda: listener.counters.received >= len(datagrams))


async def test_hep_and_raw_on_one_port_with_every_bucket_counted() -> None:
    calls: list[CallRecord] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        calls.extend(records)

    listener = await start_listener(
        "127.0.0.1", 0, on_calls, capture_ids={HEP_CAPTURE_ID}, auth_key=HEP_AUTH_KEY
    )
    try:
        await _send(
            listener,
            [
                _hep(request("INVITE")),
                _hep(response(486), src=PROXY),
                request("INVITE", call_id="raw-1"),
                response(603, call_id="raw-1"),
                _hep(request("INVITE", call_id="x"), auth_key=b"wrong"),
                _hep(request("INVITE", call_id="y"), capture_id=1),
                _hep(b"a log line", proto_type=100),
                b"HEP3\x00\x07garbage",
                b"\r\n\r\n",
                b"\x16\x03\x01 not sip",
            ],
        )
        await eventually(lambda: len(calls) == 2)
    finally:
        await listener.close()
    assert [(c.call_id, c.disposition, c.sip_code) for c in calls] == [
        ("call-1", Disposition.BUSY, 486),
        ("raw-1", Disposition.BUSY, 603),
    ]
    c = listener.counters
    assert (c.received, c.hep, c.raw, c.auth_failed, c.ignored, c.malformed, c.parsed) == (
        10, 6, 4, 2, 1, 3, 4,
    )  # fmt: skip
    assert (c.denied, c.calls, c.open_dialogs) == (0, 2, 0)
    assert balanced(c)


async def test_sources_outside_the_allow_list_are_denied() -> None:
    async def on_calls(records: Sequence[CallRecord]) -> None:
        raise AssertionError("nothing may pass")

    listener = await start_listener(
        "127.0.0.1", 0, on_calls, allow=parse_networks("10.0.0.0/8, 192.168.1.5")
    )
    try:
        await _send(listener, [request("INVITE"), response(486)])
    finally:
        await listener.close()
    assert (listener.counters.denied, listener.counters.parsed) == (2, 0)


async def test_close_waits_for_slow_on_call_and_counts_its_errors() -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        await release.wait()
        finished.extend(r.call_id for r in records)
        if any(r.call_id == "raw-2" for r in records):
            raise ExceptionGroup("a call failed", [RuntimeError("store down")])

    listener = await start_listener("127.0.0.1", 0, on_calls)
    await _send(
        listener,
        [request("INVITE", call_id=n) for n in ("raw-1", "raw-2")]
        + [response(404, call_id=n) for n in ("raw-1", "raw-2")],
    )
    assert listener.counters.calls == 2 and finished == []
    closing = asyncio.create_task(listener.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # still waiting on the pending on_calls tasks
    release.set()
    await closing
    assert sorted(finished) == ["raw-1", "raw-2"]
    assert listener.counters.on_call_errors == 1


async def test_periodic_sweep_closes_dialogs_by_the_injected_clock() -> None:
    clock = FakeClock(T0)
    calls: list[CallRecord] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        calls.extend(records)

    listener = await start_listener(
        "127.0.0.1", 0, on_calls, clock=clock, sweep_every=timedelta(milliseconds=10),
        limits=DialogLimits(ring_timeout=timedelta(seconds=30)),
    )  # fmt: skip
    try:
        await _send(listener, [request("INVITE", call_id="never-ends")])
        await asyncio.sleep(0.05)
        assert calls == []
        clock.advance(timedelta(seconds=31))
        await eventually(lambda: len(calls) == 1)
    finally:
        await listener.close()
    assert (calls[0].disposition, calls[0].started_at) == (Disposition.FAILED, T0)
    assert listener.counters.timed_out == 1


@pytest.mark.parametrize("mode", ["hep", "raw"])
async def test_recorded_kamailio_stream_through_the_socket(mode: str) -> None:
    calls: list[CallRecord] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        calls.extend(records)

    listener = await start_listener("127.0.0.1", 0, on_calls)
    datagrams = kamailio_capture(mode)
    try:
        await _send(listener, datagrams)
    finally:
        await listener.close()
    assert len(calls) == 9
    assert balanced(listener.counters) and listener.counters.malformed == 0


async def test_hep_time_is_trusted_only_near_our_clock() -> None:
    clock = FakeClock(T0 + timedelta(hours=2))  # the sender's clock is two hours behind
    calls: list[CallRecord] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        calls.extend(records)

    listener = await start_listener("127.0.0.1", 0, on_calls, clock=clock)
    try:
        await _send(listener, [_hep(request("INVITE")), _hep(response(486), src=PROXY)])
        await eventually(lambda: len(calls) == 1)
    finally:
        await listener.close()
    assert calls[0].started_at == calls[0].ended_at == T0 + timedelta(hours=2)
