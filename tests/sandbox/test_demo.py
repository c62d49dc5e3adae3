"""`nextstep demo` end to end in headless chromium: the real bot, store, scheduler and SIP
listener behind the page, driven as a trainee would."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.sandbox.conftest import ARTIFACTS, ROOT, START_BOUND, Demo, open_page, read_line

SERGEY, IVAN, MARIA = 7002, 7003, 7004  # a supervisor, reps (ru; en, ext 102)
GLEB, SOPHIE = 8005, 8006  # clients who have not written yet (ru; en)


def be(page: Page, person: int) -> None:
    page.click(f"li.person[data-id='{person}']")


def say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def last_card(page: Page, no_answer: str = "Не дозвонился") -> str:
    """The id of the last card the rep can work on (it has the No answer button)."""
    card = page.locator(f"#messages .message.bot:has(button.inline:text-is('{no_answer}'))").last
    expect(card).to_be_visible()
    return card.get_attribute("id") or ""


def test_demo_prints_one_line_and_answers_on_its_url(demo: Demo) -> None:
    assert demo.first_line.strip() == f"nextstep demo: {demo.url}"
    with urllib.request.urlopen(demo.url, timeout=10) as response:
        assert response.status == 200
        assert b"nextstep" in response.read()
    assert read_line(demo.process, 1.0) == ""  # one line, nothing after it
    print(f"nextstep demo answered {demo.started_in:.1f} s after it was started")


def test_rep_presses_no_answer_then_busy_and_sees_the_next_step(
    demo: Demo, browser: Browser
) -> None:
    page = open_page(browser, demo)
    be(page, IVAN)
    say(page, "/next")
    card = page.locator(f"#{last_card(page)}")
    card.get_by_role("button", name="Не дозвонился").click()
    card.get_by_role("button", name="Занято").click()
    # The press closes the task and makes the next one: the card says when, in place.
    expect(card).to_contain_text(re.compile(r"Занято → [^\n]*\d\d:\d\d"))
    expect(card.get_by_role("button", name="Не дозвонился")).to_have_count(0)


def test_client_writes_and_the_lead_reaches_a_rep(demo: Demo, browser: Browser) -> None:
    page = open_page(browser, demo)
    be(page, GLEB)
    say(page, "Здравствуйте! Нужен счёт на 12 офисных кресел")
    expect(page.locator("#messages .message.mine").last).to_contain_text("офисных кресел")
    for rep in (IVAN, MARIA):
        be(page, rep)
        lead = page.locator("#messages .message.bot", has_text="Глеб Титов")
        if lead.count() == 0:
            page.wait_for_timeout(3000)
        if lead.count():
            expect(lead.last).to_contain_text("офисных кресел")
            return
    raise AssertionError("the new lead reached neither rep")


def test_busy_call_on_the_phone_presses_busy_on_the_card(demo: Demo, browser: Browser) -> None:
    page = open_page(browser, demo, locale="en-US")
    be(page, MARIA)
    say(page, "/next")
    card = page.locator(f"#{last_card(page, 'No answer')}")
    lines = card.inner_text().splitlines()
    at = next(i for i, line in enumerate(lines) if re.search(r"\+7[\d -]{10,}", line))
    name, digits = lines[at - 1].split("·")[0].strip(), re.sub(r"\D", "", lines[at])
    page.click("#phone-toggle")
    outbound = page.locator("form.phone-form[data-direction='out']")
    outbound.locator("select[name=number]").select_option(f"+{digits}")
    outbound.locator("select[name=outcome]").select_option("busy")
    outbound.get_by_role("button", name="Call").click()
    expect(page.locator("#toasts")).to_contain_text("SIP")
    # The listener read 486 Busy Here and pressed Busy for her: the card moves on by itself.
    result = page.locator("#messages .message.bot", has_text="Busy (SIP 486)")
    expect(result).to_contain_text(name)
    expect(result).to_contain_text(re.compile(r"Next call: [^\n]*\d\d:\d\d"))


def test_clients_call_a_rep_one_missed_one_answered(demo: Demo, browser: Browser) -> None:
    page = open_page(browser, demo)
    be(page, IVAN)
    page.click("#phone-toggle")
    inbound = page.locator("form.phone-form[data-direction='in']")
    inbound.locator("select[name=number]").select_option("+79161110013")  # Павел Соколов
    inbound.locator("select[name=outcome]").select_option("hang_up")
    inbound.get_by_role("button").click()
    # His deal with Павел was closed (refused): the missed call opens a new one for him to return.
    missed = page.locator("#messages .message.bot", has_text="Пропущенный звонок")
    expect(missed).to_contain_text("Павел Соколов")
    expect(missed).to_contain_text("Перезвонить на пропущенный")
    # Николай has an open deal of Иван's: its card pops up while the phone rings.
    inbound.locator("select[name=number]").select_option("+79161110011")
    inbound.locator("select[name=outcome]").select_option("answered")
    inbound.get_by_role("button").click()
    ringing = page.locator("#messages .message.bot", has_text="Входящий звонок")
    expect(ringing).to_contain_text("Николай Фёдоров")

def test_chat_at_360_pixels_screenshot(demo: Demo, browser: Browser) -> None:
    page = open_page(browser, demo, width=360)
    be(page, IVAN)
    say(page, "/today")
    expect(page.locator("#messages .message.bot").last).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing spills over
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "demo-chat-360.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")


def test_supervisor_gets_a_chart_as_a_picture_and_its_csv_as_a_download(
    demo: Demo, browser: Browser
) -> None:
    page = open_page(browser, demo)
    be(page, SERGEY)
    say(page, "/report")
    page.locator("#messages .message.bot").last.get_by_role("button", name="Воронка").click()
    page.locator("#messages .message.bot").last.get_by_role("button", name="30 дней").click()
    chart = page.locator("#messages img.photo").last
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    page.locator("#messages .message.bot:has(img.photo)").last.get_by_role(
        "button", name="CSV"
    ).click()
    link = page.locator("#messages a.document").last
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".csv")
    content = Path(download.value.path()).read_bytes()
    assert content.startswith("\ufeff".encode()) and ";" in content.decode("utf-8-sig")


def test_client_shares_his_phone_from_the_reply_keyboard_in_english(
    demo: Demo, browser: Browser
) -> None:
    page = open_page(browser, demo, locale="en-GB")
    assert page.get_attribute("#text", "placeholder") == "Message"  # the browser's language
    be(page, SOPHIE)
    say(page, "/start")
    share = page.locator("#reply-keyboard button.reply")
    expect(share).to_have_count(1)  # the bot's keyboard, in her Telegram language (en)
    share.click()
    expect(page.locator("#messages .message.mine .contact")).to_contain_text("+79161239906")
    ru = open_page(browser, demo)
    assert ru.get_attribute("#text", "placeholder") == "Сообщение"


def test_the_board_opens_from_the_chat_signed_as_telegram_signs_it(
    demo: Demo, browser: Browser
) -> None:
    page = open_page(browser, demo)
    be(page, IVAN)
    say(page, "/help")
    page.locator("#messages button.inline", has_text="Доска").last.click()
    board = page.frame_locator("#webapp-frame")
    expect(board.locator("body")).to_contain_text("Новый лид")  # his deals, by stage
    expect(board.locator("body")).to_contain_text("Иван Петров")
    page.click("#webapp-close")
    expect(page.locator("#webapp")).to_be_hidden()


def nextstep(demo: Demo, *args: str) -> str:
    """A `nextstep` command on the demo's store, as its admin runs it beside the demo."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=demo.db.parent, capture_output=True, text=True,
        timeout=START_BOUND, env={
            **os.environ, "PYTHONPATH": str(ROOT), "NEXTSTEP_DATABASE_URL": f"sqlite://{demo.db}",
            "NEXTSTEP_BOT_USERNAME": "nextstep_demo_bot",
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_new_person_opens_the_admins_invite_and_joins_as_a_rep(
    demo: Demo, browser: Browser
) -> None:
    made = re.search(r"^link:\s+(\S+)$", nextstep(demo, "invite", "--role", "rep"), re.M)
    assert made is not None
    link = made.group(1)
    assert link.startswith("https://t.me/nextstep_demo_bot?start=")
    page = open_page(browser, demo)
    page.click("#add-person")  # someone the bot has never seen
    page.fill("#new-name", "Олег Новиков")
    page.select_option("#new-person select[name=lang]", "ru")
    page.click("#new-submit")
    expect(page.locator("#chat-title")).to_have_text("Олег Новиков")
    expect(page.locator("li.person.active")).to_contain_text("новый")
    say(page, link)  # he pastes the link: Telegram opens the bot and starts it with the code
    expect(page.locator("#messages .message.mine").last).to_have_text(
        re.compile(r"^/start " + re.escape(link.split("start=")[1]))
    )
    welcome = page.locator("#messages .message.bot", has_text="Добро пожаловать")
    expect(welcome).to_contain_text("Олег Новиков")
    expect(welcome).to_contain_text("менеджер")
    [row] = [line for line in nextstep(demo, "employees").splitlines() if "Олег Новиков" in line]
    assert " rep " in row
    # No longer new on the page: a rep, in the list and over the chat.
    expect(page.locator("li.person.active .role")).to_have_text("менеджер")
    expect(page.locator("#chat-status")).to_have_text("менеджер · ru")
    # A link to the bot in a message's HTML or on a URL button opens it the same way (the code
    # is used by now: he is on the team already).
    already = page.locator("#messages .message.bot", has_text="Вы уже в команде")
    for shown, (html, buttons, target) in enumerate([
        ('`<a href="${link}">join</a>`', "[]", "a"),
        ('""', '[[{text: "Join", url: link}]]', "button.inline"),
    ], start=1):
        page.evaluate(f"""link => document.getElementById("messages").append(renderMessage({{
            id: 999999, out: false, date: Date.now() / 1000, edited: false, text: "Join",
            html: {html}, buttons: {buttons}}}))""", link)
        page.locator(f"#m-999999 {target}").click()
        expect(already).to_have_count(shown)
    assert len(page.context.pages) == 1  # nothing opened in a new tab


def test_a_new_person_who_writes_to_the_bot_is_a_client(demo: Demo, browser: Browser) -> None:
    page = open_page(browser, demo)
    page.click("#add-person")
    page.fill("#new-name", "Вера Новикова")
    page.click("#new-submit")
    expect(page.locator("li.person.active .role")).to_have_text("новый")
    say(page, "Здравствуйте, сколько стоит доставка?")
    expect(page.locator("li.person.active .role")).to_have_text("клиент")

def test_fast_clock_brings_the_card_back_five_minutes_after_busy(
    demo: Demo, browser: Browser
) -> None:
    """The demo runs fast from here on: the tests after this one do not care about time."""
    page = open_page(browser, demo)
    be(page, IVAN)
    page.select_option("#speed", "60")
    say(page, "/next")
    card = page.locator(f"#{last_card(page)}")
    name = card.inner_text().split("·")[0].strip().splitlines()[-1]
    card.get_by_role("button", name="Не дозвонился").click()
    card.get_by_role("button", name="Занято").click()
    expect(card).to_contain_text("Занято →")
    shown = page.locator("#messages .message.bot", has_text=name).count()
    # The ladder's 5 minutes pass in 5 seconds: the scheduler pushes the deal's card again.
    expect(page.locator("#messages .message.bot", has_text=name)).to_have_count(
        shown + 1, timeout=40_000
    )


def test_a_taken_listen_address_is_one_line_and_leaves_no_database(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cli", "demo", "--db", str(tmp_path / "demo.sqlite3"),
             "--listen", f"127.0.0.1:{port}"],
            cwd=tmp_path, capture_output=True, text=True, timeout=START_BOUND,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"nextstep: --listen 127.0.0.1:{port}: ") and "in use" in line
    assert list(tmp_path.iterdir()) == []


def test_bad_requests_to_the_page_get_a_clear_answer(demo: Demo) -> None:
    def post(path: str, body: bytes) -> tuple[int, str]:
        request = urllib.request.Request(
            demo.url + path, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    assert post("/api/chat/999/send", b'{"text": "hi"}') == (404, "no such person in the demo")
    assert post("/api/chat/7003/send", b"{}") == (400, "the message is empty")
    assert post("/api/chat/7003/send", b"not json") == (400, "a JSON body is expected")
    assert post("/api/chat/7003/press", b'{"message_id": 1, "data": "x"}')[0] == 400
    assert post("/api/people", b'{"name": " ", "lang": "ru"}') == (
        400, "a name of 1 to 64 characters is expected"
    )
    assert post("/api/people", b'{"name": "X", "lang": "de"}') == (
        400, "lang is one of ('ru', 'en')"
    )
    assert post("/api/clock", b'{"speed": 7}') == (400, "speed is one of (1, 60, 1440)")
    assert post("/api/phone", b'{"agent": "x", "number": "1"}') == (
        400, "pick an agent with an extension"
    )
    assert post("/api/phone", b'{"agent": 7003, "number": "+79161110011", "outcome": "?"}') == (
        400, "unknown outcome or talk time"
    )
