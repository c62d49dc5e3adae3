"""The domain's notices, told in Telegram: each kind rendered by one small function, sent through
the rate-limited Sender in the employee's own language.

Errors of the Sender propagate: the scheduler releases a due push that failed and tries again.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import Reassign
from bot.cards import (
    LEAD_QUOTE,
    MAX_TEXT,
    Card,
    attempt_text,
    button_label,
    disposition_name,
    escaped_within,
    format_when,
    load_card,
    load_deal_card,
    stage_name,
    viewer_zone,
)
from bot.i18n import create_i18n, pick_lang, speaking
from bot.keyboards import with_reply
from bot.sender import Sender
from crm.chat import link_relay
from crm.context import Crm
from crm.engine import ladder_size
from crm.feed import card_not_delivered, card_shown
from crm.notices import Notice, NoticeKind
from crm.phones import pretty_phone
from crm.staff import waiting_work
from storage.models import Contact, Employee

log = logging.getLogger(__name__)
_QUOTE_CHARS = 1000  # a quoted client text leaves room for the card under it
_REASSIGN_BUTTONS = 8  # of a rep who blocked the bot: his most overdue deals, one button each


# Notices that are the copy of a client's message: a Telegram reply to them answers him.
_RELAYED = (NoticeKind.NEW_LEAD, NoticeKind.LETTER)


@dataclass(frozen=True)
class Rendered:
    """A notice as HTML text (empty: send nothing), its keyboard, and the task whose open card
    it carries (so that card's due push is not sent as a second message)."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    card_task: int | None = None


def _quote(value: object) -> str:
    return escaped_within(str(value or ""), _QUOTE_CHARS)


def _phone(number: object) -> str:
    """A number as the card shows it (+7 495 123-45-67), escaped."""
    return _quote(pretty_phone(str(number or "?")))


class BotNotifier:
    """crm.notices.Notifier for the staff bot."""

    def __init__(self, bot: Bot, sender: Sender, crm: Crm, i18n: I18n | None = None) -> None:
        self.bot = bot
        self.sender = sender
        self.crm = crm
        self.i18n = i18n or create_i18n()
        self._render: dict[NoticeKind, Callable[[Notice, Employee, str], Awaitable[Rendered]]] = {
            NoticeKind.DUE: self._due,
            NoticeKind.AUTO_OUTCOME: self._auto_outcome,
            NoticeKind.ANSWERED_CALL: self._answered_call,
            NoticeKind.CALL_LOGGED: self._call_logged,
            NoticeKind.SCREEN_POP: self._screen_pop,
            NoticeKind.MISSED_CALL: self._missed_call,
            NoticeKind.NEW_LEAD: self._new_lead,
            NoticeKind.REMINDER: self._reminder,
            NoticeKind.ALERT: self._text_notice,
            NoticeKind.CLIENT_MESSAGE: self._text_notice,
            NoticeKind.DIGEST: self._text_notice,
            NoticeKind.DEAL_GIVEN: self._deal_given,
            NoticeKind.DEAL_TAKEN: self._deal_taken,
            NoticeKind.UNREACHABLE: self._unreachable,
            NoticeKind.LEAD_WAITING: self._lead_waiting,
            NoticeKind.LETTER: self._letter,
        }

    async def notify(self, notice: Notice) -> None:
        await self.tell(await Employee.get_or_none(id=notice.employee_id), notice)

    async def tell(self, employee: Employee | None, notice: Notice) -> bool:
        """`notify` to an employee the caller has loaded (None: gone): the scheduler loads a
        whole batch of due pushes' assignees in one query. False when he has blocked the bot
        (known before, or the 403 of this message): a due push then waits until he is back."""
        if employee is None or employee.tg_id is None:
            log.info("notice %s for employee %s: nobody to tell", notice.kind, notice.employee_id)
            return True
        if not employee.active:
            log.info("notice %s skipped: employee %s inactive", notice.kind, employee.id)
            return True
        if not employee.reachable:
            log.info("notice %s skipped: employee %s unreachable", notice.kind, employee.id)
            return False
        lang = pick_lang(employee.lang, default=self.i18n.default_locale)
        with speaking(self.i18n, lang):
            message = await self._render[notice.kind](notice, employee, lang)
        if not message.text:
            return True
        # The card goes out now: its due push must not follow it (the due push itself was
        # claimed by the clock). Undone if the card cannot be sent.
        card_task = message.card_task if notice.kind != NoticeKind.DUE else None
        marked = card_task is not None and await card_shown(self.crm, card_task)
        sent = None
        try:
            sent = await self.sender.send(employee.tg_id, message.text, reply_markup=message.markup)
        finally:
            if marked and sent is None and card_task is not None:
                await card_not_delivered(card_task)
        chat_message = notice.params.get("chat_message_id")
        if sent is not None and notice.kind in _RELAYED and chat_message:
            # The lead's card is the copy of his first message: a reply to it reaches him.
            await link_relay(int(chat_message), sent.chat.id, sent.message_id)
        return sent is not None

    # -- one renderer per kind -----------------------------------------------------------------

    async def _card(self, notice: Notice, employee: Employee, lang: str) -> Card | None:
        if notice.task_id is not None:
            card = await load_card(self.crm, notice.task_id, lang, employee)
            if card is not None:
                return card
        if notice.deal_id is not None:
            return await load_deal_card(self.crm, notice.deal_id, lang, employee)
        return None

    async def _with_card(
        self, line: str | None, notice: Notice, employee: Employee, lang: str,
        card: Card | None = None,
    ) -> Rendered:
        """`line` (HTML) above the notice's card; pass `card` when it is already loaded."""
        card = card or await self._card(notice, employee, lang)
        parts = [p for p in (line, card.text if card else None) if p]
        markup = card.markup if card else None
        return Rendered("\n\n".join(parts), markup, card.task_id if card and markup else None)

    async def _due(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        if notice.task_id is None:
            return Rendered("")
        card = await load_card(self.crm, notice.task_id, lang, employee)
        # Closed between the claim and now (pressed on an older card): nothing is due any more.
        if card is None or card.markup is None:
            return Rendered("")
        return Rendered("⏰ " + _("Task due") + "\n\n" + card.text, card.markup)

    async def _auto_outcome(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        """'📞 Busy (SIP 486), attempt 1/5' and 'Next call: 10:05', or where the ladder's last
        step took the deal. The attempt is the call just made; the card under it numbers the
        next one."""
        params, playbook = notice.params, self.crm.playbook
        button = str(params.get("button") or "")
        line = "📞 " + button_label(playbook, button, lang)
        if params.get("sip_code"):
            line += f" (SIP {params['sip_code']})"
        size = ladder_size(playbook, button) if button in playbook.buttons else 0
        attempt = params.get("attempt")
        if size and isinstance(attempt, int) and attempt > 0:
            line += ", " + attempt_text(attempt, size)
        due, stage = params.get("due"), params.get("stage")
        if isinstance(due, str):
            zone = viewer_zone(playbook, employee)
            when = format_when(datetime.fromisoformat(due), self.crm.now(), zone)
            line += "\n" + _("Next call: {when}").format(when=when)
        elif stage:
            line += "\n" + _("The deal went to {stage}").format(
                stage=stage_name(playbook, str(stage), lang)
            )
        return await self._with_card(html.escape(line), notice, employee, lang)

    async def _answered_call(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        line = "📞 " + _("Call answered: choose the outcome")
        return await self._with_card(line, notice, employee, lang)

    async def _call_logged(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        """'📞 Busy (SIP 486): not pressed', why, and where the call went: the deal's card (without
        buttons when the deal is another rep's), or the contact's name when no deal took it."""
        params = notice.params
        button = params.get("button")
        if button:
            head = button_label(self.crm.playbook, str(button), lang)
        elif params.get("disposition") == "answered":
            head = _("Call answered")
        else:
            head = disposition_name(params.get("disposition"))
        if params.get("sip_code"):
            head += f" (SIP {params['sip_code']})"
        if button:
            head += ": " + _("not pressed")
        logged = params.get("logged")
        if logged == "not_owner":
            owner = await Employee.get_or_none(id=params.get("owner_id") or 0)
            why = (
                _("The deal is {owner}'s: the call is on his card").format(owner=owner.name)
                if owner else _("The deal is not yours: the call is on its card")
            )
        elif logged == "not_offered":
            why = _("The deal's stage has no such button: the call is on the deal's card")
        elif logged == "closed":
            why = _("The task was already closed: the call is on the deal's card")
        else:
            contact = await Contact.get_or_none(id=params.get("contact_id") or 0)
            why = _(
                "{contact} has no open deal of your team: the call is logged on the contact"
            ).format(contact=contact.name if contact else "?")
        line = "📞 " + _quote(head) + "\n" + _quote(why)
        card = await self._card(notice, employee, lang)
        if card is None:
            return Rendered(line)
        return Rendered(f"{line}\n\n{card.text}", None if logged == "not_owner" else card.markup)

    async def _screen_pop(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        return await self._with_card("📲 " + _("Incoming call"), notice, employee, lang)

    async def _missed_call(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        line = "☎️ " + _("Missed call from {number}").format(
            number=_phone(notice.params.get("number"))
        )
        return await self._with_card(line, notice, employee, lang)

    async def _new_lead(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        line = "🆕 " + _("New lead")
        if notice.params.get("source") == "missed_call":
            line += "\n☎️ " + _("Missed call from {number}: call back").format(
                number=_phone(notice.params.get("number"))
            )
        text = notice.params.get("text")
        if text:  # a longer first message is copied whole besides (handlers/client.py)
            line += "\n" + escaped_within(str(text), LEAD_QUOTE)
        alerts = notice.params.get("alerts")
        if alerts:  # in the same message, not as a second one
            line += "\n🚨 " + _("Alert") + f": {html.escape(str(alerts))}"
        rendered = await self._with_card(line, notice, employee, lang)
        if notice.params.get("chat_message_id") and notice.deal_id is not None:
            return replace(rendered, markup=with_reply(rendered.markup, notice.deal_id))
        return rendered

    async def _reminder(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        card = await self._card(notice, employee, lang)
        if card is None or card.markup is None:  # done or moved since: nothing to remind of
            return Rendered("")
        minutes = notice.params.get("minutes") or self.crm.playbook.automations.reminder_minutes
        line = "🔔 " + _("In {minutes} min: the agreed call").format(minutes=minutes)
        return await self._with_card(line, notice, employee, lang, card)

    async def _deal_given(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        line = "🔁 " + _("{by} gave you this deal").format(by=_quote(notice.params.get("by")))
        return await self._with_card(line, notice, employee, lang)

    async def _deal_taken(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        # Names only, no card: the deal is not his to see any more.
        return Rendered("🔁 " + _("{by} gave «{deal}» to {to}").format(
            by=_quote(notice.params.get("by")), deal=_quote(notice.params.get("title")),
            to=_quote(notice.params.get("to")),
        ))
    async def _unreachable(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        """To his overseers: who blocked the bot, how much of his work is open, and a Reassign
        button for each of his most overdue deals."""
        rep_id = int(notice.params.get("rep_id") or 0)
        rep = await Employee.get_or_none(id=rep_id)
        if rep is None or rep.reachable:  # back already: nothing to do
            return Rendered("")
        lines = [
            "📵 " + _(
                "{name} has blocked the bot: no cards, pushes or new leads reach him until he "
                "writes to it again."
            ).format(name=_quote(rep.name or rep.id)),
            _("Open tasks: {n}").format(n=notice.params.get("waiting", 0)),
        ]
        due = await waiting_work(self.crm, rep_id, _REASSIGN_BUTTONS)
        keyboard = InlineKeyboardBuilder()
        if due:
            lines.append(_("Due now, most overdue first:"))
        zone, now = viewer_zone(self.crm.playbook, employee), self.crm.now()
        for n, task in enumerate(due, start=1):
            client = task.deal.contact.name or _("Client")
            lines.append(f"{n}. {_quote(client)} · {format_when(task.due_at, now, zone)}")
            keyboard.button(
                text=_("Reassign {n}").format(n=n), callback_data=Reassign(deal=task.deal.id)
            )
        keyboard.adjust(4)
        return Rendered("\n".join(lines), keyboard.as_markup() if due else None)

    async def _lead_waiting(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        """To a team's overseers: a lead (or a disabled rep's deal) nobody there can take, its
        card and a Reassign button."""
        card = await self._card(notice, employee, lang)
        if card is None or card.markup is None:  # taken or closed since
            return Rendered("")
        team = _quote(notice.params.get("team"))
        if notice.params.get("owned"):  # a disabled rep's deal, not a lead
            line = "⏳ " + _(
                "Nobody has taken this deal of team {team} from the queue yet."
            ).format(team=team)
        elif notice.params.get("escalated"):
            line = "⏳ " + _("Still nobody has taken this lead of team {team}.").format(team=team)
        else:
            line = "⏳ " + _(
                "A new lead of team {team} waits: no rep there is on shift and reachable."
            ).format(team=team)
        keyboard = InlineKeyboardBuilder()
        keyboard.button(text=_("Reassign"), callback_data=Reassign(deal=card.deal_id))
        return Rendered(f"{line}\n\n{card.text}", keyboard.as_markup())

    async def _letter(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        """A client's letter on the rep's deal (crm.mail.summary), with Reply: by mail."""
        if notice.deal_id is None:
            return Rendered("")
        text = escaped_within(str(notice.params.get("text") or ""), MAX_TEXT)
        return Rendered(text, with_reply(None, notice.deal_id))

    async def _text_notice(self, notice: Notice, employee: Employee, lang: str) -> Rendered:
        """ALERT, CLIENT_MESSAGE, DIGEST: the analytics and client-chat engineers fill the text."""
        text = _quote(notice.params.get("text"))
        if notice.kind == NoticeKind.ALERT:
            words = notice.params.get("alerts")
            header = "🚨 " + _("Alert")
            if words:
                header += f": {html.escape(str(words))}"
            return await self._with_card(f"{header}\n{text}", notice, employee, lang)
        return Rendered(escaped_within(str(notice.params.get("text") or ""), MAX_TEXT))
