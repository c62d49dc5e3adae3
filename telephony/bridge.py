"""Where captured calls meet the pipeline: the listener's callbacks bound to the domain."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from config.settings import Settings, split_host_port
from crm.calls import record_calls, ringing
from crm.calltypes import CallRecord, Ringing
from crm.context import Crm
from crm.notices import Notifier
from telephony.backlog import BacklogLimits, OnCalls, OnRing
from telephony.listener import SipListener, parse_networks, start_listener

log = logging.getLogger(__name__)


def call_sink(crm: Crm, notifier: Notifier) -> OnCalls:
    async def on_calls(records: Sequence[CallRecord]) -> None:
        failed = []
        for record, effect in zip(records, await record_calls(crm, records, notifier), strict=True):
            if isinstance(effect, Exception):
                effect.add_note(f"call {record.call_id} {record.caller}→{record.callee}")
                failed.append(effect)
                continue
            log.info(
                "call %s %s→%s %s/%s: %s", record.call_id, record.caller, record.callee,
                record.disposition, record.sip_code, effect,
            )
        if failed:  # the backlog counts and logs each
            raise ExceptionGroup(f"{len(failed)} of {len(records)} calls failed", failed)

    return on_calls


def ring_sink(crm: Crm, notifier: Notifier) -> OnRing:
    async def on_ring(ring: Ringing) -> None:
        await ringing(crm, ring.caller, ring.callee, notifier)

    return on_ring


async def start_capture(settings: Settings, crm: Crm, notifier: Notifier) -> SipListener:
    """The listener on NEXTSTEP_SIP_LISTEN with the settings' allow-list and HEP checks."""
    host, port = split_host_port(settings.sip_listen)
    return await start_listener(
        host, port, call_sink(crm, notifier),
        allow=parse_networks(",".join(settings.sip_allow)),
        capture_ids=settings.hep_capture_ids or None,
        auth_key=settings.hep_auth_key.encode() or None,
        clock=crm.clock, on_ring=ring_sink(crm, notifier),
        backlog_limits=BacklogLimits(handlers=settings.sip_handlers),
    )  # fmt: skip
