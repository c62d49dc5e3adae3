"""Real mail servers on loopback for the tests: Debian's dovecot (IMAP, letters delivered with
dovecot-lda) started with a config written to a temporary folder, and an aiosmtpd SMTP server
that keeps what it receives. Both are stopped by their own handle, within a time bound.

As root, dovecot's login and internal processes run as its own dovenull/dovecot users and mail
as nobody (dovecot refuses root for both); otherwise everything runs as the current user.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.e2e.harness import free_port

DOVECOT = "/usr/sbin/dovecot"
LDA = "/usr/lib/dovecot/dovecot-lda"
DOVEADM = "/usr/bin/doveadm"
USER, PASSWORD = "sales", "secret"
START_SECONDS = 10
STOP_SECONDS = 10
COMMAND_SECONDS = 10

_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
first_valid_gid = 1
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:{root}/mail/%u
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def url(self, team: str = "", folder: str = "INBOX") -> str:
        query = f"?team={team}" if team else ""
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{folder}{query}"

    def deliver(self, letter: bytes | str, sender: str = "client@example.com") -> None:
        """Deliver a letter to the user's INBOX, as the MTA would."""
        data = letter.encode() if isinstance(letter, str) else letter
        subprocess.run(
            [LDA, "-c", str(self.config), "-d", USER, "-f", sender], input=data, check=True,
            timeout=COMMAND_SECONDS,
        )

    def kick(self) -> None:
        """Drop the user's IMAP connections, as a server restart or a network cut would."""
        subprocess.run([DOVEADM, "-c", str(self.config), "kick", USER], check=True,
                       capture_output=True, timeout=COMMAND_SECONDS)

    def kill_imap(self) -> None:
        """SIGKILL the user's imap processes (of this server's process group): no BYE."""
        assert self.process is not None
        found = subprocess.run(
            ["ps", "-o", "pid=,args=", "-g", str(self.process.pid)], capture_output=True,
            text=True, check=True, timeout=COMMAND_SECONDS,
        ).stdout
        for line in found.splitlines():
            pid, _, args = line.strip().partition(" ")
            if args.strip().startswith("dovecot/imap") and "login" not in args:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)

    def folder_files(self, folder: str = "INBOX") -> list[Path]:
        """The letters in a folder of the user's maildir (new and cur)."""
        base = self.root / "mail" / USER
        if folder != "INBOX":
            base = base / f".{folder}"
        return [p for sub in ("new", "cur") for p in sorted((base / sub).glob("*"))]

    def wipe_mailbox(self) -> None:
        """The user's maildir gone: the next session makes it anew, with a new UIDVALIDITY."""
        shutil.rmtree(self.root / "mail" / USER, ignore_errors=True)

    def start(self) -> None:
        uid, gid = os.getuid(), os.getgid()
        if uid == 0:
            nobody = pwd.getpwnam("nobody")
            mail_uid, mail_gid = nobody.pw_uid, nobody.pw_gid
            users = {"login_user": "dovenull", "internal_user": "dovecot",
                     "internal_group": "dovecot"}
        else:
            mail_uid, mail_gid = uid, gid
            me = pwd.getpwuid(uid).pw_name
            users = {"login_user": me, "internal_user": me,
                     "internal_group": _group_name(gid)}
        for sub in ("mail", "home"):
            (self.root / sub).mkdir()
            os.chown(self.root / sub, mail_uid, mail_gid)
        self.config.write_text(_CONFIG.format(
            root=self.root, port=self.port, password=PASSWORD, uid=mail_uid, gid=mail_gid,
            **users,
        ))
        self.start_again()

    def _wait_started(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot did not start: {self.log()}")
            if (self.root / "run" / "auth-userdb").exists() and _listening(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not listen within {START_SECONDS} s: {self.log()}")

    def start_again(self) -> None:
        """After stop(): the same server, port and mail, as after a restart."""
        # A session of its own: its group id is its PID, and stop() ends the whole group (the
        # master leaves its imap processes serving when it is told to stop).
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True,
        )
        self._wait_started()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # whatever of the group outlived the master


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    # Not under pytest's tmp_path: its parents are closed to the unprivileged mail user.
    root = Path(tempfile.mkdtemp(prefix="nextstep-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class SmtpSink:
    """What the test's SMTP server received, and a switch to refuse the next letters."""

    port: int
    received: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False

    def url(self, sender: str = "sales@example.com") -> str:
        return f"smtp://{USER}:{PASSWORD}@127.0.0.1:{self.port}?from={sender}"

    async def wait_for(self, count: int, seconds: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} letters received")
            await asyncio.sleep(0.05)
        return self.received


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        if self.sink.refuse:
            return "554 5.7.1 Rejected for the test"
        data = envelope.original_content or b""
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.received.append(message)
        return "250 OK"


def _authenticator(server: object, session: Session, envelope: Envelope, mechanism: str,
                   data: object) -> AuthResult:
    good = isinstance(data, LoginPassword) and data.login == USER.encode() and (
        data.password == PASSWORD.encode()
    )
    return AuthResult(success=good)


@pytest_asyncio.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink(free_port())
    controller = Controller(
        _Handler(sink), hostname="127.0.0.1", port=sink.port, authenticator=_authenticator,
        auth_require_tls=False, ready_timeout=START_SECONDS,
    )
    await asyncio.to_thread(controller.start)
    try:
        yield sink
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(controller.stop)
