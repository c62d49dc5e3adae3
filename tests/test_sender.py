"""The sender keeps its rates, order and promises on a recording Bot session (no network).

Rates are injected small-but-fast so the limits show in a fraction of a second; the checks are
lower bounds on spacing (a limiter never sends early), not speed measurements.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.methods import GetUpdates, SendMessage, TelegramMethod
from aiogram.types import Chat, Message

from bot.sender import Rates, RetryAfterMiddleware, Sender, TokenBucket

TOKEN = "42:" + "x" * 35
SLACK = 0.005  # event-loop timer granularity


@dataclass
class Sent:
    at: float
    chat_id: int
    text: str


@dataclass
class RecordingSession(BaseSession):
    """Answers every sendMessage; `faults[(chat_id, text)]` raise once per listed error."""

    sent: list[Sent] = field(default_factory=list)
    attempts: Counter[tuple[int, str]] = field(default_factory=Counter)
    faults: dict[tuple[int, str], list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None  # noqa: ASYNC109
    ) -> Any:
        if isinstance(method, GetUpdates):
            raise TelegramRetryAfter(method, "flood", retry_after=1)
        assert isinstance(method, SendMessage)
        key = (int(method.chat_id), method.text)
        self.attempts[key] += 1
        if pending := self.faults.get(key):
            kind = pending.pop(0)
            if kind == "429":
                raise TelegramRetryAfter(method, "Too Many Requests", retry_after=7)
            if kind == "403":
                raise TelegramForbiddenError(method, "Forbidden: bot was blocked by the user")
            raise TelegramBadRequest(method, "Bad Request: chat not found")
        self.sent.append(Sent(time.monotonic(), key[0], key[1]))
        return Message(
            message_id=next(self._ids), date=datetime.now(UTC),
            chat=Chat(id=key[0], type="private"), text=method.text,
        )

    async def close(self) -> None:
        pass

    async def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,  # noqa: ASYNC109
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError
        yield b""


def make_bot(session: RecordingSession) -> Bot:
    return Bot(TOKEN, session=session)


async def test_per_chat_and_bot_wide_rates_hold_and_nothing_is_lost() -> None:
    session = RecordingSession()
    rates = Rates(per_bot=60.0, per_chat=20.0, burst=5)
    sender = Sender(make_bot(session), rates=rates)
    chats, per_chat = 6, 6

    results = await asyncio.gather(*(
        sender.send(chat, f"m{n}") for n in range(per_chat) for chat in range(1, chats + 1)
    ))

    assert all(isinstance(r, Message) for r in results)
    assert len(session.sent) == chats * per_chat
    for chat in range(1, chats + 1):
        mine = [s for s in session.sent if s.chat_id == chat]
        assert [s.text for s in mine] == [f"m{n}" for n in range(per_chat)]  # order kept
        gaps = [b.at - a.at for a, b in itertools.pairwise(mine)]
        assert min(gaps) >= 1 / rates.per_chat - SLACK
    # Bot-wide: in any window of one second no more than the rate plus the saved-up burst.
    times = [s.at for s in session.sent]
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + 1.0)
        assert in_window <= rates.per_bot + rates.burst
    # 36 messages at 60/s after a burst of 5 cannot all leave at once.
    assert times[-1] - times[0] >= (len(times) - rates.burst) / rates.per_bot - SLACK
    assert sender.counters.sent == chats * per_chat
    assert sender.queued == 0


async def test_one_busy_chat_does_not_hold_up_another() -> None:
    session = RecordingSession()
    sender = Sender(make_bot(session), rates=Rates(per_bot=1000.0, per_chat=10.0, burst=1000))
    busy = [asyncio.create_task(sender.send(1, f"busy{n}")) for n in range(5)]
    await sender.send(2, "other")
    # The other chat went out before the busy chat's backlog (0.4 s of spacing) was done.
    assert [s.text for s in session.sent].index("other") < 4
    await asyncio.gather(*busy)


async def test_403_marks_unreachable_once_and_is_not_retried() -> None:
    session = RecordingSession(faults={(7, "card"): ["403"]})
    blocked: list[int] = []

    async def on_forbidden(chat_id: int) -> None:
        blocked.append(chat_id)

    sender = Sender(make_bot(session), on_forbidden=on_forbidden, rates=Rates(per_chat=1000.0))
    assert await sender.send(7, "card") is None
    assert blocked == [7]
    assert session.attempts[(7, "card")] == 1
    assert sender.counters.forbidden == 1


async def test_other_errors_reach_the_caller_and_the_queue_goes_on() -> None:
    session = RecordingSession(faults={(3, "bad"): ["400"]})
    sender = Sender(make_bot(session), rates=Rates(per_chat=1000.0))
    bad = asyncio.create_task(sender.send(3, "bad"))
    good = asyncio.create_task(sender.send(3, "good"))
    with pytest.raises(TelegramBadRequest):
        await bad
    assert isinstance(await good, Message)
    assert sender.counters.failed == 1


async def test_429_waits_retry_after_and_sends_once() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    session = RecordingSession(faults={(5, "push"): ["429", "429"]})
    retry = RetryAfterMiddleware(sleep=fake_sleep)
    session.middleware(retry)
    sender = Sender(make_bot(session), rates=Rates(per_chat=1000.0))

    assert isinstance(await sender.send(5, "push"), Message)
    assert slept == [7, 7]
    assert session.attempts[(5, "push")] == 3
    assert [s.text for s in session.sent] == ["push"]
    assert retry.counters.retry_after == 2


async def test_429_gives_up_after_max_attempts_and_get_updates_is_left_alone() -> None:
    async def no_sleep(seconds: float) -> None:
        pass

    session = RecordingSession(faults={(5, "x"): ["429"] * 5})
    session.middleware(RetryAfterMiddleware(max_attempts=3, sleep=no_sleep))
    bot = make_bot(session)
    with pytest.raises(TelegramRetryAfter):
        await bot(SendMessage(chat_id=5, text="x"))
    assert session.attempts[(5, "x")] == 3
    with pytest.raises(TelegramRetryAfter):  # polling has its own back-off: not retried here
        await bot(GetUpdates())


async def test_drain_waits_for_everything_queued() -> None:
    session = RecordingSession()
    sender = Sender(make_bot(session), rates=Rates(per_bot=1000.0, per_chat=50.0, burst=1000))
    tasks = [asyncio.create_task(sender.send(9, f"n{n}")) for n in range(5)]
    await asyncio.sleep(0)
    await sender.drain()
    assert len(session.sent) == 5
    assert all(t.done() for t in tasks)


async def test_token_bucket_spends_the_burst_then_paces() -> None:
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=10.0, capacity=3, monotonic=lambda: now[0], sleep=fake_sleep)
    for _ in range(5):
        await bucket.acquire()
    assert slept == pytest.approx([0.1, 0.1])
