"""The demo's team and a few weeks of its history, made through the crm functions the bot and
the SIP listener call (so every report and chart has something on the first visit).

History is written with a FakeClock walked from `DAYS` working days before the demo's start;
what the history notified (pushes, alerts) went nowhere: it is the past.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.playbook import Playbook
from crm.calls import record_call
from crm.calltypes import CallRecord, Disposition
from crm.chat import ChatContent, ReplyTarget, record_outgoing
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Press, apply_outcome
from crm.leads import intake
from crm.notices import Notice
from crm.schedule import into_working_hours
from crm.staff import TelegramUser, add_employee, redeem_invite
from storage.models import Deal, Employee, Role, Task, TaskStatus

DAYS = 21


@dataclass(frozen=True)
class Person:
    """Someone the web chat lets you be: an employee or a client with a Telegram account."""

    tg_id: int
    name: str
    role: str  # admin, supervisor, rep, client, or new (added on the page, not known yet)
    lang: str = "ru"
    sip_ext: str | None = None
    phone: str | None = None
    company: str = ""


TEAM = (
    Person(7001, "Анна Смирнова", "admin"),
    Person(7002, "Сергей Волков", "supervisor"),
    Person(7003, "Иван Петров", "rep", sip_ext="101"),
    Person(7004, "Мария Козлова", "rep", lang="en", sip_ext="102"),
)
# Clients who write to the bot (the web chat can be them); their first message is history.
CLIENTS = (
    Person(8001, "Ольга Белова", "client", phone="+79161234501", company="ООО «Северный ветер»"),
    Person(8002, "Дмитрий Орлов", "client", phone="+79261234502", company="ИП Орлов Д. А."),
    Person(8003, "Екатерина Зайцева", "client", lang="en", phone="+79031234503",
           company="АО «ТехноСтрой»"),
    Person(8004, "Алексей Морозов", "client", phone="+79851234504", company="ООО «Пекарня №1»"),
)
# Telegram users who have not written yet: be one and write to see a new lead reach a rep.
NEWCOMERS = (
    Person(8005, "Глеб Титов", "client", phone="+79161239905", company="ООО «Новый офис»"),
    Person(8006, "Sophie Martin", "client", lang="en", phone="+79161239906",
           company="Martin & Co"),
)
# Contacts the reps added by phone: their deals walk the pipeline in the history.
CONTACTS = (
    ("Николай Фёдоров", "+79161110011", "ООО «Стройресурс»"),
    ("Татьяна Кузнецова", "+79161110012", "ООО «Альфа-Логистик»"),
    ("Павел Соколов", "+79161110013", "ООО «Мебель Плюс»"),
    ("Ирина Лебедева", "+79161110014", "ИП Лебедева И. В."),
    ("Андрей Новиков", "+79161110015", "ООО «Вектор»"),
    ("Светлана Егорова", "+79161110016", "ЗАО «Полимер»"),
    ("Михаил Павлов", "+79161110017", "ООО «Агроснаб»"),
    ("Юлия Семёнова", "+79161110018", "ООО «Чистый дом»"),
    ("Виктор Голубев", "+79161110019", "ООО «Транзит»"),
    ("Наталья Виноградова", "+79161110020", "ООО «Флора»"),
    ("Артём Богданов", "+79161110021", "ООО «Кофейня на углу»"),
    ("Елена Воробьёва", "+79161110022", "ООО «Медтехника»"),
    ("Роман Киселёв", "+79161110023", "ООО «АвтоДеталь»"),
    ("Ксения Макарова", "+79161110024", "ИП Макарова К. С."),
)
NOTES = (
    "#vip просит скидку за объём", "Перезвонить после обеда #опт", "ЛПР в отпуске до пятницы",
    "#vip нужен договор с отсрочкой", "Сравнивают с конкурентом #тендер",
)
# What happens to each contact's deal: a list of steps (see _walk).
PLANS = (
    ("busy", "call_back", "invoice_sent", "paid"),
    ("call_back", "invoice_sent", "paid"),
    ("no_pickup", "busy", "refused:price"),
    ("call_back", "refused:competitor"),
    ("note", "call_back", "invoice_sent"),
    ("unavailable", "no_pickup", "busy", "unavailable", "no_pickup"),  # the ladder to archive
    ("call_back", "note", "refused:no_need"),
    ("invoice_sent", "paid"),
    ("busy",),
    ("call_back", "invoice_sent", "refused:other"),
    ("note",),
    ("call_back",),
    ("no_pickup", "call_back", "invoice_sent", "paid"),
    (),
)
# One captured call per disposition, as the listener would have logged them.
DISPOSITIONS = (
    (Disposition.ANSWERED, 200), (Disposition.BUSY, 486), (Disposition.NO_ANSWER, 480),
    (Disposition.CANCELLED, 487), (Disposition.UNAVAILABLE, 503), (Disposition.FAILED, 500),
)


class _Nowhere:
    """The history's notifier: what it would have said was said in the past."""

    async def notify(self, notice: Notice) -> None:
        return None


async def is_seeded() -> bool:
    return await Employee.exists()


async def seed(playbook: Playbook, start: datetime, bot_id: int) -> None:
    """Write the team and its history, ending as `start` comes (the demo's clock takes over);
    `bot_id` is the bot the clients wrote to."""
    hours = playbook.working_hours
    clock = FakeClock(into_working_hours(start - timedelta(days=DAYS), hours))
    past = Crm(playbook, clock)
    rng = random.Random(13)
    begin, last = clock.now(), start - timedelta(minutes=5)

    def later(minutes: int) -> None:
        moment = into_working_hours(clock.now() + timedelta(minutes=minutes), hours)
        clock.set(min(moment, last))

    def at_share(share: float) -> None:
        clock.set(min(into_working_hours(begin + (last - begin) * share, hours), last))

    reps = await _team(past)
    for index, (name, phone, company) in enumerate(CONTACTS):
        at_share(index / (len(CONTACTS) + 2))
        rep = reps[index % len(reps)]
        added = await quick_add(
            past, ContactDraft(name=name, phones=(phone,), company=company),
            owner_id=rep.id, team=rep.team, source=rng.choice(("manual", "site", "referral")),
        )
        if added.deal is not None:
            await _walk(past, rep, added.deal, PLANS[index % len(PLANS)],
                        NOTES[index % len(NOTES)], rng, later)
    at_share(len(CONTACTS) / (len(CONTACTS) + 2))
    for index, (disposition, code) in enumerate(DISPOSITIONS):
        later(rng.randint(30, 120))
        await _call(past, reps[index % len(reps)], CONTACTS[index][1], disposition, code, index)
    for person in CLIENTS:
        later(rng.randint(30, 200))
        await _chat(past, person, reps, bot_id, later)


async def _team(crm: Crm) -> list[Employee]:
    """The team joined through invites, as people do; its reps."""
    reps = []
    for person in TEAM:
        employee, invite = await add_employee(
            crm, person.name, Role(person.role), sip_ext=person.sip_ext
        )
        await redeem_invite(crm, invite.code, TelegramUser(person.tg_id, person.name, None,
                                                           person.lang))
        if person.role == "rep":
            reps.append(employee)
    return reps


async def _chat(
    crm: Crm, person: Person, reps: list[Employee], bot_id: int, later: Callable[[int], None]
) -> None:
    """A client writes to the bot (a lead for a rep on shift) and the rep answers."""
    user = TelegramUser(person.tg_id, person.name, None, person.lang)
    lead = await intake(
        crm, user, ChatContent(f"Здравствуйте! Нужен расчёт для {person.company}"),
        shared_phone=person.phone, bot_id=bot_id,
    )
    later(10)
    owner_id = lead.deal.owner_id  # type: ignore[attr-defined]
    replier = next((rep for rep in reps if rep.id == owner_id), None)
    target = ReplyTarget(lead.contact.id, lead.deal.id, person.tg_id, bot_id)
    await record_outgoing(
        crm, target, replier, ChatContent("Добрый день! Подготовлю расчёт и перезвоню."), None
    )


async def _walk(
    crm: Crm, rep: Employee, deal: Deal, plan: tuple[str, ...], note: str, rng: random.Random,
    later: Callable[[int], None],
) -> None:
    for step in plan:
        task = await Task.get_or_none(deal_id=deal.id, status=TaskStatus.OPEN)
        if task is None:
            return
        clock_now = crm.now()
        button, _, reason = step.partition(":")
        press = Press(
            task.id, button, rep, reason=reason or None,
            when=clock_now + timedelta(hours=rng.randint(4, 30)) if button in _ASKS else None,
            note=note if button == "note" else "",
        )
        await apply_outcome(crm, press)
        later(rng.randint(60, 60 * 8))


_ASKS = frozenset({"call_back", "invoice_sent"})


async def _call(
    crm: Crm, rep: Employee, phone: str, disposition: Disposition, code: int, n: int
) -> None:
    started = crm.now()
    answered = started + timedelta(seconds=8) if disposition is Disposition.ANSWERED else None
    ended = started + timedelta(seconds=180 if answered else 20)
    record = CallRecord(
        f"demo-history-{n}", rep.sip_ext or "", phone, disposition, code, started,
        disposition is not Disposition.UNAVAILABLE, answered, ended,
    )
    await record_call(crm, record, _Nowhere())
