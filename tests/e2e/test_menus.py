"""What every employee is offered and told: the menu, /help, the welcome, commands not his."""

from __future__ import annotations

from crm.staff import create_invite
from storage.models import Role
from tests.e2e.harness import Harness


def _menu(h: Harness, chat_id: int) -> list[str]:
    menus = [
        c.params for c in h.api.calls("setMyCommands")
        if c.params.get("scope", {}).get("chat_id") == chat_id
    ]
    return [cmd["command"] for cmd in menus[-1]["commands"]]


async def test_the_welcome_says_the_role_once(harness: Harness) -> None:
    invite = await create_invite(harness.running.crm, Role.REP)
    welcome = await harness.say(harness.user("Ivan"), f"/start {invite.code}")
    assert welcome.text.count("роль") == 1 and "роль: менеджер" in welcome.text, welcome.text
    assert "/conveyor" in welcome.text


async def test_conveyor_is_in_every_employees_menu_and_help(harness: Harness) -> None:
    for role in ("rep", "supervisor", "admin"):
        staff = await harness.make_employee(role, name=role.title(), lang="en")
        assert "conveyor" in _menu(harness, staff.user.id), role
        assert "/conveyor" in (await harness.say(staff.user, "/help")).text, role


async def test_the_conveyor_button_says_its_state_and_what_a_tap_does(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan", lang="en")
    card = (await harness.say(rep.user, "Anna +7 495 123-45-67")).last
    done = await harness.press_text(rep.user, card, "Paid")
    closed = done.to(rep.user.id)[0]
    labels = [b["text"] for row in closed["reply_markup"]["inline_keyboard"] for b in row]
    assert "Conveyor on · tap to stop" in labels
    off = await harness.press_text(rep.user, closed, "Conveyor on · tap to stop")
    assert off.answer is not None and "Conveyor off" in off.answer.params["text"]
    assert "Conveyor off · tap to start" in [b["text"] for b in off.buttons]


async def test_a_rep_asking_for_the_pipeline_is_answered(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    reply = await harness.say(rep.user, "/pipeline")
    assert reply.text.startswith("Воронку меняют только администраторы")
    admin = await harness.make_employee("admin", name="Ann")
    assert "Воронку меняют" not in (await harness.say(admin.user, "/pipeline")).text
