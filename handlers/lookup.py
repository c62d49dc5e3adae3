"""Finding and adding clients: /find, /add, and quick add (a phone, "Name +7 …" or a shared
contact card sent to the bot). Thin, like the rest of handlers/: crm.deals and crm.search decide.
"""

from __future__ import annotations

import html
import logging

from aiogram import F
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot import keyboards
from bot.callbacks import OpenDeal
from bot.cards import load_deal_card, stage_name
from bot.editing import pressed_message, send_card
from crm import feed
from crm.context import Crm
from crm.deals import (
    ContactDraft,
    find_or_create_contact,
    open_deal,
    open_deal_of,
    split_name_and_phone,
)
from crm.permissions import can_act_on
from crm.phones import normalize_phone
from crm.search import find_deals
from handlers import employee_router
from storage.models import Contact, Deal, Employee

log = logging.getLogger(__name__)
FIND_LIMIT = 10

router = employee_router("lookup")


class AddDeal(StatesGroup):
    name = State()
    phone = State()
    amount = State()


@router.callback_query(OpenDeal.filter())
async def open_deal_button(
    callback: CallbackQuery,
    callback_data: OpenDeal,
    crm: Crm,
    employee: Employee,
    lang: str,
    callback_answer: CallbackAnswer,
) -> None:
    deal = await Deal.get_or_none(id=callback_data.deal)
    message = pressed_message(callback)
    if deal is None or message is None:
        callback_answer.text = _("Unknown button")
        return
    card = await load_deal_card(crm, deal.id, lang, employee)
    if card is not None:
        await send_card(message, card)
        if card.task_id is not None and card.markup is not None:
            await feed.card_shown(crm, card.task_id)


@router.message(Command("find"))
async def find(
    message: Message, command: CommandObject, crm: Crm, employee: Employee, lang: str
) -> None:
    query = (command.args or "").strip()
    if not query:
        await message.answer(_("Send /find and a name, a phone or a tag, e.g. /find Anna"))
        return
    deals = await find_deals(query, employee, FIND_LIMIT, crm=crm)
    if not deals:
        await message.answer(_("Nothing found for “{query}”.").format(query=html.escape(query)))
        return
    rows = [
        (d.id, f"{d.contact.name or _('No name')} · {stage_name(crm.playbook, d.stage, lang)}")
        for d in deals
    ]
    await message.answer(
        _("Found: {n}").format(n=len(deals)), reply_markup=keyboards.deals_keyboard(rows)
    )


async def _added(
    message: Message,
    crm: Crm,
    employee: Employee,
    lang: str,
    draft: ContactDraft,
    amount: int = 0,
) -> None:
    """A new client's deal card, or the existing client's with "Already in the CRM"."""
    contact, created = await find_or_create_contact(crm, draft, owner_id=employee.id)
    deal: Deal | None
    if created:
        deal = await open_deal(
            crm,
            contact,
            owner_id=employee.id,
            team=employee.team,
            source=draft.source,
            amount=amount,
        )
        prefix = None
    else:
        prefix = "ℹ️ " + _("Already in the CRM")
        deal = await _existing_deal(crm, contact, employee, amount)
        if deal is None:
            await message.answer(prefix + ": " + _("another rep's client."))
            return
    card = await load_deal_card(crm, deal.id, lang, employee)
    if card is not None:
        await send_card(message, card, prefix)
        if card.task_id is not None and card.markup is not None:
            await feed.card_shown(crm, card.task_id)  # the due push would be this card again


async def _existing_deal(
    crm: Crm, contact: Contact, employee: Employee, amount: int
) -> Deal | None:
    """The contact's open deal if the rep may see it; a returning client gets a new deal."""
    deal = await open_deal_of(contact.id)
    if deal is None:
        owner = contact.owner_id or employee.id  # type: ignore[attr-defined]
        if owner != employee.id and not can_act_on(employee, owner, employee.team):
            return None
        return await open_deal(
            crm, contact, owner_id=employee.id, team=employee.team, source="manual", amount=amount
        )
    return deal if can_act_on(employee, deal.owner_id, deal.team) else None  # type: ignore[attr-defined]


@router.message(Command("add"))
async def add_command(
    message: Message,
    command: CommandObject,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
) -> None:
    if command.args:
        name, phone = split_name_and_phone(command.args)
        if phone:
            await _added(
                message,
                crm,
                employee,
                lang,
                ContactDraft(name=name, phones=(phone,), source="manual"),
            )
            return
    await state.set_state(AddDeal.name)
    await message.answer(_("New client. What is the name? (/cancel to stop)"))


@router.message(AddDeal.name, F.text, ~F.text.startswith("/"))
async def add_name(message: Message, state: FSMContext) -> None:
    await state.update_data(name=(message.text or "").strip()[:200])
    await state.set_state(AddDeal.phone)
    await message.answer(_("The phone number?"))


@router.message(AddDeal.phone, F.text, ~F.text.startswith("/"))
async def add_phone(message: Message, state: FSMContext) -> None:
    phone = normalize_phone(message.text or "")
    if phone is None:
        await message.answer(_("That is not a phone number. Try like this: +7 999 123-45-67"))
        return
    await state.update_data(phone=phone)
    await state.set_state(AddDeal.amount)
    await message.answer(_("The deal amount? Send a number, or 0 if not known yet."))


@router.message(AddDeal.amount, F.text, ~F.text.startswith("/"))
async def add_amount(
    message: Message, crm: Crm, employee: Employee, lang: str, state: FSMContext
) -> None:
    amount = _parse_amount(message.text or "")
    if amount is None:
        await message.answer(_("Send the amount as a number, e.g. 15000 or 15 000,50"))
        return
    data = await state.get_data()
    await state.clear()
    draft = ContactDraft(name=str(data["name"]), phones=(str(data["phone"]),), source="manual")
    await _added(message, crm, employee, lang, draft, amount)


def _parse_amount(text: str) -> int | None:
    """'15 000,50' → 1500050 minor units; None if it is not an amount."""
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        value = round(float(cleaned) * 100)
    except ValueError:
        return None
    return value if 0 <= value < 10**15 else None


@router.message(StateFilter(None), F.contact)
async def shared_contact(message: Message, crm: Crm, employee: Employee, lang: str) -> None:
    shared = message.contact
    assert shared is not None  # the filter
    phone = normalize_phone(shared.phone_number)
    if phone is None:
        await message.answer(_("That is not a phone number. Try like this: +7 999 123-45-67"))
        return
    name = " ".join(p for p in (shared.first_name, shared.last_name) if p)
    await _added(
        message, crm, employee, lang, ContactDraft(name=name, phones=(phone,), source="manual")
    )


@router.message(StateFilter(None), F.text, ~F.text.startswith("/"), ~F.reply_to_message)
async def quick_add_text(message: Message, crm: Crm, employee: Employee, lang: str) -> None:
    name, phone = split_name_and_phone(message.text or "")
    if phone is None:
        await message.answer(
            _(
                "To add a client send a phone number or “Name +7 999 123-45-67”. /help lists "
                "the commands."
            )
        )
        return
    await _added(
        message, crm, employee, lang, ContactDraft(name=name, phones=(phone,), source="manual")
    )
