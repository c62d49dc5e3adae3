"""Every pyVoIP 1.6.8 fault from the telephony notes: pyVoIP's behaviour, then ours."""

from __future__ import annotations

import dataclasses

import pytest

from telephony.hep import decode_hep
from telephony.sip import SIPMessage, SIPMessageType, SipParseError, _read_fallback, parse_sip
from tests.telephony.packets import CALLER_VIA, PROXY_VIA, kamailio_capture, request, response


def _text(*lines: str, body: str = "") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


BASIC = (
    "From: <sip:101@pbx>;tag=a",
    "To: <sip:200@pbx>",
    "Call-ID: c1",
    "CSeq: 1 INVITE",
)


def test_pyvoip_parses_a_plain_invite_and_we_use_its_result() -> None:
    msg = parse_sip(request("INVITE"))
    assert msg.parser == "pyvoip"
    assert (msg.is_request, msg.method, msg.status) == (True, "INVITE", None)
    assert (msg.call_id, msg.cseq, msg.cseq_method) == ("call-1", 1, "INVITE")
    assert (msg.from_user, msg.to_user, msg.to_tag) == ("101", "200", "")
    assert msg.branch == "z9hG4bKcaller1"


def test_response_type_is_zero_so_truthiness_lies() -> None:
    raw = response(486, "Busy Here")
    assert SIPMessage(raw).type == SIPMessageType.RESPONSE
    assert not SIPMessage(raw).type  # the pyVoIP trap: `if msg.type:` is false for responses
    msg = parse_sip(raw)
    assert (msg.is_request, msg.status, msg.method, msg.to_tag) == (False, 486, "INVITE", "to1")


@pytest.mark.parametrize("method", ["OPTIONS", "REGISTER", "NOTIFY", "PRACK", "UPDATE"])
def test_methods_pyvoip_rejects(method: str) -> None:
    raw = request(method)
    with pytest.raises(Exception, match="Unable to decipher"):
        SIPMessage(raw)
    msg = parse_sip(raw)
    assert (msg.parser, msg.method, msg.cseq_method, msg.call_id) == (
        "fallback", method, method, "call-1",
    )  # fmt: skip


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\r\n", b"   ", b"\x00\xff garbage", b"SIP"])
def test_keep_alives_and_garbage_are_parse_errors(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_sip(data)


def test_empty_via() -> None:
    raw = _text("INVITE sip:200@pbx SIP/2.0", "Via: ", *BASIC)
    with pytest.raises(IndexError):
        SIPMessage(raw)
    assert parse_sip(raw).branch == ""


def test_header_without_space_after_colon() -> None:
    raw = _text("INVITE sip:200@pbx SIP/2.0", f"Via:{CALLER_VIA}", *BASIC, "Call-Info:x")
    with pytest.raises(IndexError):
        SIPMessage(raw)
    msg = parse_sip(raw)
    assert (msg.parser, msg.branch) == ("fallback", "z9hG4bKcaller1")


def test_tel_uris() -> None:
    raw = _text(
        "INVITE tel:+15551234567 SIP/2.0",
        f"Via: {CALLER_VIA}",
        "From: <tel:+15557654321;phone-context=x>;tag=a",
        "To: <tel:+15551234567>",
        "Call-ID: c1",
        "CSeq: 1 INVITE",
    )
    with pytest.raises(IndexError):
        SIPMessage(raw)
    msg = parse_sip(raw)
    assert (msg.from_user, msg.to_user) == ("+15557654321", "+15551234567")


def test_multipart_body() -> None:
    body = (
        "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n"
        "--b1\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b1--\r\n"
    )
    raw = _text(
        "INVITE sip:200@pbx SIP/2.0",
        f"Via: {CALLER_VIA}",
        *BASIC,
        "Content-Type: multipart/mixed;boundary=b1",
        body=body,
    )
    with pytest.raises(ValueError):
        SIPMessage(raw)
    assert parse_sip(raw).call_id == "c1"


def test_missing_blank_line() -> None:
    raw = "\r\n".join(("SIP/2.0 180 Ringing", f"Via: {CALLER_VIA}", *BASIC)).encode()
    with pytest.raises(ValueError):
        SIPMessage(raw)
    assert parse_sip(raw).status == 180


def test_unknown_status_code() -> None:
    raw = response(499, "Client Closed")
    with pytest.raises(ValueError):
        SIPMessage(raw)
    assert parse_sip(raw).status == 499


def test_compact_headers_are_misread_by_pyvoip() -> None:
    raw = _text(
        "INVITE sip:200@pbx SIP/2.0",
        f"v: {CALLER_VIA}",
        "f: <sip:101@pbx>;tag=a",
        "t: <sip:200@pbx>",
        "i: compact-1",
        "CSeq: 7 INVITE",
        "l: 0",
    )
    assert "Call-ID" not in SIPMessage(raw).headers  # no error, just nothing read
    msg = parse_sip(raw)
    assert (msg.parser, msg.call_id, msg.cseq, msg.from_user, msg.to_user) == (
        "fallback", "compact-1", 7, "101", "200",
    )  # fmt: skip
    assert msg.branch == "z9hG4bKcaller1"


def test_lower_case_names_are_misread_by_pyvoip() -> None:
    raw = _text(
        "SIP/2.0 486 Busy Here",
        f"via: {CALLER_VIA}",
        "from: <sip:101@pbx>;tag=a",
        "to: <sip:200@pbx>;tag=b;x=1",
        "call-id: lower-1",
        "cseq: 1 INVITE",
    )
    assert "Call-ID" not in SIPMessage(raw).headers
    msg = parse_sip(raw)
    assert (msg.call_id, msg.status, msg.to_tag, msg.branch) == (
        "lower-1", 486, "b", "z9hG4bKcaller1",
    )  # fmt: skip


def test_comma_joined_vias_are_misread_by_pyvoip() -> None:
    raw = _text("SIP/2.0 180 Ringing", f"Via: {PROXY_VIA}, {CALLER_VIA}", *BASIC)
    assert SIPMessage(raw).headers["Via"][0]["branch"] == "z9hG4bKcaller1"  # the second Via's
    assert parse_sip(raw).branch == "z9hG4bKproxy1"


@pytest.mark.parametrize("mode", ["hep", "raw"])
def test_both_paths_agree_on_everything_kamailio_sent(mode: str) -> None:
    payloads = kamailio_capture(mode)
    if mode == "hep":
        payloads = [decode_hep(d).payload for d in payloads]
    parsed = [parse_sip(p) for p in payloads]
    assert {m.parser for m in parsed} == {"pyvoip", "fallback"}
    for payload, msg in zip(payloads, parsed, strict=True):
        assert _read_fallback(payload) == dataclasses.replace(msg, parser="fallback")
