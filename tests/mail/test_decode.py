"""Letters as clients' mail programs send them: multipart, quoted-printable, base64, Russian
charsets, encoded-word headers, HTML only, attachments; and broken ones, which are refused with
MalformedLetter and never anything else (hypothesis)."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.mail import IncomingLetter
from mail.decode import MalformedLetter, decode, html_to_text


def read(raw: bytes) -> IncomingLetter:
    return decode(raw, "box", 7, 1)


def test_koi8r_quoted_printable_with_encoded_word_headers() -> None:
    raw = (
        "From: =?koi8-r?B?" + base64.b64encode("Анна".encode("koi8-r")).decode() + "?= "
        "<Anna@Client.Example>\r\n"
        "Subject: =?koi8-r?Q?" + "".join(f"={b:02X}" for b in "Счёт".encode("koi8-r"))
        + "?=\r\nMessage-ID: <1@client>\r\n"
        "Content-Type: text/plain; charset=koi8-r\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + "".join(f"={b:02X}" for b in "Пришлите счёт".encode("koi8-r")) + "\r\n"
    ).encode("ascii")
    letter = read(raw)
    assert letter.sender == "anna@client.example"
    assert letter.sender_name == "Анна"
    assert letter.subject == "Счёт"
    assert letter.text == "Пришлите счёт"
    assert letter.message_id == "<1@client>"


def test_cp1251_html_only_base64_with_an_attachment() -> None:
    html = "<html><head><style>p{}</style></head><body><p>Добрый&nbsp;день!</p>" \
           "<div>Договор <b>во вложении</b></div><script>x()</script></body></html>"
    raw = (
        b"From: client@example.com\r\nSubject: =?windows-1251?B?"
        + base64.b64encode("Договор".encode("cp1251")) + b"?=\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
        b"Content-Type: text/html; charset=windows-1251\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\n" + base64.b64encode(html.encode("cp1251")) + b"\r\n--XX\r\n"
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
        b"filename*=utf-8''%D0%B4%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--XX--\r\n"
    )
    letter = read(raw)
    assert letter.subject == "Договор"
    assert letter.text == "Добрый день!\n\nДоговор во вложении"
    assert letter.attachments == ("договор.pdf",)


def test_plain_text_wins_over_html_in_an_alternative() -> None:
    message = EmailMessage()
    message["From"] = "Boris <boris@example.com>"
    message["Subject"] = "Заказ"
    message["References"] = "<a@x> <b@x>"
    message["In-Reply-To"] = "<b@x>"
    message.set_content("Текст письма\n\nвторая строка")
    message.add_alternative("<p>HTML</p>", subtype="html")
    letter = read(message.as_bytes(policy=SMTP))
    assert letter.text == "Текст письма\n\nвторая строка"
    assert letter.references == "<a@x> <b@x>"


def test_reply_to_is_where_answers_go() -> None:
    raw = b"From: robot@shop.example\r\nReply-To: Anna <anna@client.example>\r\n\r\nhi\r\n"
    assert read(raw).sender == "anna@client.example"


def test_an_unknown_charset_is_read_with_replacement_characters() -> None:
    raw = (b"From: a@b.example\r\nSubject: =?x-unknown?Q?abc?=\r\n"
           b"Content-Type: text/plain; charset=x-unknown\r\n\r\nhello \xff\xfe\r\n")
    letter = read(raw)
    assert letter.text.startswith("hello")


@pytest.mark.parametrize("raw", [
    b"", b"   \r\n", b"Subject: no sender\r\n\r\nbody", b"From: <<<@@@>>>\r\n\r\n",
    b"\x00\xff\xfe garbage",
])
def test_what_is_not_a_letter_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedLetter):
        read(raw)


def test_html_to_text_keeps_lines_and_drops_scripts() -> None:
    assert html_to_text("<p>a</p><p>b<br>c</p><script>x</script>&amp;") == "a\n\nb\nc\n&"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_decode_or_are_refused(raw: bytes) -> None:
    try:
        letter = read(raw)
    except MalformedLetter:
        return
    assert "@" in letter.sender


# What people type: no control characters or line separators (a header cannot hold them).
_TYPED = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"))
_HEADER = st.text(_TYPED, max_size=60)


@settings(max_examples=200, deadline=None)
@given(subject=_HEADER, body=st.text(st.one_of(_TYPED, st.just("\n")), max_size=500),
       charset=st.sampled_from(["utf-8", "koi8-r", "cp1251"]),
       cte=st.sampled_from(["quoted-printable", "base64", "8bit"]))
def test_what_a_mail_program_writes_comes_back(
    subject: str, body: str, charset: str, cte: str
) -> None:
    try:
        body.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    message = EmailMessage()
    message["From"] = "Anna <anna@client.example>"
    message["Subject"] = subject.replace("\r", " ").replace("\n", " ")
    message.set_content(body, charset=charset, cte=cte)
    letter = read(message.as_bytes(policy=SMTP))
    assert letter.sender == "anna@client.example"
    assert letter.subject == " ".join(message["Subject"].split())
    assert letter.text == body.replace("\r\n", "\n").replace("\r", "\n").strip() or (
        not body.strip()
    )
