"""Employees join by one-time invite codes; everybody else who writes to the bot is a client."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise.transactions import in_transaction

from config.settings import SUPPORTED_LANGS
from crm.context import Crm
from crm.notices import Notice, NoticeKind
from storage import queries
from storage.models import Employee, Invite, Role, Task, TaskStatus

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


async def create_invite(
    crm: Crm, role: Role, team: str = "main", sip_ext: str | None = None
) -> Invite:
    now = crm.now()
    return await Invite.create(
        code=secrets.token_urlsafe(12), role=role, team=team, sip_ext=sip_ext,
        created_at=now, expires_at=now + INVITE_TTL,
    )


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
    return await queries.active_employee_by_tg(tg_id)


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
