"""The CLI explains itself: --help for the program and each command, `nextstep settings`, and
the staff commands an admin uses without Telegram (`employees add | disable`)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bot.callbacks import Kind
from cli.main import COMMANDS, build_parser
from config.playbook import load_playbook
from config.settings import Settings
from crm.clock import SystemClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from storage.models import Deal, Employee, Role
from tests.test_settings_and_cli import nextstep


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command and action parser below `parser`, by its prog."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += [(child.prog, child), *_subparsers(child)]
    return found


async def test_help_says_what_nextstep_is_and_lists_every_command(tmp_path: Path) -> None:
    code, out, err = await nextstep("--help", cwd=tmp_path)
    assert code == 0, err
    assert "CRM" in out and "Telegram" in out
    lines = out.splitlines()
    for command in COMMANDS:
        [line] = [line for line in lines if re.match(rf"\s+{re.escape(command)}\s", line)]
        assert len(line.split()) > 2, f"{command} has no description: {line!r}"


def test_every_command_has_a_description_and_every_option_a_help() -> None:
    top = build_parser()
    parsers = _subparsers(top)
    assert {prog.split()[1] for prog, _ in parsers} == set(COMMANDS)
    parsers.append(("nextstep", top))
    for prog, parser in parsers:
        assert parser.description, f"{prog} has no description"
        for action in parser._actions:
            assert action.help, f"{prog} {action.option_strings or action.dest} has no help"


async def test_report_help_lists_the_kinds(tmp_path: Path) -> None:
    code, out, err = await nextstep("report", "--help", cwd=tmp_path)
    assert code == 0, err
    assert all(kind in out for kind in Kind)
    code, _, err = await nextstep("report", "nonsense", cwd=tmp_path)
    assert code == 2 and "nonsense" in err and "dialing" in err


async def test_settings_lists_every_variable_with_its_source_and_masks_secrets(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        "NEXTSTEP_BOT_TOKEN=123456:TokenTail\nNEXTSTEP_LOCALE=en\nNEXTSTEP_TIMEZONE=UTC\n",
        encoding="utf-8",
    )
    code, out, err = await nextstep(
        "settings", cwd=tmp_path, NEXTSTEP_TIMEZONE="Asia/Tokyo",
        NEXTSTEP_DATABASE_URL="postgres://crm:hunter2@db.local:5432/crm",
        NEXTSTEP_WEBHOOK_SECRET="s3cr3t",
        NEXTSTEP_IMAP="imap://a:pass1@h/INBOX imaps://b:pass2@h2",
    )
    assert code == 0, err
    rows = {}
    for line in out.splitlines():
        name, rest = line.split("=", 1)
        value, source = rest.rsplit("  ", 1)
        rows[name] = (value, source)
    assert set(rows) == {f"NEXTSTEP_{name.upper()}" for name in Settings.model_fields}
    assert rows["NEXTSTEP_TIMEZONE"] == ("Asia/Tokyo", "(environment)")  # env beats .env
    assert rows["NEXTSTEP_LOCALE"] == ("en", "(.env)")
    assert rows["NEXTSTEP_WEB_LISTEN"] == ("127.0.0.1:8080", "(default)")
    assert rows["NEXTSTEP_DATABASE_URL"] == ("postgres://crm:****@db.local:5432/crm",
                                             "(environment)")
    assert rows["NEXTSTEP_BOT_TOKEN"] == ("****", "(.env)")
    assert rows["NEXTSTEP_WEBHOOK_SECRET"] == ("****", "(environment)")
    assert rows["NEXTSTEP_IMAP"] == ("imap://a:****@h/INBOX imaps://b:****@h2", "(environment)")
    assert "TokenTail" not in out and "hunter2" not in out and "s3cr3t" not in out
    assert "pass1" not in out and "pass2" not in out


async def test_employees_add_list_and_disable(db_url: str, tmp_path: Path) -> None:
    env = {"NEXTSTEP_DATABASE_URL": db_url, "NEXTSTEP_BOT_USERNAME": "acme_bot"}
    code, out, err = await nextstep(
        "employees", "add", "--name", "Olga Sip", "--role", "rep", "--sip-ext", "101",
        "--team", "north", cwd=tmp_path, **env,
    )
    assert code == 0, err
    olga = await Employee.get(name="Olga Sip")
    assert (olga.sip_ext, olga.team, olga.tg_id, olga.active) == ("101", "north", None, True)
    link = next(line for line in out.splitlines() if line.startswith("link:"))
    assert "https://t.me/acme_bot?start=" in link
    code, _, err = await nextstep(
        "employees", "add", "--name", "Twin", "--role", "rep", "--sip-ext", "101",
        cwd=tmp_path, **env,
    )
    assert code == 2 and err.count("\n") == 1 and "101" in err

    await Employee.create(tg_id=9001, name="Gone Rep", role=Role.REP, team="north",
                          reachable=False)
    code, out, err = await nextstep("employees", cwd=tmp_path, **env)
    assert code == 0, err
    lines = out.splitlines()
    assert next(x for x in lines if "Olga Sip" in x).split()[1:7] == [
        "rep", "north", "101", "on", "-", "no-telegram"
    ]
    assert "unreachable" in next(x for x in lines if "Gone Rep" in x)
    invites = lines[lines.index("pending invites:") + 2:]
    assert len(invites) == 1 and invites[0].endswith("Olga Sip")

    crm = Crm(load_playbook(), SystemClock())
    deal = (await quick_add(crm, ContactDraft("client", ("+74951111111",)), owner_id=olga.id,
                            team="north")).deal
    assert deal is not None
    code, out, err = await nextstep("employees", "disable", "olga sip", cwd=tmp_path, **env)
    assert code == 0, err
    assert f"#{deal.id}" in out and "queue of team north" in out
    assert "extension 101 freed" in out and "1 pending invite cancelled" in out
    assert not (await Employee.get(id=olga.id)).active
    code, out, err = await nextstep("employees", cwd=tmp_path, **env)
    assert code == 0 and "pending invites:" not in out, err
    assert (await Deal.get(id=deal.id)).owner_id is None  # type: ignore[attr-defined]
    code, _, err = await nextstep("employees", "disable", "nobody", cwd=tmp_path, **env)
    assert code == 2 and "nobody" in err and err.count("\n") == 1
