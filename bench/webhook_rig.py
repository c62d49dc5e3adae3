"""The reps of the webhook benches: who presses what, over the fake Bot API, at a running bot's
webhook, and the figures of a phase (bench/webhook_bench.py says what is measured and why)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.cpu import CpuMeter, CpuSplit
from bench.measure import Run
from bot.callbacks import ReasonPick, TaskAction
from config.playbook import Playbook
from sandbox.botapi import BotAPI, Call, User, WebhookDelivery

REPS = 16
# Outcomes a rep picks for a card, with weights: the no-answer ladder most often.
OUTCOME_MIX = (
    ("busy", 20),
    ("unavailable", 15),
    ("no_pickup", 20),
    ("paid", 20),
    ("refused", 25),
)
# Refusal reasons that need no typing ("other" asks the rep to type what it was).
REASONS = ("price", "competitor", "no_need")
# A rep at work reads the card or sub-menu the bot showed him before he presses (uniform, s).
REP_THINK_SECONDS = (0.25, 0.75)
Json = dict[str, Any]
# The requests that change what the rep sees (the answer only stops a spinner).
MESSAGE_METHODS = frozenset({"sendmessage", "editmessagetext", "editmessagereplymarkup"})


@dataclass(frozen=True)
class Outcome:
    button: str
    reason: str | None = None


def pick_outcome(rng: random.Random) -> Outcome:
    button = rng.choices([b for b, _ in OUTCOME_MIX], weights=[w for _, w in OUTCOME_MIX])[0]
    return Outcome(button, rng.choice(REASONS) if button == "refused" else None)


def press_data(playbook: Playbook, task_id: int, outcome: Outcome) -> list[str]:
    """The callback data of the presses a rep makes for one outcome, in order; the last one
    closes the task. Built as the card keyboards build them (bot/keyboards.py)."""
    spec = playbook.buttons[outcome.button]
    if outcome.reason is not None:
        return [
            TaskAction(task=task_id, button=outcome.button).pack(),
            ReasonPick(
                task=task_id, button=outcome.button, index=spec.reasons.index(outcome.reason)
            ).pack(),
        ]
    opener = next((key for key, b in playbook.buttons.items() if outcome.button in b.submenu), None)
    data = [] if opener is None else [TaskAction(task=task_id, button=opener).pack()]
    return [*data, TaskAction(task=task_id, button=outcome.button).pack()]


def card_task(message: Json | None) -> int | None:
    """The task of a card: the one its outcome buttons act on (None if it is no card)."""
    markup = message.get("reply_markup") if message else None
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    for row in rows:
        for button in row:
            data = str(button.get("callback_data", ""))
            if data.startswith(TaskAction.__prefix__ + ":"):
                return TaskAction.unpack(data).task
    return None



@dataclass(frozen=True)
class Timing:
    """One press through the webhook; seconds from the POST to the answer, to the first and to
    the last message request (bench/webhook_bench.py)."""

    closes: bool  # the outcome press (closes the task), not a menu press
    answer: float
    first: float
    last: float


@dataclass
class WebhookRun:
    seconds: float = 0.0
    timings: list[Timing] = field(default_factory=list)
    failures: int = 0
    violations: int = 0
    reps_out_of_work: int = 0
    cpu: CpuSplit = field(default_factory=CpuSplit)  # the bot's, this process's, PostgreSQL's

    def series(self, name: str, *, closes: bool | None = None) -> Run:
        """One latency series (answer / first / last) as a Run, for all presses or one kind."""
        picked = [t for t in self.timings if closes is None or t.closes == closes]
        return Run(
            ops=len(picked),
            seconds=self.seconds,
            latencies=[getattr(t, name) for t in picked],
            failures=self.failures if closes is None else 0,
        )

    @property
    def presses(self) -> int:
        return len(self.timings)

    @property
    def outcomes(self) -> int:
        return sum(t.closes for t in self.timings)


class PressFailed(Exception):
    pass


Think = tuple[float, float] | None  # a rep's think time before a press: (low, high) seconds


class WebhookRig:
    """The reps who press, over the fake Bot API, at the webhook of a running bot."""

    def __init__(
        self, api: BotAPI, playbook: Playbook, url: str, bot_pids: Sequence[int],
        *, database: str | None = None,
    ) -> None:
        self.api = api
        self.playbook = playbook
        self.url = url
        self.bot_pids = bot_pids
        self.database = database  # PostgreSQL's, whose processes' CPU is the store's
        self.run = WebhookRun()

    async def phase(
        self, users: Sequence[User], seconds: float, think: Think, seed: int
    ) -> WebhookRun:
        """Every rep works his feed at once until the time is up; the phase's figures."""
        self.run = run = WebhookRun()
        violations = len(self.api.violations)
        cpu = CpuMeter(self.bot_pids, database=self.database)
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(
                self.work(user, deadline, think, random.Random(seed + i))
                for i, user in enumerate(users)
            )
        )
        run.seconds = time.perf_counter() - started
        run.cpu = cpu.read()
        run.violations = len(self.api.violations) - violations
        for violation in self.api.violations[violations : violations + 5]:
            print(f"Bot API violation: {violation}", flush=True)
        return run

    async def deliver(self, update: Json, chat_id: int) -> tuple[WebhookDelivery, list[Call]]:
        """POST one update like Telegram; the Bot API calls made for it (its chat, its answer).

        The webhook answers once the update is handled, so by then they have all arrived."""
        since = len(self.api.sent)
        delivery = await self.api.post_update(self.url, update)
        if delivery.status != 200:
            raise PressFailed(f"webhook answered {delivery.status}")
        query_id = update.get("callback_query", {}).get("id")
        calls = [
            c
            for c in self.api.sent[since:]
            if c.chat_id == chat_id or (query_id and c.params.get("callback_query_id") == query_id)
        ]
        if not all(c.ok for c in calls):
            raise PressFailed(", ".join(f"{c.method}({c.error_code or 'ok'})" for c in calls))
        return delivery, calls

    async def first_card(self, user: User) -> int | None:
        """/next: the message id of the rep's first card (None if he has nothing to do)."""
        _, calls = await self.deliver(self.api.command(user, "next"), user.id)
        return _sent_card(calls)

    async def work(self, user: User, deadline: float, think: Think, rng: random.Random) -> None:
        """One rep's loop: press an outcome on the card in front of him, take the next."""
        card = await self.first_card(user)
        while card is not None and time.perf_counter() < deadline:
            task_id = card_task(self.api.find_message(user.id, card))
            if task_id is None:
                break
            presses = press_data(self.playbook, task_id, pick_outcome(rng))
            calls: list[Call] = []
            try:
                for n, data in enumerate(presses, start=1):
                    if think is not None:  # also spreads the reps' first presses
                        await asyncio.sleep(rng.uniform(*think))
                    calls = await self._timed_press(user, data, card, n == len(presses))
            except PressFailed as failure:
                self.run.failures += 1
                print(f"press failed for rep {user.id}: {failure}", flush=True)
                card = await self.first_card(user)
                continue
            card = _sent_card(calls)
        if card is None or card_task(self.api.find_message(user.id, card)) is None:
            self.run.reps_out_of_work += 1

    async def _timed_press(self, user: User, data: str, card: int, closes: bool) -> list[Call]:
        update = self.api.callback(user, data, card)  # strict: the data is on the card now
        delivery, calls = await self.deliver(update, user.id)
        answers = [c for c in calls if c.method.lower() == "answercallbackquery"]
        if len(answers) != 1:
            raise PressFailed(f"{len(answers)} answers to one press")
        if closes and not any(
            c.method.lower() == "editmessagetext" and "✅" in str(c.result.get("text", ""))
            for c in calls
        ):
            raise PressFailed(f"{data} did not close the card: {answers[0].params.get('text')}")
        shown = [c for c in calls if c.method.lower() in MESSAGE_METHODS] or answers
        since_post = [c.time - delivery.sent_at for c in shown]
        self.run.timings.append(
            Timing(closes, answers[0].time - delivery.sent_at, min(since_post), max(since_post))
        )
        return calls


def _sent_card(calls: Sequence[Call]) -> int | None:
    """The message id of the card the bot sent among calls (the next card in conveyor mode)."""
    for call in calls:
        if call.method.lower() == "sendmessage" and card_task(call.result) is not None:
            return int(call.result["message_id"])
    return None

