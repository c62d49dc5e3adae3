"""SIP text for unit tests: one proxied call, caller 101 → callee 200 via 10.0.0.1, written by
the simulated phone's builders (sandbox/phone.py)."""

from __future__ import annotations

from pathlib import Path

from sandbox import phone
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
    return phone.request(
        method, caller="101", callee="200", domain=PROXY[0], call_id=call_id, cseq=cseq,
        vias=vias, to_tag=to_tag, cseq_method=cseq_method,
    )


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
    return phone.response(
        code, reason, caller="101", callee="200", domain=PROXY[0], call_id=call_id, cseq=cseq,
        method=method, vias=vias, to_tag=to_tag,
    )


def callee_leg(code: int, **kwargs: object) -> bytes:
    """A response as the callee sends it to the proxy (the proxy's Via on top)."""
    return response(code, vias=(PROXY_VIA, CALLER_VIA), **kwargs)  # type: ignore[arg-type]


def kamailio_capture(mode: str) -> list[bytes]:
    """Datagrams Kamailio mirrored for all the sipp scenarios (see record_capture.py)."""
    return load_capture(DATA / f"kamailio_{mode}.capture")
