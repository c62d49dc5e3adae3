"""`nextstep migrate | invite | employees`."""

from __future__ import annotations

import argparse

from cli.common import crm_session
from cli.progress import busy
from config.settings import Settings
from crm.staff import create_invite, invite_link
from storage.db import migrate
from storage.models import Employee, Role


async def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "migrate":
        async with busy("migrating"):
            applied = await migrate(settings.database_url)
        print("applied: " + ", ".join(applied) if applied else "nothing to apply")
        return 0
    async with crm_session(settings) as crm:
        if args.command == "invite":
            invite = await create_invite(crm, Role(args.role), args.team, args.sip_ext)
            print(f"code:    {invite.code}")
            print(f"link:    {invite_link(settings.bot_username, invite.code)}")
            print(f"expires: {invite.expires_at:%Y-%m-%d %H:%M} UTC (one use)")
            return 0
        rows = await Employee.all().order_by("id")
        print(f"{'id':>4}  {'role':<10} {'team':<10} {'ext':<6} {'shift':<5} {'telegram':<12} name")
        for e in rows:
            shift = "on" if e.on_shift else "off"
            print(
                f"{e.id:>4}  {e.role:<10} {e.team:<10} {e.sip_ext or '-':<6} {shift:<5} "
                f"{e.tg_id or '-'!s:<12} {e.name}"
            )
        return 0
