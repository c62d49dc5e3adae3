"""Where captured calls meet the pipeline: the listener's callbacks bound to the domain."""

from __future__ import annotations

import logging

from crm.calls import record_call, ringing
from crm.calltypes import CallRecord, Ringing
from crm.context import Crm
from crm.notices import Notifier
from telephony.listener import OnCall, OnRing

log = logging.getLogger(__name__)


def call_sink(crm: Crm, notifier: Notifier) -> OnCall:
    async def on_call(record: CallRecord) -> None:
        effect = await record_call(crm, record, notifier)
        log.info(
            "call %s %s→%s %s/%s: %s", record.call_id, record.caller, record.callee,
            record.disposition, record.sip_code, effect,
        )

    return on_call


def ring_sink(crm: Crm, notifier: Notifier) -> OnRing:
    async def on_ring(ring: Ringing) -> None:
        await ringing(crm, ring.caller, ring.callee, notifier)

    return on_ring
