"""Forged buttons: every callback class of bot/callbacks.py, pressed by people it is not for.

The classes are walked from the module, so a class added later is forged too without editing
this file: its fields are filled from their names (a task or deal field names the victim's deal).
Each press must leave the store as it was and tell the forger nothing about the victim's deal.
"""

from __future__ import annotations

import enum
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from aiogram.filters.callback_data import CallbackData

from bot import callbacks
from crm.deals import ContactDraft, quick_add
from crm.engine import Press, Status, apply_outcome
from crm.phones import REGION_ZONES
from storage.models import (
    ButtonLabel,
    ChatMessage,
    Contact,
    Deal,
    Employee,
    Stage,
    Task,
    TaskStatus,
    TimelineEvent,
)
from tests.e2e.harness import Harness, Json, Staff

CLIENT_NAME = "Zinaida Secretova"
CLIENT_PHONE = "+79161234567"
NOTE = "door code 4417, ask for the CFO"
# Every way the card, a timeline line or a reply could show the victim's client.
SECRETS = ("Zinaida", "Secretova", "9161234567", "916 123", "123-45-67", "door code")
CLASSES = sorted(callbacks.registered().values(), key=lambda cls: cls.__prefix__)


def _forge(cls: type[CallbackData], task: Task, forger: Employee | None) -> CallbackData:
    """The class's data aimed at the victim's deal, with plausible values elsewhere."""
    playbook_buttons = {"button": "paid", "index": 0, "zone": next(iter(REGION_ZONES))}
    values: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        kind = field.annotation
        if name in callbacks.TASK_FIELDS:
            values[name] = task.id
        elif name in callbacks.DEAL_FIELDS:
            values[name] = task.deal_id  # type: ignore[attr-defined]
        elif name == "rep":  # "give it to me"
            values[name] = forger.id if forger else 1
        elif name == "minute":
            values[name] = int(task.due_at.timestamp() // 60) + 24 * 60
        elif name in playbook_buttons:
            values[name] = playbook_buttons[name]
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            values[name] = next(iter(kind))
        elif field.default is not None and not field.is_required():
            values[name] = field.default
        elif kind in (int, "int"):
            values[name] = 1
        else:
            values[name] = "en"
    return cls(**values)


def _outranks(cls: type[CallbackData], employee: Employee) -> bool:
    """The class needs a higher role than the employee has."""
    rank = ["rep", "supervisor", "admin"]
    return rank.index(getattr(cls, "needs", "rep")) > rank.index(employee.role)


def _names_a_deal(cls: type[CallbackData]) -> bool:
    return any(f in cls.model_fields for f in (*callbacks.TASK_FIELDS, *callbacks.DEAL_FIELDS))


async def _store() -> list[Any]:
    """Everything a press could change, but the presser's own settings (language, shift)."""
    return [
        await model.all().order_by("id").values()
        for model in (Deal, Task, TimelineEvent, Contact, ChatMessage, Stage, ButtonLabel)
    ] + [await Employee.all().order_by("id").values("id", "role", "team", "active")]


async def _victim(h: Harness, owner: Staff) -> Task:
    crm = h.running.crm
    added = await quick_add(
        crm, ContactDraft(CLIENT_NAME, (CLIENT_PHONE,)), owner_id=owner.employee.id, team="main"
    )
    assert added.deal is not None
    task = await Task.get(deal_id=added.deal.id, status=TaskStatus.OPEN)
    noted = await apply_outcome(crm, Press(task.id, "note", owner.employee, note=NOTE))
    assert noted.status == Status.NOTE_ADDED
    return await Task.get(deal_id=added.deal.id, status=TaskStatus.OPEN)


def _leaks(calls: list[Any]) -> list[str]:
    sent = json.dumps([c.params for c in calls], ensure_ascii=False)
    return [secret for secret in SECRETS if secret in sent]


async def _last_message(h: Harness, chat_id: int) -> Json:
    messages = h.api.messages_to(chat_id)
    assert messages, f"chat {chat_id} has no message of the bot to press on"
    return messages[-1]


async def test_every_button_forged_for_a_foreign_deal_is_refused(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    owner = await h.make_employee("rep", name="Owner")
    rep = await h.make_employee("rep", name="Forger")
    far_boss = await h.make_employee("supervisor", name="North boss", team="north")
    client = h.user("Some client")
    await h.say(client, "Hello, I would like to buy")
    stranger = h.user("Stranger")
    await h.say(stranger, "/start")
    task = await _victim(h, owner)
    forgers: list[tuple[str, Any, Employee | None]] = [
        ("rep", rep.user, rep.employee),
        ("another team's supervisor", far_boss.user, far_boss.employee),
        ("client", client, None),
        ("stranger", stranger, None),
    ]
    checked = 0
    for cls in CLASSES:
        for who, user, employee in forgers:
            data = _forge(cls, task, employee).pack()
            refused = employee is None or _names_a_deal(cls) or _outranks(cls, employee)
            message = await _last_message(h, user.id)
            before = await _store()
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="bot.access"):
                reply = await h.deliver(h.api.callback(user, data, message, strict=False))
            where = f"{cls.__name__} {data!r} pressed by the {who}"
            assert await _store() == before, f"{where} changed the store"
            assert not _leaks(reply.calls), f"{where} showed {_leaks(reply.calls)}"
            if refused:
                assert reply.messages == [], f"{where} was answered with a message"
                assert reply.answer is not None and reply.answer.params.get("text"), where
                refusals = [r for r in caplog.records if r.name == "bot.access"]
                assert len(refusals) == 1, f"{where}: logged {len(refusals)} times"
                logged = refusals[0].getMessage()
                assert data in logged, logged
                if employee is not None and _names_a_deal(cls):
                    assert f"employee={employee.id}" in logged, logged
                    assert f"deal={task.deal_id}" in logged, logged  # type: ignore[attr-defined]
                checked += 1
    assert checked >= len(CLASSES) * 2  # client and stranger at least, for every class
    # Nothing above moved the victim's deal: its owner still has it and its one open task.
    assert (await Task.get(deal_id=task.deal_id, status=TaskStatus.OPEN)).id == task.id  # type: ignore[attr-defined]


async def test_the_sub_menu_back_of_another_reps_task_shows_nothing(harness: Harness) -> None:
    """The leak the issue names: 'Back' with another rep's task id returned his whole card."""
    h = harness
    owner = await h.make_employee("rep", name="Owner")
    rep = await h.make_employee("rep", name="Forger", lang="en")
    task = await _victim(h, owner)
    message = await _last_message(h, rep.user.id)
    data = callbacks.SubMenuBack(task=task.id).pack()
    reply = await h.deliver(h.api.callback(rep.user, data, message, strict=False))
    assert not _leaks(reply.calls)
    assert reply.messages == []
    assert reply.answer is not None and reply.answer.params["text"] == "Not your deal"
    # The owner's own Back still shows his card.
    card = await _last_message(h, owner.user.id)
    mine = await h.deliver(h.api.callback(owner.user, data, card, strict=False))
    assert CLIENT_NAME in mine.text


async def test_a_reassigned_deal_tells_the_old_owner_who_has_it(harness: Harness) -> None:
    h = harness
    owner = await h.make_employee("rep", name="Maria", lang="en")
    boris = await h.make_employee("rep", name="Boris", lang="en")
    boss = await h.make_employee("supervisor", name="Olga", lang="en")
    task = await _victim(h, owner)
    # Maria starts a note on her card; meanwhile the supervisor gives the deal away from
    # /overdue (overdue once the clock moves on).
    h.clock.advance(timedelta(hours=1))
    card = (await h.say(owner.user, "/next")).last
    assert CLIENT_NAME in card["text"]
    await h.press_text(owner.user, card, "Note")
    overdue = await h.say(boss.user, "/overdue")
    pick = await h.press_text(boss.user, overdue.last, "Reassign 1")
    given = await h.press_text(boss.user, pick.last, "Boris")
    assert "Boris" in given.text
    to_boris = given.to(boris.user.id)
    assert len(to_boris) == 1 and CLIENT_NAME in to_boris[0]["text"]
    assert "Olga gave you this deal" in to_boris[0]["text"]
    assert any(b.get("callback_data", "").startswith("a:") for row in
               to_boris[0]["reply_markup"]["inline_keyboard"] for b in row)
    to_maria = given.to(owner.user.id)
    assert [m["text"] for m in to_maria] == [
        f"🔁 Olga gave «{(await Deal.get(id=task.deal_id)).title}» to Boris"  # type: ignore[attr-defined]
    ]
    # Her note comes too late: she is told who has the deal now, and nothing is written.
    late = await h.say(owner.user, "called back, all fine")
    assert late.text == "This deal is now handled by Boris."
    timeline = await TimelineEvent.filter(deal_id=task.deal_id).values_list("data", flat=True)  # type: ignore[attr-defined]
    assert "called back" not in json.dumps(timeline, ensure_ascii=False)
    # Maria's old card now answers who has the deal, and shows nothing of it.
    card = await _last_message(h, owner.user.id)
    old = await h.deliver(
        h.api.callback(owner.user, callbacks.TaskAction(task=task.id, button="paid").pack(),
                       card, strict=False)
    )
    assert old.answer is not None
    assert old.answer.params["text"] == "This deal is now handled by Boris."
    assert old.messages == []
