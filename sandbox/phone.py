"""The simulated phone line: a call as the SIP messages a proxy would see, each wrapped in HEP3
and sent over UDP to the product's capture listener, so the disposition, the auto-pressed
button, the screen pop and the missed-call lead come from the real telephony path.

Both legs are mirrored the way Kamailio's trace_mode=1 does: the caller's INVITE, the callee's
responses relayed toward the caller (the caller's Via on top), the BYE and its 200.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import itertools
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from telephony.hep import encode_hep

PROXY = ("127.0.0.1", 5060)
CALLER = ("127.0.0.2", 5060)
CALLEE = ("127.0.0.3", 5060)
DOMAIN = "pbx.demo"
MAX_TALK = 50  # seconds: the listener trusts HEP times only within a minute of its clock


class Outcome(enum.StrEnum):
    """What happens to a call, and the final SIP response that says so."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
    HANG_UP = "hang_up"  # the caller gives up while it rings


_FINAL = {
    Outcome.ANSWERED: (200, "OK"),
    Outcome.BUSY: (486, "Busy Here"),
    Outcome.NO_ANSWER: (480, "Temporarily Unavailable"),
    Outcome.UNAVAILABLE: (503, "Service Unavailable"),
    Outcome.HANG_UP: (487, "Request Terminated"),
}
_RINGS = frozenset({Outcome.ANSWERED, Outcome.NO_ANSWER, Outcome.HANG_UP})
_ids = itertools.count(1)


def via(host: tuple[str, int], branch: str) -> str:
    return f"SIP/2.0/UDP {host[0]}:{host[1]};branch=z9hG4bK{branch}"


def request(
    method: str, *, caller: str, callee: str, call_id: str, cseq: int = 1,
    vias: tuple[str, ...], to_tag: str = "", cseq_method: str | None = None,
    domain: str = DOMAIN, caller_name: str = "Agent",
) -> bytes:
    """One SIP request as text (Content-Length 0: the listener needs no SDP)."""
    lines = [f"{method} sip:{callee}@{domain} SIP/2.0", *(f"Via: {v}" for v in vias)]
    lines += [
        f'From: "{caller_name}" <sip:{caller}@{domain}>;tag=from1',
        f"To: <sip:{callee}@{domain}>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def response(
    code: int, reason: str, *, caller: str, callee: str, call_id: str, cseq: int = 1,
    method: str = "INVITE", vias: tuple[str, ...], to_tag: str = "to1",
    domain: str = DOMAIN, caller_name: str = "Agent",
) -> bytes:
    lines = [f"SIP/2.0 {code} {reason}", *(f"Via: {v}" for v in vias)]
    lines += [
        f'From: "{caller_name}" <sip:{caller}@{domain}>;tag=from1',
        f"To: <sip:{callee}@{domain}>" + (f";tag={to_tag}" if to_tag and code > 100 else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class Call:
    caller: str  # an extension ("101") or a phone number
    callee: str
    outcome: Outcome
    talk_seconds: int = 30
    ring_seconds: int = 4


def messages(call: Call, start: datetime) -> list[tuple[datetime, tuple[str, int], bytes]]:
    """(capture time, source, SIP text) of every message the proxy sees, in order."""
    call_id = f"demo-{next(_ids)}-{int(start.timestamp())}@{DOMAIN}"
    top = via(CALLER, f"c{call_id[:12]}")
    req = functools.partial(request, caller=call.caller, callee=call.callee, call_id=call_id)
    res = functools.partial(response, caller=call.caller, callee=call.callee, call_id=call_id)
    out = [(start, CALLER, req("INVITE", vias=(top,))),
           (start, PROXY, res(100, "Trying", vias=(top,)))]
    at = start + timedelta(seconds=1)
    if call.outcome in _RINGS:
        out.append((at, CALLEE, res(180, "Ringing", vias=(top,))))
        at += timedelta(seconds=call.ring_seconds)
    if call.outcome is Outcome.HANG_UP:
        out.append((at, CALLER, req("CANCEL", vias=(top,), cseq_method="CANCEL")))
        out.append((at, CALLEE, res(200, "OK", method="CANCEL", vias=(top,))))
    code, reason = _FINAL[call.outcome]
    out.append((at, CALLEE, res(code, reason, vias=(top,))))
    out.append((at, CALLER, req("ACK", vias=(top,), to_tag="to1")))
    if call.outcome is Outcome.ANSWERED:
        at += timedelta(seconds=max(1, min(call.talk_seconds, MAX_TALK)))
        bye = via(CALLER, f"b{call_id[:12]}")
        out.append((at, CALLER, req("BYE", vias=(bye,), cseq=2, to_tag="to1")))
        out.append((at, CALLEE, res(200, "OK", cseq=2, method="BYE", vias=(bye,))))
    return out


async def place_call(call: Call, listener: tuple[str, int], now: datetime) -> None:
    """Send the call to the capture listener at `listener`, HEP3 over UDP."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=listener, family=socket.AF_INET
    )
    try:
        for at, source, payload in messages(call, now):
            dst = PROXY if source != PROXY else CALLER
            transport.sendto(encode_hep(payload, src=source, dst=dst, timestamp=at))
            await asyncio.sleep(0.01)  # in order, as a proxy would mirror them
    finally:
        transport.close()
