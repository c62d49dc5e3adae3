"""The task card: what a rep needs to make the call and press the outcome, in one message.

`render_card` is pure (data in, HTML text + keyboard out) so it is tested without Telegram;
`load_card` fetches a card's data in one query. Every user-supplied string is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot import keyboards
from config.playbook import Playbook
from crm.context import Crm
from crm.engine import Outcome, ladder_size
from crm.fields import deal_fields, shown
from crm.phones import pretty_phone
from storage import card_reads
from storage.card_reads import CardRow
from storage.models import DealStatus, Employee, EventKind, TaskStatus

MAX_TEXT = 4096  # Telegram's limits, in characters after entity parsing
MAX_CAPTION = 1024
TIMELINE_LINES = 3
CLIENT_TIME = "🕒 "  # starts the header's line of the client's time, on every card
_LINE_CHARS = 200  # one timeline line (a long note) never crowds out the rest of the card


@dataclass(frozen=True)
class Card:
    text: str
    markup: InlineKeyboardMarkup | None
    task_id: int | None
    deal_id: int


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    kind: EventKind
    text: str
    data: Mapping[str, object]


@dataclass(frozen=True)
class TaskView:
    id: int
    kind: str
    due_at: datetime
    attempt: int
    planned_by: str | None
    open: bool


@dataclass(frozen=True)
class CardData:
    deal_id: int
    stage: str
    status: DealStatus
    amount: int
    tags: tuple[str, ...]
    contact_name: str
    company: str
    phones: tuple[str, ...]
    client_tz: str | None
    task: TaskView | None
    events: tuple[TimelineLine, ...]  # newest first
    fields: tuple[tuple[str, str], ...] = ()  # custom fields set: (label, value), playbook order


def viewer_zone(playbook: Playbook, viewer: Employee | None) -> ZoneInfo:
    """The rep's own zone for due times: his setting, else the department's."""
    return ZoneInfo(viewer.tz) if viewer and viewer.tz else playbook.working_hours.zone


def utc_offset(moment: datetime) -> str:
    """'UTC+7', 'UTC-3', 'UTC+5:30' for an aware moment."""
    offset = moment.utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}"


def weekday_name(index: int) -> str:
    return (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))[index]


def format_when(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """A due time as a rep reads it: '15:00', 'tomorrow 10:00', 'Thu 10:00', '25.12 10:00', and
    '05.01.2027 10:00' in another year than now's (a weekday alone would hide the year)."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    clock = local.strftime("%H:%M")
    days = (local.date() - today).days
    if days == 0:
        return clock
    if days == 1:
        return _("tomorrow {time}").format(time=clock)
    if 1 < days < 7 and local.year == today.year:
        return f"{weekday_name(local.weekday())} {clock}"
    return day_and_time(moment, now, zone)


def day_and_time(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """'25.12 10:00', and '05.01.2027 10:00' in another year than now's."""
    local = moment.astimezone(zone)
    day = "%d.%m" if local.year == now.astimezone(zone).year else "%d.%m.%Y"
    return local.strftime(f"{day} %H:%M")


def stage_name(playbook: Playbook, key: str, lang: str) -> str:
    try:
        return playbook.stage(key).name.get(lang)
    except KeyError:  # a stage removed after this deal left it
        return key


def button_label(playbook: Playbook, key: str, lang: str) -> str:
    spec = playbook.buttons.get(key)
    return spec.label.get(lang) if spec else key


def task_kind_name(playbook: Playbook, kind: str, lang: str) -> str:
    label = playbook.task_kinds.get(kind)
    return label.get(lang) if label else kind


def attempt_text(attempt: int, size: int) -> str:
    return _("attempt {n}/{size}").format(n=attempt, size=size)


def _money(amount: int) -> str:
    units, cents = divmod(amount, 100)
    whole = f"{units:,}".replace(",", " ")
    return f"{whole},{cents:02d}" if cents else whole


# How much of a new lead's first message its card quotes; a longer one is copied whole besides.
LEAD_QUOTE = 2000


def escaped_within(text: str, room: int) -> str:
    """Plain text as HTML showing at most `room` characters, cut with "…" when longer. Telegram
    counts what is shown (&amp; is one), so the cut comes before escaping and never splits an
    entity."""
    if len(text) <= room:
        return html.escape(text)
    return html.escape(text[: room - 1] + "…") if room > 0 else ""


def _clip(text: str, limit: int = _LINE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def disposition_name(value: object) -> str:
    """A call's outcome in the viewer's language (the timeline stores the machine value)."""
    names = {
        "answered": _("call answered"),
        "busy": _("line busy"),
        "no_answer": _("no answer"),
        "cancelled": _("hung up while ringing"),
        "unavailable": _("number unavailable"),
        "failed": _("call failed"),
    }
    return names.get(str(value), str(value))


def timeline_text(
    playbook: Playbook, line: TimelineLine, lang: str, now: datetime, zone: ZoneInfo
) -> str:
    """One timeline event in one short line (plain text; the caller escapes it)."""
    data = line.data
    if line.kind == EventKind.OUTCOME:
        parts = [button_label(playbook, str(data.get("button", "")), lang)]
        reason = data.get("reason")
        if isinstance(reason, str) and reason in playbook.reasons:
            parts.append(playbook.reasons[reason].get(lang))
        due = data.get("due")
        if isinstance(due, str):
            parts.append("→ " + day_and_time(datetime.fromisoformat(due), now, zone))
        body = " ".join(parts)
    elif line.kind == EventKind.STAGE:
        body = _("Stage: {old} → {new}").format(
            old=stage_name(playbook, str(data.get("from", "")), lang),
            new=stage_name(playbook, str(data.get("to", "")), lang),
        )
    elif line.kind == EventKind.CALL:
        disposition = disposition_name(data.get("disposition", "?"))
        seconds = data.get("talk_seconds", 0)
        agent = data.get("agent")  # set when someone else than the deal's owner called
        if agent:
            body = _("Call by {agent}: {disposition}, {seconds} s").format(
                agent=agent, disposition=disposition, seconds=seconds
            )
        else:
            body = _("Call: {disposition}, {seconds} s").format(
                disposition=disposition, seconds=seconds
            )
    elif line.kind == EventKind.MSG_IN:
        body = _("Client wrote:")
    elif line.kind == EventKind.MSG_OUT:
        body = _("Reply:")
    elif line.kind == EventKind.NOTE:
        body = _("Note:")
    elif line.kind == EventKind.ASSIGN:
        body = _("Assigned")
    elif line.kind == EventKind.STOPPED:
        body = _("Client said /stop: nothing is sent to him")
    elif line.kind == EventKind.RESUMED:
        body = _("Client wrote again: replies are back on")
    else:
        body = _("Deal created")
    if line.text:
        body = f"{body} {line.text}"
    return _clip(f"{day_and_time(line.at, now, zone)} {body}")


def render_card(
    data: CardData, playbook: Playbook, lang: str, now: datetime, zone: ZoneInfo
) -> Card:
    """The card of a deal (and its open task, if any) as the viewer in `zone` sees it."""
    esc = html.escape
    header = f"<b>{esc(data.contact_name or _('No name'))}</b>"
    if data.company:
        header += f" · {esc(data.company)}"
    lines = [header]
    if data.phones:
        lines.append("📞 " + ", ".join(esc(pretty_phone(p)) for p in data.phones))
    if data.client_tz:
        client_now = now.astimezone(ZoneInfo(data.client_tz))
        lines.append(
            CLIENT_TIME
            + _("client's time {time}, {offset}").format(
                time=client_now.strftime("%H:%M"), offset=utc_offset(client_now)
            )
        )
    else:
        lines.append(CLIENT_TIME + _("client's time zone is unknown: tap Region"))
    stage = _("Stage: {stage}").format(
        stage=f"<b>{esc(stage_name(playbook, data.stage, lang))}</b>"
    )
    task = data.task
    planner = playbook.buttons.get(task.planned_by) if task and task.planned_by else None
    ladder = None
    if task and planner and planner.ladder:
        ladder = task.planned_by
    elif task and task.open and task.planned_by is None:
        # A new deal's first task: the rep sees where the ladder stands from attempt 1.
        ladder = playbook.ladder_offered(data.stage)
    if task and ladder:
        stage += " · " + attempt_text(task.attempt + 1, ladder_size(playbook, ladder))
    lines.append(stage)
    if data.amount:
        lines.append(_("Amount: {amount}").format(amount=_money(data.amount)))
    if data.tags:
        lines.append(" ".join(esc("#" + t) for t in data.tags))
    lines.extend(f"{esc(label)}: {esc(_clip(value))}" for label, value in data.fields)
    if task and task.open:
        lines.append("")
        lines.append(
            "▶ "
            + _("{task}, due {when}").format(
                task=f"<b>{esc(task_kind_name(playbook, task.kind, lang))}</b>",
                when=format_when(task.due_at, now, zone),
            )
        )
        if planner and planner.hint:
            lines.append("💡 " + esc(planner.hint.get(lang)))
    if data.events:
        lines.append("")
        lines.extend(
            "• " + esc(timeline_text(playbook, e, lang, now, zone))
            for e in data.events[:TIMELINE_LINES]
        )
    markup = None
    if task and task.open and data.status == DealStatus.OPEN:
        markup = keyboards.card_keyboard(
            playbook, lang, task.id, data.stage, zone_unknown=data.client_tz is None
        )
    return Card(_fit("\n".join(lines)), markup, task.id if task else None, data.deal_id)




def _fit(text: str) -> str:
    """Within Telegram's 4096; the header comes first, so a cut only loses old timeline."""
    if len(text) <= MAX_TEXT:
        return text
    cut = text[: MAX_TEXT - 1]
    return cut[: cut.rfind("\n")] + "\n…"


def outcome_summary(
    playbook: Playbook,
    lang: str,
    button: str,
    outcome: Outcome,
    now: datetime,
    zone: ZoneInfo,
    reason: str | None = None,
    task_kind: str | None = None,
) -> str:
    """The closed card's last line: 'Busy → next: Call, 10:05, attempt 2/5' (plain text)."""
    plain = label = button_label(playbook, button, lang)
    if reason and reason in playbook.reasons:
        label += f" ({playbook.reasons[reason].get(lang)})"
    spec = playbook.buttons.get(button)
    if outcome.next_due is None:
        stage = stage_name(playbook, outcome.stage or "", lang)
        return label if stage == plain else f"{label} → {stage}"  # "Paid", not "Paid → Paid"
    line = _("{button} → next: {task}, {when}").format(
        button=label,
        task=task_kind_name(playbook, task_kind or (spec.task if spec else "call"), lang),
        when=format_when(outcome.next_due, now, zone),
    )
    if spec and spec.ladder:
        line += ", " + attempt_text(outcome.attempt + 1, ladder_size(playbook, button))
    return line


def card_header(text: str) -> str | None:
    """The header paragraph of a card in a message's HTML text, past any line the message put
    before the card ("⏰ Task due"); the client's time line is always in it. None: no card."""
    for paragraph in text.split("\n\n"):
        if any(line.startswith(CLIENT_TIME) for line in paragraph.split("\n")):
            return paragraph
    return None


def closed_card(header: str, summary: str, conveyor: bool) -> tuple[str, InlineKeyboardMarkup]:
    """The card edited in place after an outcome: its header lines and what happened."""
    return _fit(f"{header}\n\n✅ {html.escape(summary)}"), keyboards.after_outcome_keyboard(
        conveyor
    )


async def field_lines(playbook: Playbook, deal_id: int, lang: str) -> tuple[tuple[str, str], ...]:
    """The deal's and its contact's custom fields that hold a value, as the card shows them."""
    return tuple(
        (f.spec.label.get(lang), shown(f.spec, f.values, lang))
        for f in await deal_fields(playbook, deal_id)
        if f.values
    )


def card_data(row: CardRow, fields: tuple[tuple[str, str], ...] = ()) -> CardData:
    return CardData(
        deal_id=row.deal_id,
        stage=row.stage,
        status=DealStatus(row.deal_status),
        amount=row.amount,
        tags=row.tags,
        contact_name=row.contact_name,
        company=row.company,
        phones=row.phones,
        client_tz=row.contact_tz,
        task=TaskView(
            id=row.task_id,
            kind=row.task_kind or "",
            due_at=row.due_at,
            attempt=row.attempt,
            planned_by=row.planned_by,
            open=row.task_status == TaskStatus.OPEN,
        )
        if row.task_id is not None and row.due_at is not None
        else None,
        events=tuple(TimelineLine(e.at, EventKind(e.kind), e.text, e.data) for e in row.events),
        fields=fields,
    )


async def load_card(crm: Crm, task_id: int, lang: str, viewer: Employee | None) -> Card | None:
    """The card of one task (open or closed), None if there is no such task."""
    row = await card_reads.card_of_task(task_id, TIMELINE_LINES)
    if row is None:
        return None
    fields = await field_lines(crm.playbook, row.deal_id, lang)
    return render_card(
        card_data(row, fields), crm.playbook, lang, crm.now(), viewer_zone(crm.playbook, viewer)
    )


async def load_deal_card(crm: Crm, deal_id: int, lang: str, viewer: Employee | None) -> Card | None:
    """The card of a deal's open task, or of the deal alone when it is closed."""
    row = await card_reads.card_of_deal(deal_id, TIMELINE_LINES)
    if row is None:
        return None
    fields = await field_lines(crm.playbook, deal_id, lang)
    return render_card(
        card_data(row, fields), crm.playbook, lang, crm.now(), viewer_zone(crm.playbook, viewer)
    )
