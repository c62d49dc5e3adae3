"""What every `nextstep` command does when something outside the program fails.

The database, Telegram, a port or a file refusing is not a bug: the user gets one line that
names the cause and the setting to change, and a non-zero exit code, never a traceback. Every
command runs through `run_command`, so the mapping lives here once. A command that fails
also removes the SQLite database it created, so a failed start leaves nothing behind.
"""

from __future__ import annotations

import argparse
import errno
import os
import sqlite3
import sys
import traceback
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from tortoise.backends.base.config_generator import expand_db_url

from config.playbook import PlaybookError
from config.settings import Settings, SettingsError
from crm.staff import StaffError
from storage.db import normalize_url, remove_created_databases

UNAVAILABLE = 1  # exit code: something outside the program failed
BAD_SETTING = 2  # exit code: a setting or option to fix (as argparse's usage errors)
DATABASE = "NEXTSTEP_DATABASE_URL"


@dataclass(frozen=True)
class Failure:
    cause: str
    setting: str = ""  # the setting or option to change; empty when the cause names it
    exit_code: int = UNAVAILABLE

    def line(self) -> str:
        return f"nextstep: {self.cause}" + (f"; check {self.setting}" if self.setting else "")


def run_command(
    command: Coroutine[Any, Any, int], args: argparse.Namespace, settings: Settings
) -> int:
    """Run a command to its exit code; an outside failure ends it with one line on stderr."""
    code = UNAVAILABLE
    try:
        # uvloop: the event loop, sockets and timers in C (in the webhook bench's profile of the
        # bot, asyncio's own Python was 14% of its CPU)
        code = int(uvloop.run(command))
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        failure = explain(exc, args, settings)
        if failure is None:
            raise  # a bug: its traceback is what a report needs
        print(failure.line(), file=sys.stderr)
        code = failure.exit_code
    finally:
        if code != 0:
            remove_created_databases()
    return code


def explain(
    exc: BaseException, args: argparse.Namespace, settings: Settings
) -> Failure | None:
    """The failure outside the program behind `exc` (or what it was raised from), if it is one."""
    for link in _chain(exc):
        failure = _explain(link, args, settings)
        if failure is not None:
            return failure
    return None


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _explain(
    exc: BaseException, args: argparse.Namespace, settings: Settings
) -> Failure | None:
    if isinstance(exc, SettingsError | PlaybookError | StaffError):
        return Failure(str(exc), exit_code=BAD_SETTING)
    # aiogram and asyncpg load only in the commands that use them (a light command starts in
    # well under a second): where one is not loaded, none of its errors can have been raised.
    if "aiogram.exceptions" in sys.modules:
        failure = _telegram_failure(exc, settings)
        if failure is not None:
            return failure
    if "asyncpg" in sys.modules:
        failure = _postgres_failure(exc, settings)
        if failure is not None:
            return failure
    if isinstance(exc, sqlite3.OperationalError) and _sqlite_path(settings) is not None:
        if "unable to open" in str(exc) or "readonly" in str(exc):
            return _sqlite_failure(settings, str(exc))
        if "locked" in str(exc):
            return Failure(f"the SQLite database {_sqlite_path(settings)} is busy in another "
                           f"process ({exc})", DATABASE)
        return None
    if isinstance(exc, OSError):
        return _os_failure(exc, args, settings)
    return None


def _telegram_failure(exc: BaseException, settings: Settings) -> Failure | None:
    from aiogram.exceptions import (
        ClientDecodeError,
        TelegramAPIError,
        TelegramNetworkError,
        TelegramUnauthorizedError,
    )

    if isinstance(exc, TelegramUnauthorizedError):
        tokens = "NEXTSTEP_BOT_TOKEN" + (
            " or NEXTSTEP_CLIENT_BOT_TOKEN" if settings.client_bot_token else ""
        )
        return Failure("Telegram refused the bot token (401 Unauthorized)", tokens)
    api = f"the Bot API at {settings.telegram_api}"
    if isinstance(exc, TelegramNetworkError):
        return Failure(f"cannot reach {api} ({_reason(exc)})", "NEXTSTEP_TELEGRAM_API")
    if isinstance(exc, TelegramAPIError | ClientDecodeError):
        return Failure(f"{api} answered: {exc.message}", "NEXTSTEP_TELEGRAM_API")
    return None


def _postgres_failure(exc: BaseException, settings: Settings) -> Failure | None:
    import asyncpg

    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return Failure(f"PostgreSQL at {_server(settings)}: {exc}", DATABASE)
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return Failure(f"PostgreSQL at {_server(settings)} refused the login: {exc}", DATABASE)
    return None


def _os_failure(exc: OSError, args: argparse.Namespace, settings: Settings) -> Failure | None:
    if _raised_in(exc, "asyncpg"):
        return Failure(f"cannot reach PostgreSQL at {_server(settings)} ({_reason(exc)})",
                       DATABASE)
    if exc.filename is None and _errno(exc) in (errno.EADDRINUSE, errno.EADDRNOTAVAIL,
                                                errno.EACCES):
        # Only the web server (on aiohttp) and the SIP listener (telephony/) bind.
        if _raised_in(exc, "telephony") and settings.sip_listen:
            return Failure(f"cannot listen for SIP on {settings.sip_listen}: "
                           f"{_reason(exc)}", "NEXTSTEP_SIP_LISTEN")
        if _raised_in(exc, "aiohttp"):
            return Failure(f"cannot serve the web on {settings.web_listen}: {_reason(exc)}",
                           "NEXTSTEP_WEB_LISTEN")
    if exc.filename is not None:
        path = Path(str(exc.filename)).absolute()
        database = _sqlite_path(settings)
        if database is not None and path in (database, database.parent):
            return _sqlite_failure(settings, _reason(exc))
        for option, value in _paths(args, settings):
            if path == Path(value).absolute():
                return Failure(f"cannot use {path}: {_reason(exc)}", option)
    return None


def _sqlite_failure(settings: Settings, reason: str) -> Failure:
    path = _sqlite_path(settings)
    assert path is not None
    folder = path.parent
    if not folder.is_dir():
        cause = f"the folder {folder} of the SQLite database does not exist"
    else:
        cause = f"cannot write the SQLite database {path}: {reason} (is {folder} read-only?)"
    return Failure(cause, DATABASE)


def _paths(args: argparse.Namespace, settings: Settings) -> Iterator[tuple[str, str]]:
    """The paths a user gave, with the option or setting that gave each."""
    for option, attr in (("-o/--output", "output"), ("--png", "png"), ("FILE", "file")):
        value = getattr(args, attr, None)
        if value and value != "-":
            yield option, value
    if settings.playbook is not None:
        yield "NEXTSTEP_PLAYBOOK", str(settings.playbook)


def _sqlite_path(settings: Settings) -> Path | None:
    config = expand_db_url(normalize_url(settings.database_url))
    if config["engine"] != "tortoise.backends.sqlite":
        return None
    return Path(config["credentials"]["file_path"]).absolute()


def _server(settings: Settings) -> str:
    credentials = expand_db_url(normalize_url(settings.database_url))["credentials"]
    return f"{credentials.get('host')}:{credentials.get('port')}"


def _reason(exc: BaseException) -> str:
    """The innermost system error's words ("connection refused"), else the exception's."""
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno:
            # asyncio and aiohttp put addresses in strerror; the settings named show them
            words = link.strerror if link.errno < 0 else os.strerror(link.errno)  # < 0: DNS
            return str(words).lower()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _errno(exc: BaseException) -> int | None:
    """The innermost system error's number: uvloop raises an OSError of its own, without one
    ("could not bind to local_addr"), from the socket's."""
    return next((e.errno for e in _chain(exc) if isinstance(e, OSError) and e.errno), None)


def _raised_in(exc: BaseException, package: str) -> bool:
    return any(
        f"/{package}/" in frame.f_code.co_filename
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )

