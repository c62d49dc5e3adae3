"""What the domain wants people told. The bot renders and sends; the domain only says what."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class NoticeKind(enum.StrEnum):
    DUE = "due"                    # a task fell due: push its card
    AUTO_OUTCOME = "auto_outcome"  # the SIP listener pressed a button for the agent
    ANSWERED_CALL = "answered"     # a call was answered: the card, to choose the outcome
    CALL_LOGGED = "call_logged"    # the agent's call was only logged: params say why and where
    SCREEN_POP = "screen_pop"      # the client is calling the agent right now
    MISSED_CALL = "missed_call"    # a known client called and nobody answered
    NEW_LEAD = "new_lead"          # a lead (chat or missed call) was assigned to the employee
    CLIENT_MESSAGE = "client_msg"  # a client wrote; params carry the chat message id
    ALERT = "alert"                # a keyword or VIP alert
    REMINDER = "reminder"          # an agreed call is coming up
    DIGEST = "digest"              # the supervisor's daily digest
    DEAL_GIVEN = "deal_given"      # a supervisor gave the employee a deal: its card
    DEAL_TAKEN = "deal_taken"      # the employee's deal was given to someone else
    UNREACHABLE = "unreachable"    # an employee blocked the bot; params: rep_id, waiting
    LEAD_WAITING = "lead_waiting"  # a lead in the queue; params: team, escalated, owned (a deal)
    LETTER = "letter"              # a client's e-mail; params: text, chat_message_id


@dataclass(frozen=True)
class Notice:
    employee_id: int
    kind: NoticeKind
    task_id: int | None = None
    deal_id: int | None = None
    params: Mapping[str, str | int | None] = field(default_factory=dict)


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> None: ...
