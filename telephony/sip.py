"""SIP text → the few fields the correlator needs (`SipMessage`), or `SipParseError`.

pyVoIP's `SIPMessage` parses first, because the spec names it, and its result is used as is on
the messages it understands (canonical header names, INVITE/ACK/BYE/CANCEL, known status codes).
It raises on much of what a capture sees (other methods, keep-alives, `tel:` URIs, unknown codes
like 499, multipart bodies, `Name:value` without a space) and silently misreads compact or
lower-case header names and comma-joined Vias (sipp and many UAs join them); those messages go
to `_read_fallback`, a small reader of just the fields we need. Measured honestly
(bench/telephony_bench.py on Kamailio's mirror): the fallback alone reads ~130k msg/s, pyVoIP
~95k msg/s and mis-reads 15% of that stream, pyVoIP-then-fallback ~60k msg/s. The order costs
half the parse rate and still clears the 20k msg/s pipeline target, so the named parser stays
first; a test checks both readers agree on every message pyVoIP accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyVoIP.VoIP  # noqa: F401  (pyVoIP.SIP has a circular import unless VoIP loads first)
from pyVoIP.SIP import SIPMessage, SIPMessageType


class SipParseError(ValueError):
    """Not a SIP message we can correlate (garbage, keep-alive, missing mandatory headers)."""


@dataclass(frozen=True, slots=True)
class SipMessage:
    is_request: bool
    method: str  # the request method; for a response, the CSeq method
    status: int | None
    call_id: str
    cseq: int
    cseq_method: str
    from_user: str
    to_user: str
    to_tag: str
    branch: str  # of the top Via
    parser: str  # "pyvoip" or "fallback", for metrics and tests


def parse_sip(data: bytes) -> SipMessage:
    if not data.strip():
        raise SipParseError("empty or keep-alive")
    try:
        parsed = SIPMessage(data)
    except Exception:
        # pyVoIP raises IndexError, ValueError, KeyError, SIPParseError… on input it dislikes.
        return _read_fallback(data)
    message = _from_pyvoip(parsed)
    return message if message is not None else _read_fallback(data)


# Header names as pyVoIP stores them, and the names (long, compact, any case) that mean them.
_CANONICAL = {"call-id": "Call-ID", "cseq": "CSeq", "from": "From", "to": "To", "via": "Via"}
_COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via"}


def _from_pyvoip(parsed: SIPMessage) -> SipMessage | None:
    """Our fields from pyVoIP's result, or None where pyVoIP is known to have misread."""
    headers: dict[str, Any] = parsed.headers
    for name in headers:
        lowered = name.lower()
        wanted = _CANONICAL.get(_COMPACT.get(lowered, lowered))
        if wanted is not None and name != wanted:
            return None  # a compact or odd-case spelling of a header we need
    vias = headers["Via"]
    if "Call-ID" not in headers or "CSeq" not in headers or not vias:
        return None
    if "From" not in headers or "To" not in headers:
        return None
    top_via: dict[str, Any] = vias[0]
    branch = top_via.get("branch") or ""
    if any(key.startswith("SIP/") for key in top_via) or "," in branch:
        return None  # several Vias on one line were read as one
    cseq = headers["CSeq"]
    if not cseq["check"].isdigit():
        return None
    is_request = parsed.type == SIPMessageType.MESSAGE  # RESPONSE is 0: never test truthiness
    to_tag = headers["To"]["tag"].split(";", 1)[0]
    return SipMessage(
        is_request=is_request,
        method=parsed.method if is_request else cseq["method"],
        status=None if is_request else int(parsed.status),
        call_id=headers["Call-ID"].strip(),
        cseq=int(cseq["check"]),
        cseq_method=cseq["method"],
        from_user=(headers["From"]["number"] or "").split(";", 1)[0],
        to_user=(headers["To"]["number"] or "").split(";", 1)[0],
        to_tag=to_tag,
        branch=branch,
        parser="pyvoip",
    )


_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9.!%*_+`'~-]*\Z")
_BRANCH = re.compile(r";\s*branch\s*=\s*([^;,\s]+)", re.IGNORECASE)
_TAG = re.compile(r";\s*tag\s*=\s*([^;\s]+)", re.IGNORECASE)


def _read_fallback(data: bytes) -> SipMessage:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    lines = head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    start = lines[0].split(None, 2)
    if len(start) < 2:
        raise SipParseError("no start line")
    if start[0] == "SIP/2.0":
        if not (start[1].isdigit() and len(start[1]) == 3 and 100 <= int(start[1]) <= 699):
            raise SipParseError("bad status code")
        is_request, method, status = False, "", int(start[1])
    elif len(start) == 3 and start[2].strip() == "SIP/2.0" and _TOKEN.match(start[0]):
        is_request, method, status = True, start[0], None
    else:
        raise SipParseError("not a SIP start line")
    fields = _header_fields(lines[1:])
    call_id = fields.get("call-id", "")
    cseq_parts = fields.get("cseq", "").split()
    if not call_id or len(cseq_parts) != 2 or not cseq_parts[0].isdigit():
        raise SipParseError("missing Call-ID or CSeq")
    if "from" not in fields or "to" not in fields:
        raise SipParseError("missing From or To")
    top_via = fields.get("via", "").split(",", 1)[0]
    branch = _BRANCH.search(top_via)
    to_uri, to_params = _split_name_addr(fields["to"])
    tag = _TAG.search(to_params)
    return SipMessage(
        is_request=is_request,
        method=method if is_request else cseq_parts[1],
        status=status,
        call_id=call_id,
        cseq=int(cseq_parts[0]),
        cseq_method=cseq_parts[1],
        from_user=_user(_split_name_addr(fields["from"])[0]),
        to_user=_user(to_uri),
        to_tag=tag.group(1) if tag else "",
        branch=branch.group(1) if branch else "",
        parser="fallback",
    )


def _header_fields(lines: list[str]) -> dict[str, str]:
    """First value of each header we need, by lower-case long name; folded lines joined."""
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        elif line:
            unfolded.append(line)
    fields: dict[str, str] = {}
    for line in unfolded:
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError("header line without a colon")
        key = name.strip().lower()
        key = _COMPACT.get(key, key)
        if key in _CANONICAL and key not in fields:
            fields[key] = value.strip()
    return fields


def _split_name_addr(value: str) -> tuple[str, str]:
    """`"Name" <uri;p>;tag=x` → ("uri;p", ";tag=x"); a bare `uri;tag=x` → ("uri", ";tag=x")."""
    opened = value.find("<")
    if opened >= 0:
        closed = value.find(">", opened)
        if closed < 0:
            raise SipParseError("unclosed <")
        return value[opened + 1 : closed], value[closed + 1 :]
    uri, semi, params = value.partition(";")
    return uri.strip(), semi + params


def _user(uri: str) -> str:
    """User part of a sip:/sips: URI, or the number of a tel: URI; "" when there is none."""
    scheme, colon, rest = uri.partition(":")
    if not colon:
        return ""
    if scheme.strip().lower() == "tel":
        return rest.split(";", 1)[0]
    user, at, _host = rest.rpartition("@")
    if not at:
        return ""
    return user.split(";", 1)[0].split(":", 1)[0]
