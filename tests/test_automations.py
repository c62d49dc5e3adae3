"""Reminders before agreed calls and supervisors' digests: exactly once across ticks."""

from __future__ import annotations

from datetime import timedelta

from crm import automations
from crm.automations import DigestFigures
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Press, Status, apply_outcome
from crm.notices import Notice, NoticeKind
from storage.models import Deal, Employee, Role, Task, TaskStatus
from tests.conftest import T0


class Recorder:
    def __init__(self, failures: int = 0) -> None:
        self.notices: list[Notice] = []
        self.failures = failures

    async def notify(self, notice: Notice) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("telegram is down")
        self.notices.append(notice)


async def _deal(crm: Crm, rep: Employee, phone: str) -> Deal:
    added = await quick_add(crm, ContactDraft(name="c", phones=(phone,)), owner_id=rep.id,
                            team=rep.team)
    assert added.deal is not None
    return added.deal


async def _press(crm: Crm, deal: Deal, button: str, actor: Employee, **kw: object) -> None:
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    assert (await apply_outcome(crm, Press(task.id, button, actor, **kw))).status == Status.DONE  # type: ignore[arg-type]


async def test_reminder_goes_once_m_minutes_before_an_agreed_call(
    crm: Crm, clock: FakeClock
) -> None:
    rep = await Employee.create(name="rep", role=Role.REP)
    agreed = await _deal(crm, rep, "+74951110001")
    await _press(crm, agreed, "call_back", rep, when=T0 + timedelta(hours=1))
    laddered = await _deal(crm, rep, "+74951110002")
    await _press(crm, laddered, "busy", rep)  # due in 5 minutes, but nobody agreed to it
    notifier = Recorder()
    assert await automations.send_reminders(crm, notifier) == 0
    clock.set(T0 + timedelta(minutes=49))
    assert await automations.send_reminders(crm, notifier) == 0  # 11 minutes before
    clock.set(T0 + timedelta(minutes=50))
    assert await automations.send_reminders(crm, notifier) == 1
    clock.set(T0 + timedelta(minutes=55))
    assert await automations.send_reminders(crm, notifier) == 0
    task = await Task.get(deal_id=agreed.id, status=TaskStatus.OPEN)
    assert notifier.notices == [
        Notice(rep.id, NoticeKind.REMINDER, task_id=task.id, deal_id=agreed.id,
               params={"minutes": 10})
    ]


async def test_undelivered_reminder_is_retried_on_the_next_tick(
    crm: Crm, clock: FakeClock
) -> None:
    rep = await Employee.create(name="rep", role=Role.REP)
    deal = await _deal(crm, rep, "+74951110001")
    await _press(crm, deal, "invoice_sent", rep, when=T0 + timedelta(hours=1))
    clock.set(T0 + timedelta(minutes=55))
    notifier = Recorder(failures=1)
    assert await automations.send_reminders(crm, notifier) == 0
    assert await automations.send_reminders(crm, notifier) == 1
    assert await automations.send_reminders(crm, notifier) == 0


def _render(supervisor: Employee, figures: DigestFigures) -> str:
    lost = ",".join(f"{r.reason}={r.deals}" for r in figures.lost)
    return (f"{supervisor.name} {figures.team} {figures.day} overdue={figures.overdue} "
            f"tries={figures.ladder.attempts} out={figures.ladder.gave_up} lost={lost}")


async def test_digest_once_a_day_per_supervisor_at_the_digest_hour(
    crm: Crm, clock: FakeClock
) -> None:
    boss = await Employee.create(name="boss", role=Role.SUPERVISOR, team="main")
    await Employee.create(name="boss b", role=Role.SUPERVISOR, team="b")
    await Employee.create(name="gone", role=Role.SUPERVISOR, team="main", active=False)
    rep = await Employee.create(name="rep", role=Role.REP, team="main")
    overdue = await _deal(crm, rep, "+74951110001")  # its first task is due at T0
    await _press(crm, overdue, "busy", rep)
    await _press(crm, await _deal(crm, rep, "+74951110002"), "refused", rep, reason="price")
    clock.set(T0 + timedelta(hours=1))  # 11:00 in Moscow, the digest hour is 9
    notifier = Recorder()
    assert await automations.send_digests(crm, notifier, _render) == 2
    assert await automations.send_digests(crm, notifier, _render) == 0
    texts = {n.employee_id: n.params["text"] for n in notifier.notices}
    assert texts[boss.id] == "boss main 2026-11-25 overdue=1 tries=1 out=0 lost=price=1"
    assert all(n.kind == NoticeKind.DIGEST for n in notifier.notices)
    clock.set(T0 + timedelta(hours=21))  # Thursday 07:00 in Moscow: before the hour
    assert await automations.send_digests(crm, notifier, _render) == 0
    clock.set(T0 + timedelta(hours=23))  # Thursday 09:00
    assert await automations.send_digests(crm, notifier, _render) == 2
    assert notifier.notices[-1].params["text"].endswith("tries=0 out=0 lost=")  # type: ignore[union-attr]


async def test_undelivered_digest_is_retried(crm: Crm) -> None:
    await Employee.create(name="boss", role=Role.SUPERVISOR, team="main")
    notifier = Recorder(failures=1)
    assert await automations.send_digests(crm, notifier, _render) == 0
    assert await automations.send_digests(crm, notifier, _render) == 1
    assert await automations.send_digests(crm, notifier, _render) == 0



async def test_digest_counts_the_whole_local_day_from_midnight(
    crm: Crm, clock: FakeClock
) -> None:
    # 01:00 in Moscow is 22:00 UTC the day before: SQLite compares times as text, so the day's
    # start must reach the store in UTC or the first hours of the local day go missing.
    await Employee.create(name="boss", role=Role.SUPERVISOR, team="main")
    rep = await Employee.create(name="rep", role=Role.REP, team="main")
    clock.set(T0 - timedelta(hours=9))
    await _press(crm, await _deal(crm, rep, "+74951110001"), "refused", rep, reason="price")
    clock.set(T0)
    notifier = Recorder()
    assert await automations.send_digests(crm, notifier, _render) == 1
    assert notifier.notices[0].params["text"] == (
        "boss main 2026-11-25 overdue=0 tries=0 out=0 lost=price=1"
    )
