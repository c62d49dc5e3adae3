"""Literal SIP text for unit tests: one proxied call, caller 101 → callee 200 via 10.0.0.1."""

from __future__ import annotations

from pathlib import Path

from tests.telephony.record_capture import load_capture

DATA = Path(__file__).parent / "data"
CALLER = ("10.0.0.11", 5060)
PROXY = ("10.0.0.1", 5060)
CALLEE = ("10.0.0.22", 5060)
CALLER_VIA = "SIP/2.0/UDP 10.0.0.11:5060;branch=z9hG4bKcaller1"
PROXY_VIA = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1"


def request(
    method: str,
    *,
    call_id: str = "call-1",
    cseq: int = 1,
    vias: tuple[str, ...] = (CALLER_VIA,),
    to_tag: str = "",
    cseq_method: str | None = None,
) -> bytes:
    lines = [f"{method} sip:200@10.0.0.1 SIP/2.0"]
    lines += [f"Via: {via}" for via in vias]
    lines += [
        'From: "Agent" <sip:101@10.0.0.1>;tag=from1',
        "To: <sip:200@10.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def response(
    code: int,
    reason: str = "Whatever",
    *,
    call_id: str = "call-1",
    cseq: int = 1,
    method: str = "INVITE",
    vias: tuple[str, ...] = (CALLER_VIA,),
    to_tag: str = "to1",
) -> bytes:
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {via}" for via in vias]
    lines += [
        'From: "Agent" <sip:101@10.0.0.1>;tag=from1',
        "To: <sip:200@10.0.0.1>" + (f";tag={to_tag}" if to_tag and code > 100 else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def callee_leg(code: int, **kwargs: object) -> bytes:
    """A response as the callee sends it to the proxy (the proxy's Via on top)."""
    return response(code, vias=(PROXY_VIA, CALLER_VIA), **kwargs)  # type: ignore[arg-type]


def kamailio_capture(mode: str) -> list[bytes]:
    """Datagrams Kamailio mirrored for all the sipp scenarios (see record_capture.py)."""
    return load_capture(DATA / f"kamailio_{mode}.capture")
