"""The services the selected tests need, checked once before any of them runs (a pytest plugin,
loaded by tests/conftest.py).

A test says what it needs by a marker: ``postgres``, ``redis``, ``sip`` (kamailio and sipp),
``dovecot`` (dovecot-imapd: dovecot, dovecot-lda, doveadm), ``workers`` (nginx, pgbouncer,
redis-server and openssl, for tests/scale) or ``browser`` (Debian's chromium; every test using a
``browser`` fixture is marked so here);
a test parametrized "postgres" (the store's ``db_url``, the benches' ``kind``) is marked
``postgres`` here, so ``-m "not postgres"`` leaves them all out. A missing service ends the run
with one line per service saying what to install or start, instead of a fixture error per test;
it never skips: CI must not pass without the tests that need it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import asyncpg
import pytest
from redis import Redis
from redis.exceptions import RedisError

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"
PROBE_SECONDS = 3
SIP_BINARIES = (("kamailio", "kamailio"), ("sipp", "sip-tester"))  # binary, Debian package
DOVECOT_BINARIES = ("/usr/sbin/dovecot", "/usr/lib/dovecot/dovecot-lda", "/usr/bin/doveadm")
WORKER_BINARIES = (
    ("/usr/sbin/nginx", "nginx"), ("/usr/sbin/pgbouncer", "pgbouncer"),
    ("redis-server", "redis-server"), ("openssl", "openssl"),
)
BROWSER_BINARIES = (("/usr/bin/chromium", "chromium"),)


def _why(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _pg_ping(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=PROBE_SECONDS)
    await conn.close()


def postgres_problem() -> str | None:
    where = urlsplit(POSTGRES)
    try:
        # A loop of its own: pytest-asyncio may have one running in this thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _pg_ping(POSTGRES)).result()
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        return (
            f"PostgreSQL is not reachable at {where.hostname}:{where.port} as user "
            f"{where.username} ({_why(error)}): install and start it (apt-get install "
            f"postgresql; service postgresql start) and let {where.username} in without a password"
        )
    return None


def redis_problem() -> str | None:
    where = urlsplit(REDIS)
    client = Redis.from_url(REDIS, socket_connect_timeout=PROBE_SECONDS)
    try:
        client.ping()
    except (OSError, RedisError) as error:
        return (
            f"Redis is not reachable at {where.hostname}:{where.port} ({_why(error)}): install "
            "and start it (apt-get install redis-server; service redis-server start)"
        )
    finally:
        client.close()
    return None


def sip_problem(binaries: tuple[tuple[str, str], ...] = SIP_BINARIES) -> str | None:
    missing = {binary: package for binary, package in binaries if not shutil.which(binary)}
    if not missing:
        return None
    verb = "is" if len(missing) == 1 else "are"
    packages = " ".join(missing.values())
    return f"{' and '.join(missing)} {verb} not installed: apt-get install {packages}"


def dovecot_problem() -> str | None:
    missing = [path for path in DOVECOT_BINARIES if not shutil.which(path)]
    if not missing:
        return None
    return f"{', '.join(missing)} not installed: apt-get install dovecot-imapd"


# Marker: the check that says why the service is missing, or None.
CHECKS: dict[str, Callable[[], str | None]] = {
    "postgres": postgres_problem,
    "redis": redis_problem,
    "sip": sip_problem,
    "dovecot": dovecot_problem,
    "workers": lambda: sip_problem(WORKER_BINARIES),
    "browser": lambda: sip_problem(BROWSER_BINARIES),
}


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "postgres: needs PostgreSQL on 127.0.0.1:5432",
        "redis: needs Redis on 127.0.0.1:6379",
        "sip: needs kamailio and sipp",
        "dovecot: needs dovecot-imapd (dovecot, dovecot-lda, doveadm)",
        "workers: needs nginx, pgbouncer, redis-server and openssl",
        "browser: needs Debian's chromium at /usr/bin/chromium",
    ):
        config.addinivalue_line("markers", line)


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so it sees the marker added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker(pytest.mark.postgres)
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    needed = [name for name in CHECKS if any(i.get_closest_marker(name) for i in session.items)]
    problems = [problem for name in needed if (problem := CHECKS[name]())]
    if problems:
        pytest.exit("\n".join(problems), returncode=pytest.ExitCode.TESTS_FAILED)
