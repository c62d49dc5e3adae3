"""NEXTSTEP_IMAP and NEXTSTEP_SMTP are read or refused in one line (no password in it); the
playbook's [mail] section is refused with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.mail import parse_mailboxes, parse_smtp
from config.playbook import DEFAULT_PLAYBOOK, PlaybookError, load_playbook
from config.settings import SettingsError, load_settings


def test_one_or_more_mailboxes_spaces_or_json() -> None:
    [one] = parse_mailboxes("imaps://sales%40firm.ru:p%40ss@imap.yandex.ru/INBOX?team=sales")
    assert (one.user, one.password, one.host, one.port, one.folder, one.team, one.tls) == (
        "sales@firm.ru", "p@ss", "imap.yandex.ru", 993, "INBOX", "sales", True
    )
    assert one.key == "sales@firm.ru@imap.yandex.ru:993/INBOX"
    two = parse_mailboxes("imap://a:b@h:1143 imap://c:d@h:1143/Leads")
    assert [(m.port, m.folder, m.tls) for m in two] == [
        (1143, "INBOX", False), (1143, "Leads", False)
    ]
    assert parse_mailboxes('["imap://a:b@h", "imaps://c:d@h"]')[1].port == 993
    assert parse_mailboxes("") == []


@pytest.mark.parametrize(("value", "message"), [
    ("http://a:b@h", "must start with imap:// or imaps://"),
    ("imap://h/INBOX", "needs user:password@host"),
    ("imap://a:secret@h:70000", "bad port"),
    ("imap://a:secret@h?tem=x", "unknown parameter 'tem'"),
    ('["imap://a:b@h", 1]', "must hold URL strings"),
    ("[not json", "not a JSON list"),
    ("imap://a:b@h imap://a:b@h", "named twice"),
])
def test_a_bad_mailbox_is_one_line_without_the_password(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, imap=value)
    text = str(caught.value)
    assert text.startswith("bad setting NEXTSTEP_IMAP: ") and message in text
    assert "secret" not in text and "\n" not in text


def test_smtp() -> None:
    smtp = parse_smtp("smtps://sales%40firm.ru:pw@smtp.yandex.ru")
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.tls, smtp.sender) == ("smtp.yandex.ru", 465, True,
                                                             "sales@firm.ru")
    plain = parse_smtp("smtp://user:pw@127.0.0.1:2525?from=sales@firm.ru")
    assert plain is not None and (plain.port, plain.tls, plain.sender) == (2525, False,
                                                                           "sales@firm.ru")
    assert parse_smtp("") is None
    with pytest.raises(SettingsError, match=r"NEXTSTEP_SMTP: .*set \?from=address"):
        load_settings(_env_file=None, smtp="smtp://user:secret@h")


@pytest.mark.parametrize(("line", "message"), [
    ('keywords_in_body = "maybe"', "mail.keywords_in_body"),
    ('answered_folder = ""', "mail.answered_folder"),
    ('answered_folder = "A\\"B"', "without quotes"),
    ("colour = 1", "mail.colour"),
])
def test_a_bad_mail_section_is_refused_with_file_and_line(
    tmp_path: Path, line: str, message: str
) -> None:
    text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
    at = text.index("[mail]\n") + len("[mail]\n")
    path = tmp_path / "playbook.toml"
    path.write_text(text[:at] + line + "\n" + text[at:].replace(
        line.split(" =")[0] + " =", "# " + line.split(" =")[0] + " =", 1
    ), encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    number = text[:at].count("\n") + 1
    assert f"{path}:{number}:" in str(caught.value) and message in str(caught.value)
