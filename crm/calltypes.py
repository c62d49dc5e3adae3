"""Values that cross from telephony into the domain: one finished call."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Disposition(enum.StrEnum):
    """Asterisk-CDR-like outcome of a call, read from its final SIP response
    (telephony.dialogs.classify: 2xx answered, 486/600/603 busy, 487 cancelled, 408 or 480 after
    ringing no answer, 480 unrung, 3xx and 404/410/484/485/503/604 unavailable, the rest
    failed)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CANCELLED = "cancelled"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A finished SIP dialog as the capture listener saw it.

    caller/callee are the user parts of From/To of the first INVITE (an extension like "101" or a
    number in any local form); the domain decides which side is the agent.
    """

    call_id: str
    caller: str
    callee: str
    disposition: Disposition
    sip_code: int | None
    started_at: datetime
    rang: bool
    answered_at: datetime | None
    ended_at: datetime

    @property
    def talk_seconds(self) -> int:
        if self.answered_at is None:
            return 0
        return max(0, int((self.ended_at - self.answered_at).total_seconds()))


@dataclass(frozen=True, slots=True)
class Ringing:
    """A call started ringing: the moment for a screen pop on the agent's side."""

    call_id: str
    caller: str
    callee: str
