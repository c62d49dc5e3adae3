"""The rep's feed: /next and Next task, the conveyor, the shift, today's agenda."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, time, timedelta

from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot import keyboards
from bot.callbacks import ConveyorToggle, NextTask, ShiftToggle
from bot.cards import task_kind_name, viewer_zone
from bot.editing import edit_markup, pressed_message
from crm import feed
from crm.context import Crm
from crm.deals import first_phones
from crm.leads import set_shift
from crm.staff import set_conveyor
from handlers import employee_router
from handlers.common import shift_keyboard, shift_text
from handlers.pressing import show_next
from storage.models import Employee, Task, TaskStatus

router = employee_router("feed")


@router.message(Command("next"))
async def next_command(message: Message, crm: Crm, employee: Employee, lang: str) -> None:
    await show_next(message, crm, employee, lang)


@router.callback_query(NextTask.filter())
async def next_button(callback: CallbackQuery, crm: Crm, employee: Employee, lang: str) -> None:
    if (message := pressed_message(callback)) is not None:
        await show_next(message, crm, employee, lang)


@router.message(Command("conveyor"))
async def conveyor_command(message: Message, employee: Employee) -> None:
    await set_conveyor(employee, not employee.conveyor)
    await message.answer(_conveyor_text(employee.conveyor))


@router.callback_query(ConveyorToggle.filter())
async def conveyor_button(
    callback: CallbackQuery,
    callback_data: ConveyorToggle,
    employee: Employee,
    callback_answer: CallbackAnswer,
) -> None:
    await set_conveyor(employee, bool(callback_data.on))
    callback_answer.text = _conveyor_text(employee.conveyor)
    await edit_markup(
        pressed_message(callback), keyboards.after_outcome_keyboard(employee.conveyor)
    )


def _conveyor_text(on: bool) -> str:
    return (
        _("Conveyor on: the next card comes by itself after each outcome.")
        if on
        else _("Conveyor off: press Next task or send /next for the next card.")
    )


@router.message(Command("shift"))
async def shift_command(message: Message, employee: Employee) -> None:
    await set_shift(employee, not employee.on_shift)
    on = employee.on_shift
    await message.answer(shift_text(on), reply_markup=shift_keyboard(on))


@router.callback_query(ShiftToggle.filter())
async def shift_button(
    callback: CallbackQuery,
    callback_data: ShiftToggle,
    employee: Employee,
    callback_answer: CallbackAnswer,
) -> None:
    await set_shift(employee, bool(callback_data.on))
    callback_answer.text = shift_text(employee.on_shift)
    await edit_markup(pressed_message(callback), shift_keyboard(employee.on_shift))


@router.message(Command("today"))
async def today(message: Message, crm: Crm, employee: Employee, lang: str) -> None:
    zone = viewer_zone(crm.playbook, employee)
    now = crm.now()
    day = now.astimezone(zone).date()
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    tasks = (
        await Task.filter(assignee_id=employee.id, status=TaskStatus.OPEN, due_at__lt=end)
        .order_by("due_at", "id")
        .select_related("deal__contact")
    )
    by_hour = await feed.load_by_hour(employee, day, zone)
    phones = await first_phones({t.deal.contact.id for t in tasks if not t.deal.contact.name})
    await message.answer(_agenda(crm, tasks, by_hour, phones, day, now, lang, employee))


def _agenda(
    crm: Crm,
    tasks: list[Task],
    by_hour: dict[int, int],
    phones: dict[int, str],
    day: date,
    now: datetime,
    lang: str,
    employee: Employee,
) -> str:
    zone = viewer_zone(crm.playbook, employee)
    start = datetime.combine(day, time(), tzinfo=zone)
    overdue = [t for t in tasks if t.due_at < start]
    lines = ["📅 " + _("Today, {date}").format(date=day.strftime("%d.%m"))]
    if overdue:
        lines.append("⚠️ " + _("Overdue from earlier days: {n}").format(n=len(overdue)))
    hour = None
    for task in tasks:
        if task.due_at < start:
            continue
        local = task.due_at.astimezone(zone)
        if local.hour != hour:
            hour = local.hour
            lines.append(f"\n<b>{hour:02d}:00 · {by_hour.get(hour, 0)}</b>")
        late = "⚠️ " if task.due_at < now else ""
        contact = task.deal.contact
        name = contact.name or phones.get(contact.id) or _("No name")
        kind = task_kind_name(crm.playbook, task.kind, lang)
        lines.append(f"{late}{local:%H:%M} {html.escape(name)} · {html.escape(kind)}")
        if len("\n".join(lines)) > 3800:
            lines.append("…")
            break
    if len(lines) == 1 + bool(overdue):
        lines.append(_("No tasks for today."))
    return "\n".join(lines)
