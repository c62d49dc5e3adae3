"""The capture backlog: a bounded number of handlers in flight, calls kept, stale rings dropped."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from crm.calltypes import CallRecord, Disposition, Ringing
from crm.clock import FakeClock
from telephony.backlog import Backlog, BacklogLimits
from telephony.hep import encode_hep
from telephony.listener import ListenerCounters, start_listener
from tests.telephony.packets import CALLER, PROXY, request, response
from tests.telephony.test_listener import balanced, eventually

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CAPTURE_SOURCE = ("127.0.0.1", 9060)


def _call(call_id: str) -> CallRecord:
    return CallRecord(
        call_id=call_id, caller="101", callee="200", disposition=Disposition.BUSY, sip_code=486,
        started_at=T0, rang=False, answered_at=None, ended_at=T0,
    )  # fmt: skip


def _ring(call_id: str) -> Ringing:
    return Ringing(call_id=call_id, caller="200", callee="101")


class SlowSink:
    """Handlers that hold until `gate` opens, noting how many run at once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.running = 0
        self.peak = 0
        self.started: list[str] = []
        self.finished: list[str] = []
        self.batches: list[int] = []  # calls handed to each call handler

    async def _handle(self, ids: list[str]) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.started += ids
        try:
            await self.gate.wait()
            await asyncio.sleep(0)  # still taking a turn once open, so handlers overlap
        finally:
            self.running -= 1
        self.finished += ids

    async def on_calls(self, records: Sequence[CallRecord]) -> None:
        self.batches.append(len(records))
        await self._handle([r.call_id for r in records])

    async def on_ring(self, ring: Ringing) -> None:
        await self._handle([f"ring {ring.call_id}"])


def _backlog(
    sink: SlowSink, clock: FakeClock | None = None, **limits: int | timedelta
) -> tuple[Backlog, ListenerCounters]:
    counters = ListenerCounters()
    backlog = Backlog(
        sink.on_calls, sink.on_ring, counters, clock or FakeClock(T0),
        BacklogLimits(**limits),  # type: ignore[arg-type]
    )  # fmt: skip
    return backlog, counters


def _gauges(c: ListenerCounters) -> tuple[int, int, int]:
    return c.handlers_busy, c.calls_queued, c.rings_queued


async def test_a_burst_of_1000_calls_runs_8_at_a_time_and_close_records_them_all() -> None:
    sink = SlowSink()
    listener = await start_listener(
        "127.0.0.1", 0, sink.on_calls, clock=FakeClock(T0), backlog_limits=BacklogLimits(handlers=8)
    )
    call_ids = [f"burst-{n}" for n in range(1000)]
    for call_id in call_ids:
        listener.protocol.datagram_received(request("INVITE", call_id=call_id), CAPTURE_SOURCE)
        listener.protocol.datagram_received(response(486, call_id=call_id), CAPTURE_SOURCE)
    c = listener.counters
    assert (c.calls, *_gauges(c)) == (1000, 8, 992, 0)
    await eventually(lambda: sink.running == 8)

    closing = asyncio.create_task(listener.close())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not closing.done() and c.calls_queued == 992  # shutdown waits for the backlog
    sink.gate.set()
    await closing

    assert sink.started == call_ids  # in arrival order
    assert sorted(sink.finished) == sorted(call_ids)
    assert sink.peak == 8
    # The first eight found a handler free, alone; the waiting ones went 16 to a handler.
    assert sink.batches == [1] * 8 + [16] * 62
    assert (c.calls_dropped, c.on_call_errors, *_gauges(c)) == (0, 0, 0, 0, 0)
    assert balanced(c) and c.parsed == 2000


async def test_calls_beyond_the_queue_limit_are_dropped_and_counted() -> None:
    sink = SlowSink()
    backlog, c = _backlog(sink, handlers=1, max_queued_calls=3)
    for n in range(10):
        backlog.add_call(_call(f"c{n}"))
    assert (c.calls, c.calls_dropped, *_gauges(c)) == (10, 6, 1, 3, 0)

    sink.gate.set()
    await backlog.drain(timedelta(seconds=30))
    assert sink.finished == ["c0", "c1", "c2", "c3"]  # the newest were refused
    assert c.calls == len(sink.finished) + c.on_call_errors + c.calls_dropped
    assert _gauges(c) == (0, 0, 0)


async def test_a_fresh_ring_goes_before_waiting_calls_and_a_stale_one_is_dropped() -> None:
    clock = FakeClock(T0)
    sink = SlowSink()
    backlog, c = _backlog(sink, clock, handlers=1)
    backlog.add_call(_call("c0"))  # holds the only handler
    backlog.add_ring(_ring("old"), clock.now())
    clock.advance(timedelta(seconds=21))  # past the 20 s shelf life
    backlog.add_ring(_ring("new"), clock.now())
    backlog.add_call(_call("c1"))
    assert _gauges(c) == (1, 1, 2)

    sink.gate.set()
    await backlog.drain(timedelta(seconds=30))
    assert sink.started == ["c0", "ring new", "c1"]
    assert (c.rings, c.rings_dropped, c.calls, c.calls_dropped) == (2, 1, 2, 0)


async def test_when_too_many_rings_wait_the_oldest_gives_way() -> None:
    sink = SlowSink()
    backlog, c = _backlog(sink, handlers=1, max_queued_rings=2)
    backlog.add_call(_call("c0"))
    for name in ("r1", "r2", "r3"):
        backlog.add_ring(_ring(name), T0)
    assert (c.rings, c.rings_dropped, c.rings_queued) == (3, 1, 2)

    sink.gate.set()
    await backlog.drain(timedelta(seconds=30))
    assert sink.started == ["c0", "ring r2", "ring r3"]


async def test_a_ring_ages_from_its_capture_time_not_its_arrival() -> None:
    sink = SlowSink()
    sink.gate.set()
    clock = FakeClock(T0 + timedelta(seconds=30))  # HEP stamps within a minute are trusted

    listener = await start_listener(
        "127.0.0.1", 0, sink.on_calls, clock=clock, on_ring=sink.on_ring
    )
    for payload, src in ((request("INVITE"), CALLER), (response(180), PROXY)):
        datagram = encode_hep(payload, src=src, dst=PROXY, timestamp=T0, capture_id=1)
        listener.protocol.datagram_received(datagram, CAPTURE_SOURCE)
    await listener.close()

    c = listener.counters
    assert (c.rings, c.rings_dropped, c.handlers_busy) == (1, 1, 0)
    assert sink.started == []


async def test_a_drain_that_runs_out_of_time_counts_what_it_left() -> None:
    sink = SlowSink()  # the gate never opens: a store that hangs
    backlog, c = _backlog(sink, handlers=1)
    for n in range(3):
        backlog.add_call(_call(f"c{n}"))
    backlog.add_ring(_ring("r"), T0)
    await eventually(lambda: sink.running == 1)

    await backlog.drain(timedelta(0))
    assert sink.started == ["c0"] and sink.finished == []
    assert (c.calls_dropped, c.rings_dropped, *_gauges(c)) == (3, 1, 0, 0, 0)


async def test_handler_errors_are_counted_by_kind_and_do_not_stop_the_backlog() -> None:
    recorded: list[str] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        if any(r.call_id == "bad" for r in records):
            raise RuntimeError("store down")
        recorded.extend(r.call_id for r in records)

    async def on_ring(ring: Ringing) -> None:
        raise RuntimeError("bot down")

    c = ListenerCounters()
    backlog = Backlog(on_calls, on_ring, c, FakeClock(T0), BacklogLimits(handlers=1))
    for call_id in ("bad", "good"):
        backlog.add_call(_call(call_id))
    backlog.add_ring(_ring("r"), T0)
    await backlog.drain(timedelta(seconds=30))
    assert recorded == ["good"]
    assert (c.on_call_errors, c.on_ring_errors, c.calls_dropped, c.rings_dropped) == (1, 1, 0, 0)


async def test_a_handler_counts_as_errors_only_the_calls_of_its_batch_that_failed() -> None:
    handed: list[list[str]] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        handed.append([r.call_id for r in records])
        await asyncio.sleep(0)
        failed = [RuntimeError(r.call_id) for r in records if r.call_id.startswith("bad")]
        if failed:
            raise ExceptionGroup("calls failed", failed)

    c = ListenerCounters()
    backlog = Backlog(on_calls, None, c, FakeClock(T0), BacklogLimits(handlers=1, batch=3))
    for call_id in ("c0", "c1", "bad2", "c3", "bad4", "c5", "c6"):
        backlog.add_call(_call(call_id))
    await backlog.drain(timedelta(seconds=30))
    assert handed == [["c0"], ["c1", "bad2", "c3"], ["bad4", "c5", "c6"]]
    assert (c.calls, c.on_call_errors, c.calls_dropped, *_gauges(c)) == (7, 2, 0, 0, 0, 0)


async def test_a_batch_cut_by_shutdown_counts_all_its_calls_dropped() -> None:
    handed: list[int] = []

    async def on_calls(records: Sequence[CallRecord]) -> None:
        handed.append(len(records))
        if len(records) > 1:
            await asyncio.Event().wait()  # a store that hangs

    c = ListenerCounters()
    backlog = Backlog(on_calls, None, c, FakeClock(T0), BacklogLimits(handlers=1, batch=4))
    for n in range(6):
        backlog.add_call(_call(f"c{n}"))
    await eventually(lambda: handed == [1, 4])
    await backlog.drain(timedelta(0))
    assert (c.calls_dropped, c.on_call_errors, *_gauges(c)) == (5, 0, 0, 0, 0)


def test_the_gauges_name_real_counters() -> None:
    names = {field.name for field in dataclasses.fields(ListenerCounters)}
    assert ListenerCounters.GAUGES <= names
