"""Record what Kamailio mirrors for every test scenario into tests/telephony/data/.

`python -m tests.telephony.record_capture` (needs kamailio and sipp). The files hold datagrams as
they arrived, each prefixed by its uint32 length; unit tests and the bench replay them.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests.telephony.kamailio import free_udp_port, place_call, start_kamailio

DATA = Path(__file__).parent / "data"
CALLS = [
    ("uas_answer.xml", "uac_answer.xml"),
    ("uas_486.xml", "uac_reject.xml"),
    ("uas_600.xml", "uac_reject.xml"),
    ("uas_603.xml", "uac_reject.xml"),
    ("uas_ring.xml", "uac_cancel.xml"),
    ("uas_ring.xml", "uac_reject.xml"),
    ("uas_480.xml", "uac_reject.xml"),
    ("uas_404.xml", "uac_reject.xml"),
    ("uas_503.xml", "uac_reject.xml"),
]


def load_capture(path: Path) -> list[bytes]:
    data, datagrams, pos = path.read_bytes(), [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4])
        datagrams.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return datagrams


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.datagrams.append(data)


async def record(mode: str, workdir: Path) -> list[bytes]:
    capture_port = free_udp_port()
    sink = _Sink()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: sink, local_addr=("127.0.0.1", capture_port)
    )
    proxy = start_kamailio(workdir, mode, capture_port)
    try:
        for uas, uac in CALLS:
            await place_call(proxy, uas, uac, workdir)
        await asyncio.sleep(0.5)
    finally:
        proxy.stop()
        transport.close()
    return sink.datagrams


async def main() -> None:
    DATA.mkdir(exist_ok=True)
    for mode in ("hep", "raw"):
        with tempfile.TemporaryDirectory() as workdir:
            datagrams = await record(mode, Path(workdir))
        blob = b"".join(len(d).to_bytes(4) + d for d in datagrams)
        (DATA / f"kamailio_{mode}.capture").write_bytes(blob)
        print(f"{mode}: {len(datagrams)} datagrams")


if __name__ == "__main__":
    asyncio.run(main())
