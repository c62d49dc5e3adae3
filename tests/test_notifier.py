"""What an agent reads for each notice, in Russian and English, sent over the fake Bot API.

Call notices come from the domain's own call handling (crm.calls) fed with finished calls, so
their params are the real ones; the rest are built as their senders build them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from tortoise.exceptions import OperationalError

from bot.callbacks import TaskAction
from bot.cards import MAX_TEXT
from bot.i18n import create_i18n
from bot.notifier import BotNotifier
from bot.scheduler import Clockwork
from bot.sender import Rates, Sender
from crm.calls import record_call, ringing
from crm.calltypes import CallRecord, Disposition
from crm.context import Crm
from crm.deals import ContactDraft, open_deal, quick_add
from crm.notices import Notice, NoticeKind
from storage.models import Contact, Deal, DealStatus, Employee, Role, Task, TaskStatus
from tests.conftest import T0
from tests.fakes import FakeBotAPI
from tests.fakes.fixtures import fake_botapi

__all__ = ["fake_botapi"]  # a fixture used by name below

CLIENT = "+74951234567"
CLIENT_NAME = "Анна <Петрова> & Co"
STRANGER = "89161234567"
# Not what is measured here: the sender's pacing would only slow the tests down.
UNTHROTTLED = Rates(per_bot=1000.0, per_chat=1000.0, burst=1000)
_call_ids = count(1)

# Every expected line spelled out per language, so a lost translation fails too.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "busy": "Busy", "unavailable": "Unavailable", "no_pickup": "No pickup",
        "attempt": "attempt {n}/5", "next": "Next call: {when}", "tomorrow": "tomorrow {time}",
        "archived": "The deal went to Archive", "answered": "📞 Call answered: choose the outcome",
        "talk": "Call: call answered, {s} s", "pop": "📲 Incoming call",
        "missed": "☎️ Missed call from {number}", "lead": "🆕 New lead",
        "call_back": "☎️ Missed call from {number}: call back",
        "callback_task": "Return a missed call", "reminder": "🔔 In {m} min: the agreed call",
        "alert": "🚨 Alert: {words}", "due": "⏰ Task due",
        "not_pressed": "📞 {button} (SIP {code}): not pressed",
        "not_owner": "The deal is {owner}'s: the call is on his card",
        "no_deal": "{contact} has no open deal of your team: the call is logged on the contact",
        "call_by": "Call by {agent}: line busy, 0 s",
    },
    "ru": {
        "busy": "Занято", "unavailable": "Недоступен", "no_pickup": "Не берёт трубку",
        "attempt": "попытка {n}/5", "next": "Следующий звонок: {when}",
        "tomorrow": "завтра {time}", "archived": "Сделка ушла в «Архив»",
        "answered": "📞 Звонок состоялся: выберите результат", "talk": "Звонок: разговор, {s} с",
        "pop": "📲 Входящий звонок", "missed": "☎️ Пропущенный звонок с {number}",
        "lead": "🆕 Новый лид", "call_back": "☎️ Пропущенный звонок с {number}: перезвоните",
        "callback_task": "Перезвонить на пропущенный",
        "reminder": "🔔 Через {m} мин: договорённый звонок", "alert": "🚨 Внимание: {words}",
        "due": "⏰ Пора выполнить задачу",
        "not_pressed": "📞 {button} (SIP {code}): не отмечено",
        "not_owner": "Сделка менеджера {owner}: звонок записан на его карточку",
        "no_deal": "У контакта {contact} нет открытой сделки вашей команды: звонок записан на "
        "контакт",
        "call_by": "Звонок ({agent}): занято, 0 с",
    },
}


@dataclass
class Desk:
    """An agent with one client deal, and the notifier that tells him things."""

    api: FakeBotAPI
    crm: Crm
    notifier: BotNotifier
    agent: Employee
    deal: Deal
    lang: str

    def t(self, key: str, **values: object) -> str:
        return TEXT[self.lang][key].format(**values)

    def told(self) -> list[dict[str, Any]]:
        assert self.agent.tg_id is not None
        return self.api.messages_to(self.agent.tg_id)

    @property
    def last(self) -> dict[str, Any]:
        messages = self.told()
        assert messages, "the agent was told nothing"
        return messages[-1]

    async def call(
        self, caller: str, callee: str, disposition: Disposition, code: int | None,
        talk_seconds: int = 0,
    ) -> None:
        """A finished call as the SIP listener hands it over, through the domain."""
        answered = T0 + timedelta(seconds=3) if disposition == Disposition.ANSWERED else None
        ended = (answered or T0) + timedelta(seconds=talk_seconds or 5)
        record = CallRecord(
            call_id=f"call-{next(_call_ids)}", caller=caller, callee=callee,
            disposition=disposition, sip_code=code, started_at=T0, rang=True,
            answered_at=answered, ended_at=ended,
        )
        await record_call(self.crm, record, self.notifier)


def _keyboard(message: dict[str, Any]) -> list[dict[str, Any]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def _pressable_tasks(message: dict[str, Any]) -> set[int]:
    data = [str(b.get("callback_data", "")) for b in _keyboard(message)]
    return {TaskAction.unpack(d).task for d in data if d.startswith(f"{TaskAction.__prefix__}:")}


def _lines(message: dict[str, Any]) -> list[str]:
    return str(message["text"]).split("\n")


@pytest.fixture(params=["ru", "en"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def desk(fake_botapi: FakeBotAPI, crm: Crm, lang: str) -> AsyncIterator[Desk]:
    # The App's bot: HTML by default, so the fake parses every message as Telegram would.
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_botapi.base_url))
    bot = Bot(
        fake_botapi.token, session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    sender = Sender(bot, rates=UNTHROTTLED)
    notifier = BotNotifier(bot, sender, crm, create_i18n("ru"))
    agent = await Employee.create(
        name="Agent", role=Role.REP, tg_id=5001, lang=lang, sip_ext="101", team="main"
    )
    added = await quick_add(crm, ContactDraft(CLIENT_NAME, (CLIENT,)), owner_id=agent.id,
                            team="main")
    assert added.deal is not None
    yield Desk(fake_botapi, crm, notifier, agent, added.deal, lang)
    await sender.drain()
    await session.close()


@pytest.mark.parametrize(
    ("disposition", "code", "button"),
    [
        (Disposition.BUSY, 486, "busy"),
        (Disposition.UNAVAILABLE, 404, "unavailable"),
        (Disposition.NO_ANSWER, 408, "no_pickup"),
        (Disposition.CANCELLED, 487, "no_pickup"),
    ],
)
async def test_an_unanswered_outbound_call_tells_what_was_scheduled(
    desk: Desk, disposition: Disposition, code: int, button: str
) -> None:
    await desk.call("101", "84951234567", disposition, code)
    message = desk.last
    # The call just made was attempt 1; the ladder's first step is 5 minutes (T0 is 10:00).
    assert _lines(message)[:2] == [
        f"📞 {desk.t(button)} (SIP {code}), {desk.t('attempt', n=1)}",
        desk.t("next", when="10:05"),
    ]
    # ...and the card of the next call under it, numbered as the next attempt, with buttons.
    assert CLIENT_NAME in message["text"] and desk.t("attempt", n=2) in message["text"]
    closed = await Task.get(deal_id=desk.deal.id, status=TaskStatus.DONE)
    next_call = await Task.get(deal_id=desk.deal.id, status=TaskStatus.OPEN)
    assert closed.outcome == button and next_call.id in _pressable_tasks(message)


async def test_the_ladders_last_step_says_the_deal_went_to_archive(desk: Desk) -> None:
    for _ in range(4):
        await desk.call("101", CLIENT, Disposition.BUSY, 486)
    # The fourth step of the ladder is a day: the clock stands still, so tomorrow 10:00.
    assert _lines(desk.last)[:2] == [
        f"📞 {desk.t('busy')} (SIP 486), {desk.t('attempt', n=4)}",
        desk.t("next", when=desk.t("tomorrow", time="10:00")),
    ]
    await desk.call("101", CLIENT, Disposition.BUSY, 486)
    message = desk.last
    assert _lines(message)[:2] == [
        f"📞 {desk.t('busy')} (SIP 486), {desk.t('attempt', n=5)}", desk.t("archived"),
    ]
    assert desk.t("next", when="") not in message["text"]
    # The deal's own card, closed: nothing left to press.
    assert CLIENT_NAME in message["text"] and not _keyboard(message)
    deal = await Deal.get(id=desk.deal.id)
    assert deal.status == DealStatus.ARCHIVED and len(desk.told()) == 5


async def test_an_answered_call_brings_the_card_to_choose_the_outcome(desk: Desk) -> None:
    await desk.call("101", CLIENT, Disposition.ANSWERED, 200, talk_seconds=95)
    message = desk.last
    assert _lines(message)[0] == desk.t("answered")
    assert desk.t("talk", s=95) in message["text"]
    open_task = await Task.get(deal_id=desk.deal.id, status=TaskStatus.OPEN)
    assert open_task.id in _pressable_tasks(message)


async def test_a_ringing_client_pops_his_card(desk: Desk) -> None:
    assert await ringing(desk.crm, "84951234567", "101", desk.notifier) == desk.deal.id
    message = desk.last
    assert _lines(message)[0] == desk.t("pop")
    assert CLIENT_NAME in message["text"] and _keyboard(message)


async def test_a_missed_call_from_a_client_names_his_number_over_the_card(desk: Desk) -> None:
    await desk.call("84951234567", "101", Disposition.CANCELLED, 487)
    message = desk.last
    assert _lines(message)[0] == desk.t("missed", number="+7 495 123-45-67")
    assert CLIENT_NAME in message["text"] and _keyboard(message)


async def test_a_missed_call_from_a_stranger_is_a_lead_to_call_back(desk: Desk) -> None:
    await desk.call(STRANGER, "101", Disposition.NO_ANSWER, 408)
    message = desk.last
    assert _lines(message)[:2] == [
        desk.t("lead"), desk.t("call_back", number="+7 916 123-45-67"),
    ]
    assert desk.t("callback_task") in message["text"] and _keyboard(message)


async def _archive(deal: Deal) -> None:
    await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).update(status=TaskStatus.DONE)
    await Deal.filter(id=deal.id).update(status=DealStatus.ARCHIVED, stage="archive")


async def test_a_call_on_a_teammates_deal_names_the_owner_and_offers_no_buttons(
    desk: Desk,
) -> None:
    await _archive(desk.deal)
    owner = await Employee.create(name="Boris <B>", role=Role.REP, sip_ext="102", team="main")
    contact = await Contact.get(phones__e164=CLIENT)
    await open_deal(desk.crm, contact, owner_id=owner.id, team="main")
    await desk.call("101", CLIENT, Disposition.BUSY, 486)
    message = desk.last
    assert _lines(message)[:2] == [
        desk.t("not_pressed", button=desk.t("busy"), code=486),
        desk.t("not_owner", owner="Boris <B>"),
    ]
    # The owner's card, as he will see it: the call and who made it; its buttons are his.
    assert CLIENT_NAME in message["text"] and desk.t("call_by", agent="Agent") in message["text"]
    assert not _keyboard(message)


async def test_a_call_with_no_open_deal_of_the_team_is_logged_on_the_contact(
    desk: Desk,
) -> None:
    await _archive(desk.deal)
    await desk.call("101", CLIENT, Disposition.BUSY, 486)
    assert _lines(desk.last) == [
        desk.t("not_pressed", button=desk.t("busy"), code=486),
        desk.t("no_deal", contact=CLIENT_NAME),
    ]


async def test_a_reminder_comes_with_the_card_while_the_task_is_open(desk: Desk) -> None:
    task = await Task.get(deal_id=desk.deal.id, status=TaskStatus.OPEN)
    reminder = Notice(desk.agent.id, NoticeKind.REMINDER, task.id, desk.deal.id, {"minutes": 15})
    await desk.notifier.notify(reminder)
    assert _lines(desk.last)[0] == desk.t("reminder", m=15)
    assert _keyboard(desk.last)

    await desk.call("101", CLIENT, Disposition.BUSY, 486)  # the task is closed meanwhile
    told = len(desk.told())
    await desk.notifier.notify(reminder)
    assert len(desk.told()) == told


async def test_an_alert_quotes_the_client_over_the_card(desk: Desk) -> None:
    task = await Task.get(deal_id=desk.deal.id, status=TaskStatus.OPEN)
    text = "Срочно: <оплата> & договор"
    await desk.notifier.notify(Notice(
        desk.agent.id, NoticeKind.ALERT, task.id, desk.deal.id,
        {"text": text, "alerts": "срочно, <vip>"},
    ))
    message = desk.last
    assert _lines(message)[:2] == [desk.t("alert", words="срочно, <vip>"), text]
    assert CLIENT_NAME in message["text"] and _keyboard(message)


async def test_a_digest_arrives_as_written(desk: Desk) -> None:
    text = "Итоги <команды> main\nПросрочено: 3 & в архив: 1"
    await desk.notifier.notify(Notice(desk.agent.id, NoticeKind.DIGEST, params={"text": text}))
    assert desk.last["text"] == text and not _keyboard(desk.last)


async def test_a_long_digest_is_cut_without_breaking_markup(desk: Desk) -> None:
    # Escaping turns the "&" into "&amp;" right where the message must be cut.
    text = "x" * (MAX_TEXT - 2) + "&y" + "z" * 50
    await desk.notifier.notify(Notice(desk.agent.id, NoticeKind.DIGEST, params={"text": text}))
    shown = str(desk.last["text"])
    assert shown.endswith("…") and text.startswith(shown[:-1])
    assert len(shown) <= MAX_TEXT


async def test_a_batch_of_due_pushes_asks_for_its_agents_once(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    # Due now: the desk's deal, one of a second agent and one of an agent Telegram refused.
    other = await Employee.create(
        name="Other", role=Role.REP, tg_id=5002, lang=desk.lang, team="main"
    )
    away = await Employee.create(
        name="Away", role=Role.REP, tg_id=5003, reachable=False, team="main"
    )
    for owner, phone in ((other, "+74957654321"), (away, "+74957654322")):
        await quick_add(
            desk.crm, ContactDraft(owner.name, (phone,)), owner_id=owner.id, team="main"
        )
    clockwork = Clockwork(desk.crm, desk.notifier)
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        assert await clockwork.push_due() == 2  # the refused agent's card waits for him
    # Tortoise logs each statement it runs; a per-push load would show two (the claim itself
    # names the employee table to skip the unreachable).
    employee_reads = [
        r for r in caplog.records
        if re.search(r'FROM "?employee"?(\s|$)', r.getMessage())
        and "UPDATE task" not in r.getMessage()
    ]
    assert len(employee_reads) == 1
    for agent in (desk.agent, other):
        assert agent.tg_id is not None
        [push] = desk.api.messages_to(agent.tg_id)
        assert _lines(push)[0] == desk.t("due") and _keyboard(push)
    assert away.tg_id is not None and desk.api.messages_to(away.tg_id) == []
    assert await Task.filter(assignee_id=away.id, pushed_at=None).count() == 1


async def test_a_batch_whose_agents_cannot_be_read_goes_back_for_the_next_tick(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def store_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("the store went away")

    clockwork = Clockwork(desk.crm, desk.notifier)
    with monkeypatch.context() as patched:
        patched.setattr(Employee, "in_bulk", store_down)
        with pytest.raises(OperationalError):
            await clockwork.push_due()
    assert await Task.filter(status="open", pushed_at__not_isnull=True).count() == 0
    assert await clockwork.push_due() == 1  # the next tick sends it
    assert desk.agent.tg_id is not None and len(desk.api.messages_to(desk.agent.tg_id)) == 1
