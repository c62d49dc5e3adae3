"""The runtime end to end: joining, languages, due pushes across restarts, bursts under 429,
blocked users, health and metrics, webhook mode, and `nextstep run` without a token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.sender import Rates
from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, find_or_create_contact, open_deal
from crm.staff import create_invite
from storage.models import Employee, Invite, Role, Task
from tests.e2e.conftest import HarnessFactory
from tests.e2e.harness import Harness, free_port
from tests.fakes import FakeBotAPI, RateLimits, User

ROOT = Path(__file__).resolve().parents[2]


async def make_due_tasks(crm: Crm, employees: list[Employee], per_employee: int) -> list[Task]:
    """Deals whose first tasks fall due in 5 minutes, `per_employee` for each employee."""
    tasks = []
    for e in employees:
        for n in range(per_employee):
            contact, _ = await find_or_create_contact(
                crm, ContactDraft(name=f"Client {e.id}-{n}", phones=(f"+7495{e.id:04d}{n:03d}",)),
            )
            deal = await open_deal(
                crm, contact, owner_id=e.id, team=e.team, due=crm.now() + timedelta(minutes=5)
            )
            tasks.append(await Task.get(deal_id=deal.id))
    return tasks


def pushes_by_chat(harness: Harness) -> Counter[int]:
    return Counter(
        int(c.chat_id) for c in harness.api.calls("sendMessage")
        if isinstance(c.chat_id, int) and "Client " in str(c.params.get("text"))
    )


async def test_join_by_invite_applies_role_and_refuses_reuse_and_expiry(harness: Harness) -> None:
    crm = harness.running.crm
    invite = await create_invite(crm, Role.SUPERVISOR, "north", "105")
    boss = harness.user("Olga")
    welcome = await harness.say(boss, f"/start {invite.code}")
    assert "руководитель" in welcome.text
    employee = await Employee.get(tg_id=boss.id)
    assert (employee.role, employee.team, employee.sip_ext) == (Role.SUPERVISOR, "north", "105")
    menu = [
        c.params for c in harness.api.calls("setMyCommands")
        if c.params.get("scope", {}).get("chat_id") == boss.id
    ]
    assert {"report", "overdue", "next"} <= {cmd["command"] for cmd in menu[-1]["commands"]}
    assert "pipeline" not in {cmd["command"] for cmd in menu[-1]["commands"]}

    stranger = harness.user("Mallory")
    again = await harness.say(stranger, f"/start {invite.code}")
    assert "недействительно" in again.text
    assert await Employee.get_or_none(tg_id=stranger.id) is None

    old = await create_invite(crm, Role.REP)
    harness.clock.advance(timedelta(days=8))
    late = await harness.say(harness.user("Late"), f"/start {old.code}")
    assert "недействительно" in late.text
    assert (await Invite.get(id=old.id)).used_at is None


async def test_start_with_a_code_of_any_length_or_content_is_answered(harness: Harness) -> None:
    crm = harness.running.crm
    invite = await create_invite(crm, Role.REP)
    for n, code in enumerate([
        "x" * 300, invite.code + "x" * 20, "приглашение", "' OR 1=1 --", "a\x00b", "🙂" * 64,
    ]):
        reply = await harness.say(harness.user(f"Guest {n}"), f"/start {code}")
        assert "недействительно" in reply.text, code
    assert await Employee.filter(role=Role.REP).count() == 0
    assert (await harness.say(harness.user("Anna"), f"/start {invite.code}")).text


async def test_lang_switches_the_language_of_replies(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan", lang="ru")
    assert "Ваша роль" in (await harness.say(rep.user, "/help")).text

    choice = await harness.say(rep.user, "/lang")
    assert {b["text"] for b in choice.buttons} == {"Русский", "English"}
    pressed = await harness.press_text(rep.user, choice.last, "English")
    assert pressed.answer is not None and pressed.answer.params.get("text") == "Language: English"
    assert (await Employee.get(id=rep.employee.id)).lang == "en"

    english = await harness.say(rep.user, "/help")
    assert english.text.startswith("You are a rep.")
    assert (await harness.say(rep.user, "/cancel")).text == "Cancelled, nothing changed."

    back = await harness.say(rep.user, "/lang")
    await harness.press_text(rep.user, back.last, "Русский")
    assert (await harness.say(rep.user, "/cancel")).text == "Отменено, ничего не изменилось."


async def test_telegram_language_decides_until_the_employee_chooses(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="John", lang="en")
    assert (await Employee.get(id=rep.employee.id)).lang == "en"
    assert (await harness.say(rep.user, "/help")).text.startswith("You are a rep.")


async def test_due_pushes_go_out_once_after_a_restart(harness: Harness) -> None:
    reps = [(await harness.make_employee("rep", name=f"Rep{n}")).employee for n in range(3)]
    await harness.stop()
    crm = Crm(load_playbook(), harness.clock)
    tasks = await make_due_tasks(crm, reps, per_employee=2)
    harness.clock.advance(timedelta(minutes=10))  # they fell due while the bot was down

    await harness.start()
    first = await harness.tick()
    for rep in reps:
        cards = [m for m in first.to(rep.tg_id or 0) if "Client " in m.get("text", "")]
        assert len(cards) == 2
    assert pushes_by_chat(harness) == Counter({rep.tg_id: 2 for rep in reps})
    assert await Task.filter(id__in=[t.id for t in tasks], pushed_at__isnull=True).count() == 0

    second = await harness.tick()
    assert second.messages == []
    await harness.restart()
    assert (await harness.tick()).messages == []


async def test_a_burst_of_200_pushes_under_429s_loses_and_doubles_nothing(
    make_harness: HarnessFactory, clock: FakeClock
) -> None:
    # The sender is set faster than the fake allows, so Telegram's 429s must be waited out.
    async with make_harness(
        rate_limits=RateLimits(per_chat_per_second=2, per_bot_per_second=100),
        rates=Rates(per_bot=1000.0, per_chat=100.0, burst=1000),
    ) as harness:
        reps = [
            await Employee.create(tg_id=90_000 + n, name=f"R{n}", role=Role.REP) for n in range(50)
        ]
        await make_due_tasks(harness.running.crm, reps, per_employee=4)
        clock.advance(timedelta(minutes=6))

        await harness.tick()

        assert sum(harness.api.served_429.values()) > 0
        assert pushes_by_chat(harness) == Counter({rep.tg_id: 4 for rep in reps})
        texts = [c.params["text"] for c in harness.api.calls("sendMessage")]
        assert len(texts) == len(set(texts)) == 200
        assert await Task.filter(pushed_at__isnull=True).count() == 0
        metrics = scrape(await fetch(harness, "/metrics"))
        assert metrics["nextstep_telegram_429_total"][1] > 0
        assert metrics["nextstep_pushes_sent_total"] == ("counter", 200)


async def test_blocked_employee_is_marked_unreachable_and_not_retried(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Gone")
    await make_due_tasks(harness.running.crm, [rep.employee], per_employee=1)
    harness.api.block(rep.user.id)
    harness.clock.advance(timedelta(minutes=6))

    pushed = await harness.tick()
    assert [(c.method, c.error_code) for c in pushed.calls] == [("sendMessage", 403)]
    assert not (await Employee.get(id=rep.employee.id)).reachable
    assert (await harness.tick()).calls == []  # the claim stands: no retry of a 403


async def fetch(harness: Harness, path: str, expect: int = 200) -> str:
    url = f"http://127.0.0.1:{harness.running.web_port}{path}"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == expect
        return await response.text()


def scrape(text: str) -> dict[str, tuple[str, float]]:
    """/metrics as Prometheus reads it: each sample's name -> (its family's type, value)."""
    return {
        sample.name: (family.type, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_healthz_and_metrics_answer(harness: Harness) -> None:
    await harness.make_employee("admin", name="Root")
    assert '"status": "ok"' in await fetch(harness, "/healthz")
    metrics = scrape(await fetch(harness, "/metrics"))
    assert metrics["nextstep_updates_handled_total"] == ("counter", 1)
    assert metrics["nextstep_sender_queue_length"] == ("gauge", 0)
    assert metrics["nextstep_telegram_429_total"] == ("counter", 0)
    assert metrics["nextstep_store_up"] == metrics["nextstep_telegram_up"] == ("gauge", 1)
    # prometheus-client's own collectors on the same registry: the process and Python
    assert metrics["process_resident_memory_bytes"][1] > 0
    assert "python_info" in metrics


async def test_webhook_mode_round_trip_with_secret_and_dedup(webhook_harness: Harness) -> None:
    h = webhook_harness
    hook = h.api.webhook
    assert hook is not None and hook["url"] == h.settings.webhook_url
    assert hook.get("secret_token") and not hook.get("drop_pending_updates")

    rep = await h.make_employee("rep", name="Hook")
    reply = await h.say(rep.user, "/help")
    assert "Ваша роль" in reply.text

    update = h.api.command(rep.user, "cancel")
    wrong = await h.api.post_update(h.settings.webhook_url, update, secret_token="wrong")
    assert wrong.status == 401
    first = await h.deliver(update)
    again = await h.deliver(update)  # Telegram redelivers: handled once
    assert first.text == "Отменено, ничего не изменилось."
    assert again.messages == []


async def test_nextstep_run_without_a_token_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "NEXTSTEP_BOT_TOKEN" in lines[0]
    assert out == b""


async def test_updates_arriving_around_a_restart_are_handled_once(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Busy")
    updates = [harness.api.command(rep.user, "cancel") for _ in range(6)]
    for update in updates[:3]:
        harness.push(update)
    await harness.restart()  # stops while those are being fetched or handled
    for update in updates[3:]:
        harness.push(update)
    cancelled = "Отменено, ничего не изменилось."

    def replies() -> list[dict[str, object]]:
        return [m for m in harness.api.messages_to(rep.user.id) if m.get("text") == cancelled]

    await harness.api.wait_for(lambda c: len(replies()) >= 6, timeout=10)
    await harness.restart()  # a restart must not hand the handled ones over again
    await harness.say(rep.user, "/help")
    assert len(replies()) == 6


async def test_nextstep_run_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
        env.update(
            PYTHONPATH=str(ROOT), NEXTSTEP_BOT_TOKEN=api.token, NEXTSTEP_TELEGRAM_API=api.base_url,
            NEXTSTEP_DATABASE_URL=f"sqlite://{tmp_path / 'db.sqlite3'}",
            NEXTSTEP_WEB_LISTEN=f"127.0.0.1:{free_port()}",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            await api.wait_for("deleteWebhook", timeout=30)  # polling comes next
            api.push_update(api.command(User(555, "Client"), "start"))
            await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 555)
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                _, err = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    assert "Traceback" not in err.decode()
