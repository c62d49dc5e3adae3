"""Correlator: parsed SIP messages in, finished `CallRecord`s out.

Dialogs are keyed by Call-ID and opened only by an INVITE. The caller's leg is told apart by the
top-Via branch of the caller's INVITE: a proxy adds its own Via on the callee leg, so a response
carrying the caller's branch is the one sent toward the caller. That works for HEP mirrors of
both legs (trace_mode=1) and for raw copies without addresses alike; with HEP the INVITE's source
address additionally pins which INVITEs come from the caller. Retransmissions and the second
mirror copy of a message fall out of the state machine: a dialog reacts to the first final
response toward the caller only, and then lingers as "closed" so late copies are ignored.

Time is passed in (`at` per message, `now` per sweep); nothing here reads a clock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm.calltypes import CallRecord, Disposition, Ringing
from telephony.sip import SipMessage

_BUSY = frozenset({486, 600, 603})
_UNAVAILABLE = frozenset({404, 410, 484, 485, 503, 604})
# Final responses after which the caller may retry on the same Call-ID (auth challenge) or
# follow a redirect; the dialog waits `follow_timeout` for a new INVITE before closing.
_RETRYABLE = frozenset({401, 407})


def classify(code: int, *, rang: bool) -> Disposition:
    """Disposition of a call ended with `code` (the table is this function)."""
    if 200 <= code < 300:
        return Disposition.ANSWERED
    if code in _BUSY:
        return Disposition.BUSY
    if code == 487:
        return Disposition.CANCELLED
    if code == 408:
        return Disposition.NO_ANSWER
    if code == 480:
        return Disposition.NO_ANSWER if rang else Disposition.UNAVAILABLE
    if code in _UNAVAILABLE or 300 <= code < 400:
        return Disposition.UNAVAILABLE
    return Disposition.FAILED


@dataclass(frozen=True, slots=True)
class DialogLimits:
    ring_timeout: timedelta = timedelta(minutes=5)  # INVITE without any final response
    max_call: timedelta = timedelta(hours=4)  # answered without a BYE
    follow_timeout: timedelta = timedelta(seconds=32)  # 3xx/401/407 not followed by an INVITE
    linger: timedelta = timedelta(seconds=64)  # closed Call-IDs ignored this long (64*T1)
    max_dialogs: int = 10_000


@dataclass(slots=True)
class _Dialog:
    call_id: str
    caller: str
    callee: str
    caller_addr: tuple[str, int] | None
    started_at: datetime
    invite_cseq: int
    caller_branches: set[str]
    rang: bool = False
    cancelled: bool = False
    answered_at: datetime | None = None
    pending_code: int | None = None  # 3xx/401/407 waiting to see whether the caller goes on
    pending_at: datetime | None = None
    callee_codes: set[int] = field(default_factory=set)
    last_seen: datetime | None = None


@dataclass(slots=True)
class CorrelatorStats:
    calls: int = 0
    timed_out: int = 0
    evicted: int = 0  # closed early because the table was full


class Correlator:
    def __init__(self, limits: DialogLimits | None = None) -> None:
        self.limits = limits or DialogLimits()
        self.stats = CorrelatorStats()
        self._open: OrderedDict[str, _Dialog] = OrderedDict()
        self._closed: OrderedDict[str, datetime] = OrderedDict()  # Call-ID → forget after
        self._ringing: list[Ringing] = []

    def take_ringing(self) -> list[Ringing]:
        """Calls that started ringing since the last call (each once), for screen pops."""
        ringing, self._ringing = self._ringing, []
        return ringing

    def __len__(self) -> int:
        return len(self._open)

    def feed(
        self, msg: SipMessage, at: datetime, src: tuple[str, int] | None = None
    ) -> list[CallRecord]:
        """Take one message seen at `at` (sent from `src` when known); return finished calls."""
        dialog = self._open.get(msg.call_id)
        if dialog is None:
            # Only an initial INVITE opens a dialog: one with a To-tag is a re-INVITE of a call
            # that started before we listened.
            if msg.call_id in self._closed or msg.to_tag or not msg.is_request:
                return []
            if msg.method != "INVITE":
                return []
            return self._open_dialog(msg, at, src)
        dialog.last_seen = at
        if msg.is_request:
            return self._request(dialog, msg, at, src)
        return self._response(dialog, msg, at)

    def sweep(self, now: datetime) -> list[CallRecord]:
        """Close dialogs whose end never came; forget closed Call-IDs past their linger."""
        limits = self.limits
        finished: list[CallRecord] = []
        for dialog in list(self._open.values()):
            if dialog.answered_at is not None:
                if now - dialog.answered_at > limits.max_call:
                    finished.append(self._close(dialog, 200, dialog.last_seen or now, now))
                    self.stats.timed_out += 1
            elif dialog.pending_at is not None and now - dialog.pending_at > limits.follow_timeout:
                finished.append(self._close(dialog, dialog.pending_code, dialog.pending_at, now))
            elif now - dialog.started_at > limits.ring_timeout:
                finished.append(self._close(dialog, None, now, now))
                self.stats.timed_out += 1
        while self._closed:
            call_id, forget_at = next(iter(self._closed.items()))
            if forget_at > now:
                break
            del self._closed[call_id]
        return finished

    def _open_dialog(
        self, msg: SipMessage, at: datetime, src: tuple[str, int] | None
    ) -> list[CallRecord]:
        evicted: list[CallRecord] = []
        if len(self._open) >= self.limits.max_dialogs:
            oldest = next(iter(self._open.values()))
            evicted.append(self._close(oldest, oldest.pending_code, at, at))
            self.stats.evicted += 1
        self._open[msg.call_id] = _Dialog(
            call_id=msg.call_id,
            caller=msg.from_user,
            callee=msg.to_user,
            caller_addr=src,
            started_at=at,
            invite_cseq=msg.cseq,
            caller_branches={msg.branch},
            last_seen=at,
        )
        return evicted

    def _request(
        self, dialog: _Dialog, msg: SipMessage, at: datetime, src: tuple[str, int] | None
    ) -> list[CallRecord]:
        method = msg.method
        if method == "BYE" and dialog.answered_at is not None:
            return [self._close(dialog, 200, at, at)]
        if dialog.answered_at is not None:
            return []  # re-INVITEs, ACKs, INFO… inside a live call
        if method == "CANCEL" and msg.branch in dialog.caller_branches:
            dialog.cancelled = True  # the caller's own CANCEL, not the proxy's on ring timeout
        elif (
            method == "INVITE" and msg.cseq > dialog.invite_cseq and self._from_caller(dialog, src)
        ):
            # The caller tries again after a challenge or redirect; the first copy of each new
            # CSeq is the caller's own (a proxy forwards only after receiving it).
            dialog.invite_cseq = msg.cseq
            dialog.caller_branches.add(msg.branch)
            dialog.pending_code = dialog.pending_at = None
        return []

    @staticmethod
    def _from_caller(dialog: _Dialog, src: tuple[str, int] | None) -> bool:
        return src is None or dialog.caller_addr is None or src == dialog.caller_addr

    def _response(self, dialog: _Dialog, msg: SipMessage, at: datetime) -> list[CallRecord]:
        code = msg.status or 0
        if msg.cseq_method != "INVITE" or msg.cseq != dialog.invite_cseq:
            return []
        if dialog.answered_at is not None or code < 180:
            return []  # 200 retransmissions, 100 Trying
        if code < 200:
            if not dialog.rang:
                dialog.rang = True
                self._ringing.append(Ringing(dialog.call_id, dialog.caller, dialog.callee))
            return []
        if msg.branch not in dialog.caller_branches:
            dialog.callee_codes.add(code)
            return []
        if code < 300:
            dialog.answered_at = at
            return []
        if code in _RETRYABLE or code < 400:
            dialog.pending_code, dialog.pending_at = code, at
            return []
        if code == 500 and 503 in dialog.callee_codes:
            code = 503  # RFC 3261 §16.7: the proxy turned the callee's 503 into 500
        return [self._close(dialog, code, at, at)]

    def _close(
        self, dialog: _Dialog, code: int | None, ended_at: datetime, now: datetime
    ) -> CallRecord:
        del self._open[dialog.call_id]
        self._closed[dialog.call_id] = now + self.limits.linger
        self._closed.move_to_end(dialog.call_id)
        while len(self._closed) > self.limits.max_dialogs:
            self._closed.popitem(last=False)
        if dialog.answered_at is not None:
            disposition = Disposition.ANSWERED
        elif code is not None:
            disposition = classify(code, rang=dialog.rang)
        elif dialog.cancelled:
            disposition = Disposition.CANCELLED
        elif dialog.rang:
            disposition = Disposition.NO_ANSWER
        else:
            disposition = Disposition.FAILED
        self.stats.calls += 1
        return CallRecord(
            call_id=dialog.call_id,
            caller=dialog.caller,
            callee=dialog.callee,
            disposition=disposition,
            sip_code=code,
            started_at=dialog.started_at,
            rang=dialog.rang,
            answered_at=dialog.answered_at,
            ended_at=ended_at,
        )
