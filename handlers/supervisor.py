"""/report and /overdue for supervisors (their team) and admins (every team); reps are refused.

/report: pick a report, then a period → a chart with a caption, and a CSV button under it; the
funnel and the sources also "By <field>" for each choice field, one chart panel per option.
/overdue: the team's overdue tasks, each with "Reassign" → one of the deal team's reps.
Also the periodic automations of this area, registered on the runtime's clockwork.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime, timedelta

from aiogram import F
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import chart_by_field, charts
from bot.callbacks import (
    Kind,
    Reassign,
    ReassignTo,
    ReportBy,
    ReportByCsv,
    ReportByRun,
    ReportCsv,
    ReportKind,
    ReportRun,
)
from bot.charts import Names
from bot.i18n import speaking
from bot.report_csv import CsvNames, to_csv
from bot.scheduler import Clockwork
from config.playbook import FieldSpec
from crm import automations
from crm.automations import DigestFigures
from crm.context import Crm
from crm.csvwrite import csv_format
from crm.feed import reassign
from crm.notices import Notifier
from crm.reports import Period, overdue_tasks
from handlers import employee_router
from storage.models import Deal, Employee, Role

router = employee_router("supervisor")

PERIOD_DAYS = (7, 30, 90)
AUTOMATION_INTERVAL = 30.0  # seconds between reminder/digest runs; both are claims, so cheap


def _allowed(employee: Employee) -> bool:
    return employee.role in (Role.SUPERVISOR, Role.ADMIN)


def _team(employee: Employee) -> str | None:
    return None if employee.role == Role.ADMIN else employee.team


def _not_allowed() -> str:
    return _("Reports and reassignment are for supervisors and admins.")


def _period(crm: Crm, employee: Employee, days: int) -> Period:
    now = crm.now()
    return Period(now - timedelta(days=days), now, _team(employee))


def _chat(
    callback: CallbackQuery, employee: Employee, callback_answer: CallbackAnswer
) -> Message | None:
    """The chat to answer a report button in; None (and the refusal said) when not his."""
    if not _allowed(employee) or not isinstance(callback.message, Message):
        callback_answer.text = _not_allowed()
        return None
    return callback.message


def _period_buttons(
    keyboard: InlineKeyboardBuilder, run: Callable[[int], CallbackData]
) -> None:
    for days in PERIOD_DAYS:
        keyboard.button(text=_("{days} days").format(days=days), callback_data=run(days))


async def _send_chart(
    chat: Message, png: bytes, name: str, caption: str, csv: CallbackData
) -> None:
    """The chart with its caption, and a CSV button under it."""
    csv_button = InlineKeyboardBuilder()
    csv_button.button(text=_("CSV"), callback_data=csv)
    await chat.answer_photo(
        BufferedInputFile(png, filename=f"{name}.png"), caption=caption,
        reply_markup=csv_button.as_markup(),
    )


async def _send_csv(chat: Message, name: str, period: Period, text: str) -> None:
    filename = f"{name}_{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    await chat.answer_document(BufferedInputFile(text.encode(), filename=filename))


# --- /report -----------------------------------------------------------------------------

@router.message(Command("report"))
async def report_menu(message: Message, employee: Employee) -> None:
    if not _allowed(employee):
        await message.answer(_not_allowed())
        return
    keyboard = InlineKeyboardBuilder()
    for kind in Kind:
        keyboard.button(text=charts.kind_title(kind), callback_data=ReportKind(kind=kind))
    keyboard.adjust(2)
    await message.answer(_("Which report?"), reply_markup=keyboard.as_markup())


@router.callback_query(ReportKind.filter())
async def report_period(
    callback: CallbackQuery, callback_data: ReportKind, employee: Employee, crm: Crm, lang: str,
    callback_answer: CallbackAnswer,
) -> None:
    chat = _chat(callback, employee, callback_answer)
    if chat is None:
        return
    kind = callback_data.kind
    keyboard = InlineKeyboardBuilder()
    _period_buttons(keyboard, lambda days: ReportRun(kind=kind, days=days))
    if kind in chart_by_field.GROUPABLE:
        for spec in crm.playbook.fields:
            if spec.choices:
                keyboard.button(
                    text=_("By {field}").format(field=spec.label.get(lang)),
                    callback_data=ReportBy(kind=kind, field=spec.key),
                )
    keyboard.adjust(len(PERIOD_DAYS), 1)
    await chat.edit_text(
        _("{report}: which period?").format(report=charts.kind_title(kind)),
        reply_markup=keyboard.as_markup(),
    )


@router.callback_query(ReportRun.filter(F.days.in_(PERIOD_DAYS)))
async def report_send(
    callback: CallbackQuery, callback_data: ReportRun, employee: Employee, crm: Crm, lang: str,
    callback_answer: CallbackAnswer,
) -> None:
    chat = _chat(callback, employee, callback_answer)
    if chat is None:
        return
    kind, days = callback_data.kind, callback_data.days
    names = Names(crm.playbook, lang)
    report = await charts.load(crm, kind, _period(crm, employee, days))
    png = await charts.render_png(report, names)
    await _send_chart(
        chat, png, kind, charts.summary(report, names), ReportCsv(kind=kind, days=days)
    )


@router.callback_query(ReportCsv.filter(F.days.in_(PERIOD_DAYS)))
async def report_csv(
    callback: CallbackQuery, callback_data: ReportCsv, employee: Employee, crm: Crm, lang: str,
    callback_answer: CallbackAnswer,
) -> None:
    chat = _chat(callback, employee, callback_answer)
    if chat is None:
        return
    period = _period(crm, employee, callback_data.days)
    report = await charts.load(crm, callback_data.kind, period)
    text = to_csv(report, CsvNames(crm.playbook, lang), csv_format(lang), bom=True)
    await _send_csv(chat, callback_data.kind, period, text)


# --- /report grouped by a choice field ---------------------------------------------------

def _grouping(
    crm: Crm, callback_data: ReportBy | ReportByRun | ReportByCsv,
    callback_answer: CallbackAnswer,
) -> FieldSpec | None:
    """The choice field a report is grouped by; None (and why said) when it cannot be."""
    field = chart_by_field.choice_field(crm, callback_data.kind, callback_data.field)
    if field is None:
        callback_answer.text = _("This report cannot be grouped by that field.")
    return field


@router.callback_query(ReportBy.filter())
async def report_by_period(
    callback: CallbackQuery, callback_data: ReportBy, employee: Employee, crm: Crm, lang: str,
    callback_answer: CallbackAnswer,
) -> None:
    chat = _chat(callback, employee, callback_answer)
    field = _grouping(crm, callback_data, callback_answer) if chat else None
    if chat is None or field is None:
        return
    kind, key = callback_data.kind, field.key
    keyboard = InlineKeyboardBuilder()
    _period_buttons(keyboard, lambda days: ReportByRun(kind=kind, field=key, days=days))
    await chat.edit_text(
        _("{report}: which period?").format(
            report=html.escape(chart_by_field.title(kind, field, lang))
        ),
        reply_markup=keyboard.as_markup(),
    )


@router.callback_query(ReportByRun.filter(F.days.in_(PERIOD_DAYS)))
async def report_by_send(
    callback: CallbackQuery, callback_data: ReportByRun, employee: Employee, crm: Crm, lang: str,
    callback_answer: CallbackAnswer,
) -> None:
    chat = _chat(callback, employee, callback_answer)
    field = _grouping(crm, callback_data, callback_answer) if chat else None
    if chat is None or field is None:
        return
    kind, days = callback_data.kind, callback_data.days
    names = Names(crm.playbook, lang)
    grouped = await chart_by_field.load(crm, kind, _period(crm, employee, days), field)
    png = await chart_by_field.render_png(grouped, names)
    csv = ReportByCsv(kind=kind, field=field.key, days=days)
    await _send_chart(
        chat, png, f"{kind}_by_{field.key}", chart_by_field.summary(grouped, names), csv
    )


@router.callback_query(ReportByCsv.filter(F.days.in_(PERIOD_DAYS)))
async def report_by_csv(
    callback: CallbackQuery, callback_data: ReportByCsv, employee: Employee, crm: Crm, lang: str,
    callback_answer: CallbackAnswer,
) -> None:
    chat = _chat(callback, employee, callback_answer)
    field = _grouping(crm, callback_data, callback_answer) if chat else None
    if chat is None or field is None:
        return
    period = _period(crm, employee, callback_data.days)
    grouped = await chart_by_field.load(crm, callback_data.kind, period, field)
    text = chart_by_field.to_csv(grouped, CsvNames(crm.playbook, lang), csv_format(lang), bom=True)
    await _send_csv(chat, f"{callback_data.kind}_by_{field.key}", period, text)


# --- /overdue and reassignment -----------------------------------------------------------

def how_late(now: datetime, due: datetime) -> str:
    late = now - due
    if late >= timedelta(days=1):
        return _("{n} d").format(n=late.days)
    hours, minutes = divmod(int(late.total_seconds()) // 60, 60)
    return _("{h} h {m} min").format(h=hours, m=minutes) if hours else _("{m} min").format(
        m=minutes
    )


@router.message(Command("overdue"))
async def overdue(message: Message, employee: Employee, crm: Crm) -> None:
    if not _allowed(employee):
        await message.answer(_not_allowed())
        return
    tasks = await overdue_tasks(crm, _team(employee))
    if not tasks:
        await message.answer(_("No overdue tasks. 👍"))
        return
    now = crm.now()
    lines = [_("<b>Overdue tasks</b> (oldest first):")]
    keyboard = InlineKeyboardBuilder()
    for n, task in enumerate(tasks, start=1):
        lines.append(
            f"{n}. {html.escape(task.rep or _('nobody'))} · {html.escape(task.client)} · "
            + _("late {late}").format(late=how_late(now, task.due_at))
        )
        keyboard.button(
            text=_("Reassign {n}").format(n=n), callback_data=Reassign(deal=task.deal_id)
        )
    keyboard.adjust(4)
    await message.answer("\n".join(lines), reply_markup=keyboard.as_markup())


@router.callback_query(Reassign.filter())
async def reassign_pick(callback: CallbackQuery, scoped_deal: Deal) -> None:
    """bot.access has checked the supervisor's scope over the deal before this runs."""
    deal = scoped_deal
    if not isinstance(callback.message, Message):
        return
    reps = await Employee.filter(
        role=Role.REP, team=deal.team, active=True, reachable=True
    ).order_by("name")
    keyboard = InlineKeyboardBuilder()
    for rep in reps:
        mark = "✓ " if rep.id == deal.owner_id else ""  # type: ignore[attr-defined]
        keyboard.button(
            text=mark + (rep.name or str(rep.id)),
            callback_data=ReassignTo(deal=deal.id, rep=rep.id),
        )
    keyboard.adjust(2)
    await callback.message.answer(
        _("Give «{deal}» to:").format(deal=html.escape(deal.title)),
        reply_markup=keyboard.as_markup(),
    )


@router.callback_query(ReassignTo.filter())
async def reassign_to(
    callback: CallbackQuery, callback_data: ReassignTo, employee: Employee, crm: Crm,
    notifier: Notifier, callback_answer: CallbackAnswer,
) -> None:
    done = await reassign(crm, employee, callback_data.deal, callback_data.rep, notifier)
    if done is None:
        callback_answer.text = _not_allowed()
        return
    deal, rep = done
    text = _("«{deal}» now belongs to {rep}.").format(
        deal=html.escape(deal.title), rep=html.escape(rep.name)
    )
    if isinstance(callback.message, Message):
        await callback.message.edit_text(text)  # without reply_markup: the rep buttons go


# --- automations -------------------------------------------------------------------------

def digest_text(crm: Crm, i18n: I18n, default_lang: str) -> automations.DigestText:
    """The digest in each supervisor's language (plain text: the notifier escapes it)."""
    def render(supervisor: Employee, figures: DigestFigures) -> str:
        lang = supervisor.lang or default_lang
        names = Names(crm.playbook, lang)
        with speaking(i18n, lang):
            lines = [
                _("Digest for {day:%d.%m}, team {team}").format(day=figures.day, team=figures.team),
                _("Overdue tasks now: {n}").format(n=figures.overdue),
                _("No-answer attempts today: {n}, sent to archive by the ladder: {out}").format(
                    n=figures.ladder.attempts, out=figures.ladder.gave_up
                ),
            ]
            if figures.lost:
                lines.append(_("Lost today: {reasons}").format(reasons=", ".join(
                    f"{names.reason(r.reason)} {r.deals}" for r in figures.lost
                )))
            else:
                lines.append(_("Lost today: none"))
        return "\n".join(lines)
    return render


def setup_jobs(
    clockwork: Clockwork, crm: Crm, notifier: Notifier, i18n: I18n, default_lang: str
) -> None:
    """Reminders and digests on the runtime's clock (bot.app.JOB_MODULES); each run decides
    from the store, so ticking often costs one indexed query. A supervisor who never chose a
    language gets his digest in the bot's default one (NEXTSTEP_LOCALE)."""
    render = digest_text(crm, i18n, default_lang)

    async def reminders() -> int:
        return await automations.send_reminders(crm, notifier)

    async def digests() -> int:
        return await automations.send_digests(crm, notifier, render)

    clockwork.add_job(reminders, AUTOMATION_INTERVAL, name="reminders")
    clockwork.add_job(digests, AUTOMATION_INTERVAL, name="digests")
