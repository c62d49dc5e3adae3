"""HEP v3 decoder: one datagram in, one `HepPacket` out (or `HepError`).

Big-endian: "HEP3", uint16 total length, then chunks of uint16 vendor, uint16 type, uint16 length
(the 6-byte chunk header included). Only generic (vendor 0) chunks are read; others are skipped.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

MAGIC = b"HEP3"
PROTO_SIP = 1

_CHUNK_HEADER = 6
_SRC_IP4, _DST_IP4, _SRC_IP6, _DST_IP6 = 0x03, 0x04, 0x05, 0x06
_SRC_PORT, _DST_PORT, _SECONDS, _MICROS = 0x07, 0x08, 0x09, 0x0A
_PROTO_TYPE, _CAPTURE_ID, _AUTH_KEY, _PAYLOAD, _COMPRESSED = 0x0B, 0x0C, 0x0E, 0x0F, 0x10
# Value sizes of the fixed-width chunks we read; a chunk of another size is malformed.
_FIXED = {
    _SRC_IP4: 4,
    _DST_IP4: 4,
    _SRC_IP6: 16,
    _DST_IP6: 16,
    _SRC_PORT: 2,
    _DST_PORT: 2,
    _SECONDS: 4,
    _MICROS: 4,
    _PROTO_TYPE: 1,
    _CAPTURE_ID: 4,
}


class HepError(ValueError):
    """The datagram is not a well-formed HEP v3 packet."""


@dataclass(frozen=True, slots=True)
class HepPacket:
    src_ip: str | None
    src_port: int | None
    dst_ip: str | None
    dst_port: int | None
    timestamp: datetime | None
    capture_id: int | None
    auth_key: bytes | None
    proto_type: int | None
    payload: bytes


def is_hep(data: bytes) -> bool:
    return data[:4] == MAGIC


def decode_hep(data: bytes) -> HepPacket:
    size = len(data)
    if size < _CHUNK_HEADER or data[:4] != MAGIC:
        raise HepError("no HEP3 magic")
    if int.from_bytes(data[4:6]) != size:
        raise HepError("HEP total length differs from the datagram length")
    fixed: dict[int, bytes] = {}
    auth_key: bytes | None = None
    payload: bytes | None = None
    pos = _CHUNK_HEADER
    while pos < size:
        if size - pos < _CHUNK_HEADER:
            raise HepError("truncated chunk header")
        vendor = int.from_bytes(data[pos : pos + 2])
        kind = int.from_bytes(data[pos + 2 : pos + 4])
        length = int.from_bytes(data[pos + 4 : pos + 6])
        if length < _CHUNK_HEADER or pos + length > size:
            raise HepError(f"chunk 0x{kind:02x} length {length} out of bounds")
        value = data[pos + _CHUNK_HEADER : pos + length]
        pos += length
        if vendor != 0:
            continue
        if kind in _FIXED:
            if len(value) != _FIXED[kind]:
                raise HepError(f"chunk 0x{kind:02x} has {len(value)} bytes")
            fixed[kind] = value
        elif kind == _AUTH_KEY:
            auth_key = value
        elif kind == _PAYLOAD:
            payload = value
        elif kind == _COMPRESSED:
            raise HepError("compressed HEP payloads are not accepted")
    if payload is None:
        raise HepError("no payload chunk")
    src_ip, dst_ip = _address(fixed, _SRC_IP4, _SRC_IP6), _address(fixed, _DST_IP4, _DST_IP6)
    return HepPacket(
        src_ip=src_ip,
        src_port=_uint(fixed, _SRC_PORT),
        dst_ip=dst_ip,
        dst_port=_uint(fixed, _DST_PORT),
        timestamp=_timestamp(fixed),
        capture_id=_uint(fixed, _CAPTURE_ID),
        auth_key=auth_key,
        proto_type=_uint(fixed, _PROTO_TYPE),
        payload=payload,
    )


def _uint(fixed: dict[int, bytes], kind: int) -> int | None:
    value = fixed.get(kind)
    return None if value is None else int.from_bytes(value)


def _address(fixed: dict[int, bytes], v4: int, v6: int) -> str | None:
    if v4 in fixed:
        return str(ipaddress.IPv4Address(fixed[v4]))
    if v6 in fixed:
        return str(ipaddress.IPv6Address(fixed[v6]))
    return None


def _timestamp(fixed: dict[int, bytes]) -> datetime | None:
    seconds = _uint(fixed, _SECONDS)
    if seconds is None:
        return None
    micros = _uint(fixed, _MICROS) or 0
    if micros >= 1_000_000:
        raise HepError("microseconds out of range")
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def encode_hep(
    payload: bytes,
    *,
    src: tuple[str, int],
    dst: tuple[str, int],
    timestamp: datetime,
    capture_id: int = 0,
    auth_key: bytes | None = None,
    proto_type: int = PROTO_SIP,
) -> bytes:
    """Build a HEP v3 packet the way Kamailio does (tests and the bench use it)."""
    src_ip, dst_ip = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    v6 = src_ip.version == 6
    stamp = timestamp.timestamp()
    chunks = [
        _chunk(0x01, bytes([10 if v6 else 2])),
        _chunk(0x02, bytes([17])),
        _chunk(_SRC_IP6 if v6 else _SRC_IP4, src_ip.packed),
        _chunk(_DST_IP6 if v6 else _DST_IP4, dst_ip.packed),
        _chunk(_SRC_PORT, src[1].to_bytes(2)),
        _chunk(_DST_PORT, dst[1].to_bytes(2)),
        _chunk(_SECONDS, int(stamp).to_bytes(4)),
        _chunk(_MICROS, timestamp.microsecond.to_bytes(4)),
        _chunk(_PROTO_TYPE, bytes([proto_type])),
        _chunk(_CAPTURE_ID, capture_id.to_bytes(4)),
    ]
    if auth_key is not None:
        chunks.append(_chunk(_AUTH_KEY, auth_key))
    chunks.append(_chunk(_PAYLOAD, payload))
    body = b"".join(chunks)
    return MAGIC + (len(body) + 6).to_bytes(2) + body


def _chunk(kind: int, value: bytes) -> bytes:
    return b"\x00\x00" + kind.to_bytes(2) + (len(value) + _CHUNK_HEADER).to_bytes(2) + value
