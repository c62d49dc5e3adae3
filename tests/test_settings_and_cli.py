"""The `nextstep` command as a user meets it: one clear line for a bad setting or playbook,
invites and the employee list on SQLite and PostgreSQL; and every UI string translated."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bot.catalogs import LOCALES_DIR, merge_po_files
from storage.models import Employee, Role

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "__": None, "gettext": None, "lazy_gettext": None}


async def nextstep(*args: str, cwd: Path, **env_vars: str) -> tuple[int, str, str]:
    """Run `nextstep ARGS` in a clean environment (no NEXTSTEP_* but these), bounded in time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env.update(env_vars, PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEXTSTEP_DATABASE_URL", "ftp://x"),
        ("NEXTSTEP_TIMEZONE", "Mars/Olympus_Mons"),
        ("NEXTSTEP_WEB_LISTEN", "localhost"),
        ("NEXTSTEP_SIP_HANDLERS", "0"),
        ("NEXTSTEP_CLIENT_BOT_TEAM", "t" * 65),
    ],
)
async def test_a_bad_setting_ends_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    code, out, err = await nextstep("employees", cwd=tmp_path, **{variable: value})
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert variable in lines[0]
    assert "Traceback" not in err and out == ""


DEFAULT_PLAYBOOK = (ROOT / "config" / "default_playbook.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ('timezone = "Europe/Moscow"', "timezone = "),  # not TOML
        ('timezone = "Europe/Moscow"', 'timezone = "Mars/Olympus_Mons"'),  # not a zone
    ],
)
async def test_a_broken_playbook_ends_with_one_line_with_file_and_line(
    tmp_path: Path, good: str, bad: str
) -> None:
    assert good in DEFAULT_PLAYBOOK
    text = DEFAULT_PLAYBOOK.replace(good, bad, 1)
    line = text[: text.index(bad)].count("\n") + 1
    playbook = tmp_path / "playbook.toml"
    playbook.write_text(text, encoding="utf-8")
    code, _, err = await nextstep(
        "employees", cwd=tmp_path, NEXTSTEP_PLAYBOOK=str(playbook),
        NEXTSTEP_DATABASE_URL=f"sqlite://{tmp_path / 'db.sqlite3'}",
    )
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"{playbook}:{line}:" in lines[0]


async def test_invite_prints_a_code_and_a_link_and_employees_lists(
    db_url: str, tmp_path: Path
) -> None:
    code, out, err = await nextstep(
        "invite", "--role", "rep", "--sip-ext", "101", cwd=tmp_path,
        NEXTSTEP_DATABASE_URL=db_url, NEXTSTEP_BOT_USERNAME="acme_sales_bot",
    )
    assert code == 0, err
    fields = dict(line.split(":", 1) for line in out.splitlines())
    invite_code = fields["code"].strip()
    assert invite_code
    assert fields["link"].strip() == f"https://t.me/acme_sales_bot?start={invite_code}"

    await Employee.create(tg_id=777_001, name="Irina Volkova", role=Role.SUPERVISOR,
                          team="north", sip_ext="205")
    code, out, err = await nextstep("employees", cwd=tmp_path, NEXTSTEP_DATABASE_URL=db_url)
    assert code == 0, err
    row = next(line for line in out.splitlines() if "Irina Volkova" in line)
    assert row.split()[1:5] == ["supervisor", "north", "205", "on"]


def test_every_ui_string_has_a_russian_translation() -> None:
    catalog = merge_po_files("ru", sorted((LOCALES_DIR / "ru" / "LC_MESSAGES").glob("*.po")))
    missing = []
    for package in ("bot", "handlers"):
        for filename, lineno, message, _, _ in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            if catalog.get(msgid) is None:
                missing.append(f"{package}/{filename}:{lineno}: {msgid!r}")
    assert not missing, "no Russian translation for:\n" + "\n".join(missing)


def test_the_catalogue_is_not_empty_so_the_check_above_can_fail() -> None:
    catalog = merge_po_files("ru", sorted((LOCALES_DIR / "ru" / "LC_MESSAGES").glob("*.po")))
    assert catalog.get("Cancelled, nothing changed.") is not None
    assert catalog.get("a string nobody translated") is None
