"""Fixtures of the mail tests: real dovecot and an SMTP server (tests/mail/servers.py), and the
end-to-end harness (tests/e2e/conftest.py) for the tests that go through the bot."""

from tests.e2e.conftest import make_harness
from tests.mail.servers import dovecot, smtp_sink

__all__ = ["dovecot", "make_harness", "smtp_sink"]
