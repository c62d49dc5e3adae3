"""The simulated phone's calls, read by the product's own SIP reader and correlator: each
outcome ends in the disposition a real PBX's call would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.calltypes import Disposition
from sandbox.phone import Call, Outcome, messages
from telephony.dialogs import Correlator
from telephony.hep import decode_hep, encode_hep
from telephony.sip import parse_sip

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("outcome", "disposition", "rang"), [
    (Outcome.ANSWERED, Disposition.ANSWERED, True),
    (Outcome.BUSY, Disposition.BUSY, False),
    (Outcome.NO_ANSWER, Disposition.NO_ANSWER, True),
    (Outcome.UNAVAILABLE, Disposition.UNAVAILABLE, False),
    (Outcome.HANG_UP, Disposition.CANCELLED, True),
])
def test_each_outcome_ends_in_its_disposition(
    outcome: Outcome, disposition: Disposition, rang: bool
) -> None:
    correlator = Correlator()
    records = []
    for at, source, payload in messages(Call("101", "+79161110011", outcome, 42), T0):
        packet = decode_hep(encode_hep(payload, src=source, dst=("127.0.0.1", 5060), timestamp=at))
        records += correlator.feed(parse_sip(packet.payload), at, source)
    [record] = records
    assert (record.caller, record.callee) == ("101", "+79161110011")
    assert record.disposition is disposition
    assert record.rang is rang
    assert record.talk_seconds == (42 if outcome is Outcome.ANSWERED else 0)
