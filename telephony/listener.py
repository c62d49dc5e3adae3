"""UDP capture listener: HEP v3 and raw SIP datagrams on one port → `on_calls([CallRecord])`.

Every datagram lands in exactly one counter bucket:
received == denied + auth_failed + ignored + malformed + parsed.
Finished calls and rings then wait in a bounded backlog for their handlers (telephony.backlog).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from crm.calltypes import CallRecord
from crm.clock import Clock, SystemClock
from telephony.backlog import Backlog, BacklogLimits, OnCalls, OnRing
from telephony.dialogs import Correlator, DialogLimits
from telephony.hep import PROTO_SIP, HepError, decode_hep, is_hep
from telephony.sip import SipParseError, parse_sip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
_ADDRESS_CACHE_SIZE = 4096
# HEP carries the sender's capture time; trusted only this close to our clock, since timeouts
# compare it with our clock (a sender an hour off would otherwise never or instantly time out).
MAX_CLOCK_SKEW = timedelta(minutes=1)
# Shutdown waits this long for the backlog's calls to be recorded; what is left is counted.
DRAIN_TIMEOUT = timedelta(seconds=30)


@dataclass(slots=True)
class ListenerCounters:
    # The fields that are levels rather than running totals.
    GAUGES: ClassVar[frozenset[str]] = frozenset(
        {"open_dialogs", "calls_queued", "rings_queued", "handlers_busy"}
    )

    received: int = 0
    hep: int = 0  # datagrams from allowed sources with the HEP3 magic
    raw: int = 0  # the other datagrams from allowed sources, read as raw SIP
    denied: int = 0  # source address outside the allow-list
    auth_failed: int = 0  # HEP capture id or auth key rejected
    ignored: int = 0  # well-formed HEP carrying something other than SIP (logs, RTCP…)
    malformed: int = 0  # bad HEP framing or unreadable SIP
    parsed: int = 0  # SIP messages handed to the correlator
    pyvoip_fallbacks: int = 0  # parsed by our reader because pyVoIP raised or misread
    calls: int = 0  # finished calls handed to the backlog
    timed_out: int = 0  # of those, closed by a timeout
    evicted: int = 0  # of those, closed early because the dialog table was full
    open_dialogs: int = 0
    on_call_errors: int = 0
    calls_dropped: int = 0  # beyond the backlog's limit, or still waiting when shutdown gave up
    rings: int = 0  # ringing events handed to the backlog
    on_ring_errors: int = 0
    rings_dropped: int = 0  # stale by their turn, pushed out by newer ones, or cut by shutdown
    calls_queued: int = 0
    rings_queued: int = 0
    handlers_busy: int = 0  # on_calls/on_ring coroutines running


class SipCaptureProtocol(asyncio.DatagramProtocol):
    def __init__(
        self,
        on_calls: OnCalls,
        *,
        allow: Iterable[Network],
        capture_ids: Collection[int] | None,
        auth_key: bytes | None,
        clock: Clock,
        correlator: Correlator,
        on_ring: OnRing | None = None,
        backlog_limits: BacklogLimits | None = None,
    ) -> None:
        self._allow = tuple(allow)
        self._capture_ids = frozenset(capture_ids) if capture_ids else None
        self._auth_key = auth_key
        self._clock = clock
        self.correlator = correlator
        self.counters = ListenerCounters()
        self.backlog = Backlog(on_calls, on_ring, self.counters, clock, backlog_limits)
        self._allowed_cache: dict[str, bool] = {}

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        counters = self.counters
        counters.received += 1
        if not self._allowed(str(addr[0])):
            counters.denied += 1
            return
        now = self._clock.now()
        if is_hep(data):
            counters.hep += 1
            try:
                packet = decode_hep(data)
            except HepError:
                counters.malformed += 1
                return
            if (self._capture_ids is not None and packet.capture_id not in self._capture_ids) or (
                self._auth_key is not None and packet.auth_key != self._auth_key
            ):
                counters.auth_failed += 1
                return
            if packet.proto_type not in (None, PROTO_SIP):
                counters.ignored += 1
                return
            payload, at = packet.payload, now
            if packet.timestamp is not None and abs(packet.timestamp - now) <= MAX_CLOCK_SKEW:
                at = packet.timestamp
            src = (
                (packet.src_ip, packet.src_port)
                if packet.src_ip is not None and packet.src_port is not None
                else None
            )
        else:
            # A raw copy comes from the proxy itself, so its UDP source says nothing about the leg.
            counters.raw += 1
            payload, at, src = data, now, None
        try:
            message = parse_sip(payload)
        except SipParseError:
            counters.malformed += 1
            return
        counters.parsed += 1
        if message.parser != "pyvoip":
            counters.pyvoip_fallbacks += 1
        self._emit(self.correlator.feed(message, at, src))
        for ring in self.correlator.take_ringing():
            self.backlog.add_ring(ring, at)

    def sweep(self) -> None:
        self._emit(self.correlator.sweep(self._clock.now()))

    def _emit(self, records: list[CallRecord]) -> None:
        counters, correlator = self.counters, self.correlator
        counters.open_dialogs = len(correlator)
        counters.timed_out, counters.evicted = correlator.stats.timed_out, correlator.stats.evicted
        for record in records:
            self.backlog.add_call(record)

    def _allowed(self, host: str) -> bool:
        cached = self._allowed_cache.get(host)
        if cached is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                return False
            cached = any(address in network for network in self._allow)
            if len(self._allowed_cache) >= _ADDRESS_CACHE_SIZE:
                self._allowed_cache.clear()  # bounded against a spray of spoofed sources
            self._allowed_cache[host] = cached
        return cached


class SipListener:
    """A running capture listener; `close()` stops it and drains its backlog."""

    def __init__(
        self,
        transport: asyncio.DatagramTransport,
        protocol: SipCaptureProtocol,
        sweep_every: timedelta,
    ) -> None:
        self._transport = transport
        self.protocol = protocol
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_loop(sweep_every))

    @property
    def counters(self) -> ListenerCounters:
        return self.protocol.counters

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._transport.get_extra_info("sockname")[:2]
        return host, port

    async def _sweep_loop(self, every: timedelta) -> None:
        while True:
            await asyncio.sleep(every.total_seconds())
            self.protocol.sweep()

    async def close(self, drain_timeout: timedelta = DRAIN_TIMEOUT) -> None:
        self._transport.close()
        self._sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sweeper
        # Dialogs still open are calls in progress, not finished calls: nothing to hand over.
        await self.protocol.backlog.drain(drain_timeout)


def parse_networks(spec: str) -> tuple[Network, ...]:
    """ "10.0.0.0/8, 192.168.1.5" → networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(part.strip()) for part in spec.split(",") if part.strip())


async def start_listener(
    host: str,
    port: int,
    on_calls: OnCalls,
    *,
    allow: Iterable[Network] = LOOPBACK,
    capture_ids: Collection[int] | None = None,
    auth_key: bytes | None = None,
    clock: Clock | None = None,
    limits: DialogLimits | None = None,
    sweep_every: timedelta = timedelta(seconds=1),
    on_ring: OnRing | None = None,
    backlog_limits: BacklogLimits | None = None,
) -> SipListener:
    """Bind host:port (port 0 picks a free one, see `SipListener.address`) and start capturing."""
    protocol = SipCaptureProtocol(
        on_calls,
        allow=allow,
        capture_ids=capture_ids,
        auth_key=auth_key,
        clock=clock or SystemClock(),
        correlator=Correlator(limits),
        on_ring=on_ring,
        backlog_limits=backlog_limits,
    )
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, local_addr=(host, port))
    return SipListener(transport, protocol, sweep_every)
