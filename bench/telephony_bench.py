"""Replay a realistic HEP capture through decode + parse + correlate on one core.

`python -m bench.telephony_bench [copies]`. The stream is Kamailio's own HEP v3 mirror of the
nine test scenarios (tests/telephony/data/kamailio_hep.capture: both legs, 100 Trying,
hop-by-hop ACKs, CANCELs, a 500-for-503), repeated with fresh Call-IDs and shifted times.
Prints figures only; nothing here asserts on speed.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import timedelta

from telephony.dialogs import Correlator
from telephony.hep import decode_hep, encode_hep
from telephony.sip import SIPMessage, _read_fallback, parse_sip
from tests.telephony.packets import kamailio_capture

_CALL_ID = re.compile(rb"(?m)^(Call-ID: )(\S+)")


def build_stream(copies: int) -> list[bytes]:
    template = [decode_hep(d) for d in kamailio_capture("hep")]
    span = timedelta(minutes=1)
    stream = []
    for n in range(copies):
        for packet in template:
            assert packet.src_ip and packet.dst_ip and packet.src_port and packet.dst_port
            assert packet.timestamp
            payload = _CALL_ID.sub(rb"\g<1>\g<2>-" + str(n).encode(), packet.payload)
            stream.append(
                encode_hep(
                    payload,
                    src=(packet.src_ip, packet.src_port),
                    dst=(packet.dst_ip, packet.dst_port),
                    timestamp=packet.timestamp + n * span,
                    capture_id=packet.capture_id or 0,
                    auth_key=packet.auth_key,
                )
            )
    return stream


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f}/s"


def main(copies: int) -> None:
    stream = build_stream(copies)
    payloads = [decode_hep(d).payload for d in stream]

    started = time.perf_counter()
    correlator = Correlator()
    calls = 0
    for datagram in stream:
        packet = decode_hep(datagram)
        assert packet.timestamp and packet.src_ip and packet.src_port
        msg = parse_sip(packet.payload)
        calls += len(correlator.feed(msg, packet.timestamp, (packet.src_ip, packet.src_port)))
    pipeline = time.perf_counter() - started

    started = time.perf_counter()
    pyvoip_ok = 0
    for payload in payloads:
        try:
            SIPMessage(payload)
            pyvoip_ok += 1
        except Exception:  # counting what pyVoIP refuses is the point
            continue
    bare_pyvoip = time.perf_counter() - started

    started = time.perf_counter()
    fallback_used = sum(parse_sip(p).parser == "fallback" for p in payloads)
    ours = time.perf_counter() - started

    started = time.perf_counter()
    for payload in payloads:
        _read_fallback(payload)
    reader_only = time.perf_counter() - started

    n = len(stream)
    print(
        f"stream: {n:,} HEP datagrams, {calls:,} calls classified, {copies} copies of the capture"
    )
    print(f"decode+parse+correlate  {rate(n, pipeline)} messages  {rate(calls, pipeline)} calls")
    print(f"pyVoIP SIPMessage bare  {rate(n, bare_pyvoip)} messages  ({pyvoip_ok:,} parsed, "
          f"{n - pyvoip_ok:,} raised)")  # fmt: skip
    print(f"parse_sip (ours)        {rate(n, ours)} messages  ({fallback_used:,} via fallback)")
    print(f"fallback reader alone   {rate(n, reader_only)} messages")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
