"""End to end: sipp caller → real Kamailio (siptrace) → sipp callee, mirrored to our listener."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm.calltypes import CallRecord, Disposition
from telephony.listener import SipListener, start_listener
from tests.telephony.kamailio import (
    HEP_AUTH_KEY,
    HEP_CAPTURE_ID,
    Inbox,
    Kamailio,
    place_call,
)

pytestmark = [
    pytest.mark.sip,
]

CASES = [
    # uas scenario, uac scenario, disposition, code, rang, talk seconds
    ("uas_answer.xml", "uac_answer.xml", Disposition.ANSWERED, 200, True, 1),
    ("uas_486.xml", "uac_reject.xml", Disposition.BUSY, 486, False, 0),
    ("uas_600.xml", "uac_reject.xml", Disposition.BUSY, 600, False, 0),
    ("uas_603.xml", "uac_reject.xml", Disposition.BUSY, 603, False, 0),
    ("uas_ring.xml", "uac_cancel.xml", Disposition.CANCELLED, 487, True, 0),
    ("uas_ring.xml", "uac_reject.xml", Disposition.NO_ANSWER, 408, True, 0),  # fr_inv_timer
    ("uas_480.xml", "uac_reject.xml", Disposition.NO_ANSWER, 480, True, 0),
    ("uas_404.xml", "uac_reject.xml", Disposition.UNAVAILABLE, 404, False, 0),
    ("uas_503.xml", "uac_reject.xml", Disposition.UNAVAILABLE, 503, False, 0),  # caller gets 500
]


@pytest.fixture
async def capture(proxy: Kamailio) -> AsyncIterator[tuple[Inbox[CallRecord], SipListener]]:
    calls: Inbox[CallRecord] = Inbox()
    listener = await start_listener(
        "127.0.0.1", proxy.capture_port, calls.put_all,
        capture_ids={HEP_CAPTURE_ID}, auth_key=HEP_AUTH_KEY,
    )  # fmt: skip
    yield calls, listener
    await listener.close()


@pytest.mark.parametrize(("uas", "uac", "disposition", "code", "rang", "talk"), CASES)
async def test_call_through_kamailio(
    proxy: Kamailio,
    capture: tuple[Inbox[CallRecord], SipListener],
    tmp_path: Path,
    uas: str,
    uac: str,
    disposition: Disposition,
    code: int,
    rang: bool,
    talk: int,
) -> None:
    calls, listener = capture
    call_id = await place_call(proxy, uas, uac, tmp_path)
    record = await calls.wait_for(lambda r: r.call_id == call_id)
    assert (record.disposition, record.sip_code, record.rang) == (disposition, code, rang)
    assert (record.caller, record.callee) == ("101", "200")
    assert record.talk_seconds == talk
    assert record.started_at <= (record.answered_at or record.ended_at) <= record.ended_at
    counters = listener.counters
    assert counters.malformed == counters.denied == counters.auth_failed == 0
    assert counters.parsed > 0
