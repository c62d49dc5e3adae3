from __future__ import annotations

from datetime import UTC, datetime

import pytest

from telephony.hep import HepError, decode_hep, encode_hep, is_hep
from tests.telephony.kamailio import HEP_AUTH_KEY, HEP_CAPTURE_ID
from tests.telephony.packets import kamailio_capture, request

MOMENT = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def test_decodes_kamailio_packets() -> None:
    packets = [decode_hep(d) for d in kamailio_capture("hep")]
    invite = next(p for p in packets if p.payload.startswith(b"INVITE sip:200@"))
    assert invite.capture_id == HEP_CAPTURE_ID
    assert invite.auth_key == HEP_AUTH_KEY
    assert invite.proto_type == 1
    assert invite.src_ip == invite.dst_ip == "127.0.0.1"
    assert invite.src_port and invite.dst_port and invite.src_port != invite.dst_port
    assert invite.timestamp is not None and invite.timestamp.year >= 2024


@pytest.mark.parametrize(
    ("src", "dst"), [(("10.0.0.11", 5060), ("10.0.0.1", 9060)), (("::1", 5062), ("fe80::2", 9))]
)
def test_round_trip(src: tuple[str, int], dst: tuple[str, int]) -> None:
    payload = request("INVITE")
    packet = decode_hep(
        encode_hep(payload, src=src, dst=dst, timestamp=MOMENT, capture_id=7, auth_key=b"k")
    )
    assert (packet.src_ip, packet.src_port, packet.dst_ip, packet.dst_port) == (*src, *dst)
    assert (packet.timestamp, packet.capture_id, packet.auth_key) == (MOMENT, 7, b"k")
    assert packet.payload == payload


def _packet() -> bytes:
    return encode_hep(b"x", src=("10.0.0.1", 1), dst=("10.0.0.2", 2), timestamp=MOMENT)


def _with_chunk(kind: int, value: bytes, vendor: int = 0) -> bytes:
    body = _packet()[6:] + vendor.to_bytes(2) + kind.to_bytes(2) + (len(value) + 6).to_bytes(2)
    body += value
    return b"HEP3" + (len(body) + 6).to_bytes(2) + body


def test_vendor_chunks_are_skipped() -> None:
    assert decode_hep(_with_chunk(0x0F, b"not the payload", vendor=0x0021)).payload == b"x"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HEP3",
        b"HEP2" + _packet()[4:],
        _packet()[:-1],  # total length now larger than the datagram
        _packet() + b"\x00",  # and smaller
        b"HEP3\x00\x0a\x00\x00\x00\x0f",  # truncated chunk header
        b"HEP3\x00\x0c\x00\x00\x00\x0f\x00\x02",  # chunk length below its header
        b"HEP3\x00\x0c\x00\x00\x00\x0f\x00\x09",  # chunk beyond the end
        b"HEP3\x00\x06",  # no payload chunk
        _with_chunk(0x07, b"\x00\x01\x02"),  # a port of three bytes
        _with_chunk(0x0A, (2_000_000).to_bytes(4)),  # microseconds out of range
        _with_chunk(0x10, b"compressed"),
    ],
)
def test_malformed_packets_raise_hep_error(data: bytes) -> None:
    with pytest.raises(HepError):
        decode_hep(data)


def test_magic_check() -> None:
    assert is_hep(_packet())
    assert not is_hep(request("INVITE"))
