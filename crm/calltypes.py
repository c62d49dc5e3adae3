"""Values that cross from telephony into the domain: one finished call."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Disposition(enum.StrEnum):
    """Asterisk-CDR-like outcome of a call, see ../shared/notes/telephony.md."""

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
