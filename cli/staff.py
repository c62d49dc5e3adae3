"""`nextstep migrate | invite | employees [add | disable]`."""

from __future__ import annotations

import argparse

from cli.common import crm_session
from cli.progress import busy
from config.settings import Settings
from crm.context import Crm
from crm.staff import (
    add_employee,
    create_invite,
    disable_employee,
    find_employee,
    invite_link,
    pending_invites,
)
from storage.db import migrate
from storage.models import Employee, Invite, Role


async def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "migrate":
        async with busy("migrating"):
            applied = await migrate(settings.database_url)
        print("applied: " + ", ".join(applied) if applied else "nothing to apply")
        return 0
    async with crm_session(settings) as crm:
        # A StaffError (a taken extension, an unknown name) ends in one line (cli.failures).
        if args.command == "invite":
            invite = await create_invite(crm, Role(args.role), args.team, args.sip_ext)
            _print_invite(invite, settings)
        elif getattr(args, "action", None) == "add":
            employee, invite = await add_employee(
                crm, args.name, Role(args.role), args.team, args.sip_ext
            )
            print(f"employee {employee.id}: {employee.name}, {employee.role} of team "
                  f"{employee.team}, extension {employee.sip_ext or '-'}")
            print("to link his Telegram account:")
            _print_invite(invite, settings)
        elif getattr(args, "action", None) == "disable":
            await _disable(crm, args.employee, args.to)
        else:
            await _list(crm)
    return 0


def _print_invite(invite: Invite, settings: Settings) -> None:
    print(f"code:    {invite.code}")
    print(f"link:    {invite_link(settings.bot_username, invite.code)}")
    print(f"expires: {invite.expires_at:%Y-%m-%d %H:%M} UTC (one use)")


async def _disable(crm: Crm, who: str, to: str | None) -> None:
    employee = await find_employee(who)
    colleague = await find_employee(to) if to else None
    done = await disable_employee(crm, employee, colleague)
    where = done.to.name if done.to else f"the queue of team {employee.team}"
    deals = ", ".join(f"#{d}" for d in done.deals) or "none"
    print(f"disabled {employee.name} (id {employee.id}); open deals moved to {where}: {deals}")
    if done.sip_ext:
        print(f"extension {done.sip_ext} freed: its calls are no longer his")
    if done.invites:
        print(f"{done.invites} pending invite{'s' if done.invites > 1 else ''} cancelled")


async def _list(crm: Crm) -> None:
    rows = await Employee.all().order_by("id")
    print(f"{'id':>4}  {'role':<10} {'team':<10} {'ext':<6} {'shift':<5} {'telegram':<12} "
          f"{'state':<11} name")
    for e in rows:
        shift = "on" if e.on_shift else "off"
        state = (
            "disabled" if not e.active else "no-telegram" if e.tg_id is None
            else "ok" if e.reachable else "unreachable"
        )
        print(
            f"{e.id:>4}  {e.role:<10} {e.team:<10} {e.sip_ext or '-':<6} {shift:<5} "
            f"{e.tg_id or '-'!s:<12} {state:<11} {e.name}"
        )
    invites = await pending_invites(crm)
    if not invites:
        return
    print("\npending invites:")
    print(f"{'code':<17} {'role':<10} {'team':<10} {'ext':<6} {'expires (UTC)':<16} for")
    names = dict(await Employee.all().values_list("id", "name"))  # type: ignore[arg-type]
    for i in invites:
        who = names.get(i.employee_id, "-") if i.employee_id else "a new employee"  # type: ignore[attr-defined]
        print(f"{i.code:<17} {i.role:<10} {i.team:<10} {i.sip_ext or '-':<6} "
              f"{i.expires_at:%Y-%m-%d %H:%M} {who}")
