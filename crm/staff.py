"""Employees join by one-time invite codes; everybody else who writes to the bot is a client."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from config.settings import SUPPORTED_LANGS
from crm.context import Crm
from crm.feed import assign_deal
from crm.notices import Notice, NoticeKind
from storage import targets
from storage.models import (
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Invite,
    Role,
    Task,
    TaskStatus,
    TimelineEvent,
)

INVITE_TTL = timedelta(days=7)
# What create_invite makes (token_urlsafe), within the 32 characters Invite.code holds.
CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class JoinStatus(enum.StrEnum):
    JOINED = "joined"
    ALREADY_EMPLOYEE = "already_employee"
    INVALID = "invalid"


@dataclass(frozen=True)
class JoinResult:
    status: JoinStatus
    employee: Employee | None = None


@dataclass(frozen=True)
class TelegramUser:
    id: int
    name: str
    username: str | None = None
    lang: str | None = None


class StaffError(ValueError):
    """A staff change that cannot be made; the message says why, naming what to change."""


async def create_invite(
    crm: Crm, role: Role, team: str = "main", sip_ext: str | None = None,
    employee: Employee | None = None,
) -> Invite:
    """An invite for a new employee, or (`employee`) to link an existing one's Telegram."""
    now = crm.now()
    return await Invite.create(
        code=secrets.token_urlsafe(12), role=role, team=team, sip_ext=sip_ext,
        created_at=now, expires_at=now + INVITE_TTL, employee=employee,
    )


async def add_employee(
    crm: Crm, name: str, role: Role, team: str = "main", sip_ext: str | None = None
) -> tuple[Employee, Invite]:
    """An employee at once, without Telegram: his extension's calls are his from now on. The
    bot cannot reach him (no chat leads, no pushes) until he redeems the invite that comes with
    him, which links his Telegram account."""
    name, team = name.strip(), team.strip()
    if not name or not team:
        raise StaffError("--name and --team must not be empty")
    sip_ext = (sip_ext or "").strip() or None
    if sip_ext is not None:
        taken = await Employee.get_or_none(sip_ext=sip_ext)
        if taken is not None:
            raise StaffError(f"--sip-ext {sip_ext}: already {taken.name}'s (id {taken.id})")
    async with in_transaction():
        employee = await Employee.create(
            name=name, role=role, team=team, sip_ext=sip_ext, reachable=False,
            tz=crm.playbook.working_hours.timezone,
        )
        invite = await create_invite(crm, role, team, sip_ext, employee=employee)
    return employee, invite


async def find_employee(ref: str, *, active_only: bool = False) -> Employee:
    """The one employee an admin means by id, @username or name (any case)."""
    ref = ref.strip()
    query = Employee.filter(active=True) if active_only else Employee.all()
    if ref.isdigit():
        query = query.filter(id=int(ref))
    elif ref.startswith("@"):
        query = query.filter(username__iexact=ref[1:])
    else:
        query = query.filter(name__iexact=ref)
    found = await query.limit(2)
    if len(found) != 1:
        nobody = "no such active employee" if active_only else "no such employee"
        raise StaffError(
            f"{ref!r}: " + ("several employees match, give the id" if found else nobody)
        )
    return found[0]


@dataclass(frozen=True)
class Disabled:
    """What disabling an employee moved: his open deals (ids) and where they went, the
    extension he gave up and how many of his invites were cancelled."""

    employee: Employee
    deals: list[int]
    to: Employee | None  # None: his team's queue
    sip_ext: str | None = None
    invites: int = 0


async def disable_employee(crm: Crm, employee: Employee, to: Employee | None = None) -> Disabled:
    """Out of assignment (no leads, no cards, no bot) with his deals kept: his open deals and
    their tasks go to a colleague of his team, or to the team's queue, where /next claims them
    and whose overseers the bot's escalation job tells at once. His extension is freed for
    someone else and his pending invite cancelled (it would link a Telegram account to him)."""
    if to is not None and (to.id == employee.id or to.team != employee.team or not to.active):
        raise StaffError(
            f"{to.name} cannot take {employee.name}'s deals: an active colleague of team "
            f"{employee.team!r} can"
        )
    now = crm.now()
    async with in_transaction():
        await Employee.filter(id=employee.id).update(active=False, sip_ext=None)
        # Expired rather than deleted: `employees` lists it no more, redeeming it is refused.
        invites = await Invite.filter(
            employee_id=employee.id, used_at=None, expires_at__gt=now
        ).update(expires_at=now)
        deals = await Deal.filter(owner_id=employee.id, status=DealStatus.OPEN).order_by("id")
        for deal in deals:
            if to is not None:
                await assign_deal(crm, deal, to, actor=None)
                continue
            await Deal.filter(id=deal.id).update(owner_id=None, version=F("version") + 1)
            await TimelineEvent.create(
                deal_id=deal.id, kind=EventKind.ASSIGN, at=now,
                data={"from": employee.id, "to": None},
            )
        # Tasks of his on deals he does not own (a colleague's, given to him) go the same way.
        await Task.filter(assignee_id=employee.id, status=TaskStatus.OPEN).update(
            assignee_id=to.id if to else None, pushed_at=None
        )
        if to is None and deals:
            # Left in the queue, nobody would know they wait: due for escalation now, as a
            # lead nobody took (crm.leads.escalations tells the team's overseers).
            await Task.filter(
                deal_id__in=[deal.id for deal in deals], status=TaskStatus.OPEN
            ).update(escalate_at=now)
    sip_ext, employee.sip_ext, employee.active = employee.sip_ext, None, False
    return Disabled(employee, [deal.id for deal in deals], to, sip_ext, invites)


async def pending_invites(crm: Crm) -> list[Invite]:
    """Invites not redeemed yet that still work, oldest first."""
    return await Invite.filter(used_at=None, expires_at__gt=crm.now()).order_by("id")


def invite_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


async def redeem_invite(crm: Crm, code: str, user: TelegramUser) -> JoinResult:
    """Turn a Telegram user into an employee; the code works once and only until it expires."""
    existing = await Employee.get_or_none(tg_id=user.id)
    if existing:
        return JoinResult(JoinStatus.ALREADY_EMPLOYEE, existing)
    if not CODE_SHAPE.fullmatch(code):
        # Not one we made: a 300-character paste would fail the column's length check in the
        # look-up (and a NUL byte PostgreSQL's text), leaving the user without an answer.
        return JoinResult(JoinStatus.INVALID)
    now = crm.now()
    async with in_transaction():
        invite = await Invite.get_or_none(code=code)
        if invite is None or invite.expires_at <= now:
            return JoinResult(JoinStatus.INVALID)
        # Marking the code used is the guard: of two simultaneous redeemers one updates a row.
        if not await Invite.filter(id=invite.id, used_at=None).update(used_at=now):
            return JoinResult(JoinStatus.INVALID)
        if invite.employee_id is not None:  # type: ignore[attr-defined]
            # Made without Telegram (add_employee): this account is his from now on.
            employee = await Employee.get(id=invite.employee_id)  # type: ignore[attr-defined]
            employee.update_from_dict(
                {"tg_id": user.id, "username": user.username, "lang": user.lang,
                 "reachable": True}
            )
            await employee.save(update_fields=["tg_id", "username", "lang", "reachable"])
        else:
            employee = await Employee.create(
                tg_id=user.id, name=user.name, username=user.username, role=invite.role,
                team=invite.team, sip_ext=invite.sip_ext, lang=user.lang,
                tz=crm.playbook.working_hours.timezone,
            )
        await Invite.filter(id=invite.id).update(used_by_id=employee.id)
    return JoinResult(JoinStatus.JOINED, employee)


async def set_language(employee: Employee, lang: str) -> None:
    """The language the employee chose for the bot; it wins over his Telegram client's."""
    if lang not in SUPPORTED_LANGS:
        raise ValueError(f"unsupported language {lang!r}")
    await Employee.filter(id=employee.id).update(lang=lang)
    employee.lang = lang


async def set_conveyor(employee: Employee, on: bool) -> None:
    """Conveyor mode: the rep's next card comes by itself after each outcome."""
    await Employee.filter(id=employee.id).update(conveyor=on)
    employee.conveyor = on


async def employee_by_tg(tg_id: int) -> Employee | None:
    return await targets.active_employee_by_tg(tg_id)


async def overseers(team: str) -> list[int]:
    """Who hands out a team's work: its active supervisors who can be reached, else the admins."""
    for found in (
        Employee.filter(team=team, role=Role.SUPERVISOR),
        Employee.filter(role=Role.ADMIN),
    ):
        ids = await found.filter(active=True, reachable=True).order_by("id").values_list(
            "id", flat=True
        )
        if ids:
            return [int(i) for i in ids]  # type: ignore[call-overload]
    return []


async def mark_unreachable(tg_id: int) -> list[Notice]:
    """A 403 from his chat: he blocked the bot. He gets no pushes, leads or claims until he
    writes again; the first 403 of a spell tells his team's overseers (once across processes:
    the conditional update is the claim), with how many of his open tasks wait."""
    employee = await Employee.get_or_none(tg_id=tg_id, active=True)
    if employee is None or not await Employee.filter(id=employee.id, reachable=True).update(
        reachable=False
    ):
        return []
    waiting = await Task.filter(assignee_id=employee.id, status=TaskStatus.OPEN).count()
    params: dict[str, str | int | None] = {"rep_id": employee.id, "waiting": waiting}
    return [
        Notice(boss, NoticeKind.UNREACHABLE, params=params)
        for boss in await overseers(employee.team) if boss != employee.id
    ]


async def mark_reachable(employee: Employee) -> bool:
    """He wrote or pressed: the bot can reach him again; his due cards go out on the next tick
    (the clock skips them while he is unreachable). True if he was unreachable."""
    if employee.reachable:
        return False
    employee.reachable = True
    return bool(await Employee.filter(id=employee.id, reachable=False).update(reachable=True))


async def waiting_work(crm: Crm, employee_id: int, limit: int) -> list[Task]:
    """An employee's open tasks due now, most overdue first: what a reassignment would save."""
    return await (
        Task.filter(assignee_id=employee_id, status=TaskStatus.OPEN, due_at__lte=crm.now())
        .order_by("due_at", "id")
        .limit(limit)
        .select_related("deal__contact")
    )
