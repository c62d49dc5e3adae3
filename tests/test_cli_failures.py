"""Every `nextstep` command that fails for a reason outside the program says so in one line
naming the cause and the setting to change, exits non-zero, shows no traceback and leaves
nothing behind in the current folder; the bot token is checked only by commands that use it."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import SettingsError, check_bot_tokens, load_settings
from tests.e2e.harness import free_port
from tests.fakes import FakeBotAPI
from tests.test_settings_and_cli import ROOT, nextstep

PG = "postgres://postgres@127.0.0.1:5432"


def one_line(code: int, err: str, *words: str) -> str:
    """The single stderr line of a failed command, checked to contain `words`."""
    assert code != 0, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores modes, not sysfs)."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.fixture
def taken_tcp_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def taken_udp_port() -> Iterator[int]:
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


# -- the database ---------------------------------------------------------------------------


async def test_postgres_unreachable(tmp_path: Path) -> None:
    url = f"postgres://postgres@127.0.0.1:{free_port()}/nextstep"
    code, _, err = await nextstep("employees", cwd=tmp_path, NEXTSTEP_DATABASE_URL=url)
    one_line(code, err, "NEXTSTEP_DATABASE_URL", "cannot reach PostgreSQL", "connection refused")


async def test_postgres_database_missing(tmp_path: Path) -> None:
    url = f"{PG}/nextstep_no_such_database"
    code, _, err = await nextstep("invite", "--role", "rep", cwd=tmp_path,
                                  NEXTSTEP_DATABASE_URL=url)
    one_line(code, err, "NEXTSTEP_DATABASE_URL", "nextstep_no_such_database", "does not exist")


async def test_postgres_login_refused(tmp_path: Path) -> None:
    # The test server trusts every password, so the refused login is a role it does not know.
    url = "postgres://nextstep_no_such_role:secret@127.0.0.1:5432/postgres"
    code, _, err = await nextstep("migrate", cwd=tmp_path, NEXTSTEP_DATABASE_URL=url)
    one_line(code, err, "NEXTSTEP_DATABASE_URL", "refused the login", "nextstep_no_such_role")


async def test_sqlite_folder_missing(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'missing' / 'db.sqlite3'}"
    code, _, err = await nextstep("employees", cwd=tmp_path, NEXTSTEP_DATABASE_URL=url)
    one_line(code, err, "NEXTSTEP_DATABASE_URL", f"{tmp_path / 'missing'}", "does not exist")
    assert left_in(tmp_path) == []


async def test_sqlite_folder_read_only(tmp_path: Path, unwritable_folder: Path) -> None:
    url = f"sqlite://{unwritable_folder / 'nextstep-test.sqlite3'}"
    code, _, err = await nextstep("calls", cwd=tmp_path, NEXTSTEP_DATABASE_URL=url)
    one_line(code, err, "NEXTSTEP_DATABASE_URL", str(unwritable_folder), "read-only")


# -- Telegram and ports (nextstep run) ------------------------------------------------------


async def run_failing(tmp_path: Path, **env: str) -> str:
    """`nextstep run` in an empty folder with the default database: one line, nothing left."""
    env.setdefault("NEXTSTEP_WEB_LISTEN", f"127.0.0.1:{free_port()}")
    code, _, err = await nextstep("run", cwd=tmp_path, **env)
    line = one_line(code, err)
    assert left_in(tmp_path) == [], "a failed start left files"
    return line


async def test_telegram_unreachable(tmp_path: Path) -> None:
    line = await run_failing(
        tmp_path, NEXTSTEP_BOT_TOKEN="123456:a-token", NEXTSTEP_TELEGRAM_API="http://telegram.invalid"
    )
    assert "cannot reach the Bot API at http://telegram.invalid" in line
    assert "NEXTSTEP_TELEGRAM_API" in line


async def test_bot_api_url_refusing_connections(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{free_port()}"
    line = await run_failing(tmp_path, NEXTSTEP_BOT_TOKEN="123456:a-token",
                             NEXTSTEP_TELEGRAM_API=api)
    assert f"cannot reach the Bot API at {api} (connection refused)" in line
    assert "NEXTSTEP_TELEGRAM_API" in line


async def test_token_refused(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        line = await run_failing(tmp_path, NEXTSTEP_BOT_TOKEN="123456:not-this-bots-token",
                                 NEXTSTEP_TELEGRAM_API=api.base_url)
    assert "401" in line and "NEXTSTEP_BOT_TOKEN" in line


async def test_web_port_in_use(tmp_path: Path, taken_tcp_port: int) -> None:
    async with FakeBotAPI() as api:
        # Fails after the store is open: the database it made is removed again.
        line = await run_failing(
            tmp_path, NEXTSTEP_BOT_TOKEN=api.token, NEXTSTEP_TELEGRAM_API=api.base_url,
            NEXTSTEP_WEB_LISTEN=f"127.0.0.1:{taken_tcp_port}",
        )
    assert f"127.0.0.1:{taken_tcp_port}" in line and "address already in use" in line
    assert "NEXTSTEP_WEB_LISTEN" in line


async def test_sip_port_in_use(tmp_path: Path, taken_udp_port: int) -> None:
    async with FakeBotAPI() as api:
        line = await run_failing(
            tmp_path, NEXTSTEP_BOT_TOKEN=api.token, NEXTSTEP_TELEGRAM_API=api.base_url,
            NEXTSTEP_SIP_LISTEN=f"127.0.0.1:{taken_udp_port}",
        )
    assert f"127.0.0.1:{taken_udp_port}" in line and "address already in use" in line
    assert "NEXTSTEP_SIP_LISTEN" in line


# -- options --------------------------------------------------------------------------------


async def test_export_output_not_writable(tmp_path: Path, unwritable_folder: Path) -> None:
    target = unwritable_folder / "deals.csv"
    code, _, err = await nextstep("export", "-o", str(target), cwd=tmp_path)
    one_line(code, err, str(target), "--output")
    assert left_in(tmp_path) == []


async def test_report_png_not_writable(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "funnel.png"
    code, _, err = await nextstep("report", "--png", str(target), cwd=tmp_path)
    one_line(code, err, str(target), "--png", "no such file or directory")


@pytest.mark.parametrize("last", ["-5", "0", "many"])
async def test_calls_last_out_of_range(tmp_path: Path, last: str) -> None:
    code, out, err = await nextstep("calls", "--last", last, cwd=tmp_path)
    one_line(code, err, "--last", "above 0", repr(last))
    assert out == ""


# -- the token ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("migrate",), ("invite", "--role", "rep"), ("employees",), ("export",),
        ("report", "--csv"), ("calls",), ("import", "contacts.csv"),
    ],
)
async def test_commands_that_do_not_talk_to_telegram_ignore_the_token(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "contacts.csv").write_text("name,phone\nAnna,+74951234567\n", encoding="utf-8")
    code, _, err = await nextstep(*args, cwd=tmp_path, NEXTSTEP_BOT_TOKEN="not-a-token")
    assert code == 0, err


async def test_run_checks_the_token_shape(tmp_path: Path) -> None:
    line = await run_failing(tmp_path, NEXTSTEP_BOT_TOKEN="not-a-token")
    assert "NEXTSTEP_BOT_TOKEN" in line


@pytest.mark.parametrize(
    "token",
    [
        "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",  # Telegram's documentation
        "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_",  # a ten-digit id of today's bots
        "1:A",
    ],
)
def test_every_token_shape_telegram_issues_passes(token: str) -> None:
    check_bot_tokens(load_settings(bot_token=token, client_bot_token=token))


def test_the_readme_example_token_passes_the_check() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tokens = re.findall(r"NEXTSTEP_BOT_TOKEN=(\S+)", readme)
    assert tokens
    for token in tokens:
        check_bot_tokens(load_settings(bot_token=token))


@pytest.mark.parametrize("token", ["not-a-token", "123456", ":abc", "12ab:xyz", "1:a b"])
def test_what_is_no_token_is_refused(token: str) -> None:
    with pytest.raises(SettingsError, match="NEXTSTEP_BOT_TOKEN"):
        check_bot_tokens(load_settings(bot_token=token))


async def test_a_successful_command_leaves_only_the_database(tmp_path: Path) -> None:
    code, _, err = await nextstep("migrate", cwd=tmp_path)
    assert code == 0, err
    assert left_in(tmp_path) == ["nextstep.sqlite3"]
