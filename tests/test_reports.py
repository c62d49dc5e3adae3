"""Report figures on a small data set built through the real engine, checked by hand.

The story (times UTC; T0 = 07:00 = 10:00 in Moscow), team "main" unless said:
- D1 r1 "site" 1000.00 ₽: busy 07:00, busy 07:10, call back 07:20, paid 07:30 (creates repeat R1)
- D2 r1 "site"  500.00 ₽: invoice sent 08:00, refused (price) 08:10
- D3 r2 "ads"   300.00 ₽, a Novosibirsk number (UTC+7): busy x5 from 09:00, the ladder archives it
- D4 r2 "ads"   200.00 ₽: call back at 07:50 for 08:00, then nobody calls: overdue at the end
- D5 r3 team "b" "site" 700.00 ₽: paid 10:00 (creates repeat R5)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise import connections
from tortoise.exceptions import OperationalError

from crm import reports
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Press, Status, apply_outcome
from storage.db import dialect, reading_connection
from storage.models import Call, Deal, Employee, Role, Task, TaskStatus
from tests.conftest import T0

DAY = timedelta(days=1)


async def _deal(crm: Crm, owner: Employee, phone: str, source: str, amount: int) -> Deal:
    added = await quick_add(
        crm, ContactDraft(name=f"client {phone}", phones=(phone,)), owner_id=owner.id,
        team=owner.team, source=source,
    )
    assert added.deal is not None
    await Deal.filter(id=added.deal.id).update(amount=amount)
    return added.deal


async def _press(crm: Crm, clock: FakeClock, deal: Deal, minute: int, button: str,
                 actor: Employee, **kw: object) -> None:
    clock.set(T0 + timedelta(minutes=minute))
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    out = await apply_outcome(crm, Press(task.id, button, actor, **kw))  # type: ignore[arg-type]
    assert out.status == Status.DONE


async def _call(agent: Employee, n: int, answered: bool) -> None:
    start = T0 + timedelta(minutes=n)
    await Call.create(
        call_id=f"c{agent.id}-{n}", direction="out", agent_id=agent.id, disposition="answered"
        if answered else "no_answer", started_at=start, answered_at=start if answered else None,
        ended_at=start + timedelta(minutes=1),
    )


@pytest.fixture
async def story(crm: Crm, clock: FakeClock) -> dict[str, Employee]:
    r1 = await Employee.create(name="r1", role=Role.REP, team="main")
    r2 = await Employee.create(name="r2", role=Role.REP, team="main")
    r3 = await Employee.create(name="r3", role=Role.REP, team="b")
    d1 = await _deal(crm, r1, "+74951110001", "site", 100_000)
    d2 = await _deal(crm, r1, "+74951110002", "site", 50_000)
    d3 = await _deal(crm, r2, "+73832110003", "ads", 30_000)
    d4 = await _deal(crm, r2, "+74951110004", "ads", 20_000)
    d5 = await _deal(crm, r3, "+74951110005", "site", 70_000)
    await _press(crm, clock, d1, 0, "busy", r1)
    await _press(crm, clock, d1, 10, "busy", r1)
    await _press(crm, clock, d1, 20, "call_back", r1, when=T0 + timedelta(hours=4))
    await _press(crm, clock, d1, 30, "paid", r1)
    await _press(crm, clock, d4, 50, "call_back", r2, when=T0 + timedelta(hours=1))
    await _press(crm, clock, d2, 60, "invoice_sent", r1, when=T0 + DAY)
    await _press(crm, clock, d2, 70, "refused", r1, reason="price")
    for minute in range(120, 170, 10):
        await _press(crm, clock, d3, minute, "busy", r2)
    await _press(crm, clock, d5, 180, "paid", r3)
    for n, answered in enumerate([True, False, False]):
        await _call(r1, n, answered)
    for n in range(2):
        await _call(r2, 10 + n, False)
    await _call(r3, 20, True)
    return {"r1": r1, "r2": r2, "r3": r3}


def _period(team: str | None = "main") -> reports.Period:
    return reports.Period(T0 - DAY, T0 + DAY, team)


async def test_funnel_counts_entries_amounts_and_conversion(crm: Crm, story: object) -> None:
    rows = {r.stage: r for r in await reports.funnel(crm, _period())}
    # D1-D4 and the repeat deal R1 (amount 0) start in "new".
    assert (rows["new"].entered, rows["new"].amount, rows["new"].conversion) == (5, 200_000, None)
    assert (rows["in_progress"].entered, rows["in_progress"].amount) == (2, 120_000)
    # Of the five new deals D1 (paid), D2 (invoice sent) and D4 went on.
    assert rows["in_progress"].conversion == pytest.approx(3 / 5)
    # Of D1 and D4 in progress D1 went on (to paid, past "invoice sent").
    assert (rows["invoice_sent"].entered, rows["invoice_sent"].conversion) == (1, 0.5)
    # D1 was paid without an invoice, D2 with one was refused: none of the invoiced paid.
    assert (rows["paid"].entered, rows["paid"].amount, rows["paid"].conversion) == (1, 100_000, 0)
    assert (rows["refused"].entered, rows["refused"].conversion) == (1, None)
    assert (rows["archive"].entered, rows["archive"].amount) == (1, 30_000)
    everyone = {r.stage: r for r in await reports.funnel(crm, _period(None))}
    assert (everyone["new"].entered, everyone["paid"].entered) == (7, 2)
    later = await reports.funnel(crm, reports.Period(T0 + DAY, T0 + 2 * DAY, None))
    assert all(r.entered == 0 for r in later)


async def test_funnel_conversion_is_of_the_previous_steps_deals_never_above_one(
    crm: Crm, story: object
) -> None:
    # From 07:01 only the repeat deal R1 starts in "new", while D1 and D4, created before,
    # enter "in progress": their 2 entries against R1's 1 read 200% before.
    period = reports.Period(T0 + timedelta(minutes=1), T0 + DAY, "main")
    rows = {r.stage: r for r in await reports.funnel(crm, period)}
    assert (rows["new"].entered, rows["in_progress"].entered) == (1, 2)
    assert rows["in_progress"].conversion == 0  # R1 stayed new
    assert rows["invoice_sent"].conversion == 0.5  # D1 went on to paid, D4 did not
    assert all(r.conversion is None or 0 <= r.conversion <= 1 for r in rows.values())


async def test_lost_reasons_and_sources(crm: Crm, story: object) -> None:
    assert await reports.lost_reasons(crm, _period()) == (
        reports.LostReason("price", 1, 1.0, 50_000),
    )
    assert await reports.sources(crm, _period()) == (
        reports.SourceRow("ads", 2, 0, 0, 0.0),
        reports.SourceRow("site", 2, 1, 100_000, 0.5),
        reports.SourceRow("repeat", 1, 0, 0, 0.0),
    )
    site = [s for s in await reports.sources(crm, _period(None)) if s.source == "site"]
    assert site == [reports.SourceRow("site", 3, 2, 170_000, 2 / 3)]


async def test_rep_efficiency(crm: Crm, story: dict[str, Employee]) -> None:
    r1, r2 = await reports.reps(crm, _period())
    assert (r1.name, r1.calls, r1.answered, r1.reach_rate) == ("r1", 3, 1, pytest.approx(1 / 3))
    assert dict(r1.outcomes) == {
        "busy": 2, "call_back": 1, "paid": 1, "invoice_sent": 1, "refused": 1,
    }
    assert (r1.won, r1.won_amount, r1.overdue) == (1, 100_000, 0)
    assert r1.mean_days_to_close == pytest.approx(30 / (24 * 60))  # D1: created 07:00, paid 07:30
    assert (r2.name, r2.calls, r2.answered, r2.reach_rate) == ("r2", 2, 0, 0.0)
    assert r2.outcomes == (("busy", 5), ("call_back", 1))
    assert (r2.won, r2.won_amount, r2.mean_days_to_close) == (0, 0, None)
    assert r2.overdue == 1  # D4's call at 08:00; the clock stands at 10:00
    assert [r.name for r in await reports.reps(crm, _period(None))] == ["r1", "r2", "r3"]


async def test_dynamics_and_seasonality(crm: Crm, story: object) -> None:
    assert await reports.dynamics(crm, _period()) == (reports.DynamicsRow("2026-11-23", 5, 1, 1),)
    assert await reports.dynamics(crm, _period(None), by="month") == (
        reports.DynamicsRow("2026-11", 7, 2, 1),
    )
    season = await reports.seasonality(crm, reports.Period(T0 - 365 * DAY, T0 + DAY, "main"))
    assert len(season) == 12 and season[10] == reports.SeasonRow(11, 5, 1, 1)
    assert all(s.new == s.won == s.lost == 0 for s in season if s.month != 11)


async def test_forecast_weights_open_amounts_by_stage_win_rate(crm: Crm, story: object) -> None:
    rows = {r.stage: r for r in await reports.forecast(crm, _period())}
    assert set(rows) == {"new", "in_progress", "invoice_sent"}
    # Decided deals that entered "new": D1 won, D2 lost, D3 archived. Open there now: R1 (0 ₽).
    assert rows["new"] == reports.ForecastRow("new", 1, 0, 1 / 3, 0)
    # Entered "in_progress" and decided: only D1 (won); D4 is open there with 200 ₽.
    assert rows["in_progress"] == reports.ForecastRow("in_progress", 1, 20_000, 1.0, 20_000)
    assert rows["invoice_sent"] == reports.ForecastRow("invoice_sent", 0, 0, 0.0, 0)


async def test_dialing_attempts_and_local_hours(crm: Crm, story: object) -> None:
    dialing = await reports.dialing(crm, _period())
    # Reached presses: D1 call back after 2 misses; D1 paid, D2 invoice, D2 refused, D4 call back
    # right away.
    assert dialing.reached_after == ((0, 4), (2, 1))
    assert dialing.gave_up == 1
    # Moscow 10:xx: D1 x4 (2 reached) + D4 (reached); Moscow 11:xx: D2 x2; Novosibirsk 16:xx: D3.
    assert dialing.by_hour == (
        reports.HourRow(10, 5, 3), reports.HourRow(11, 2, 2), reports.HourRow(16, 5, 0),
    )
    assert await reports.ladder_stats(crm, _period()) == reports.LadderStats(7, 1)


async def test_empty_period_gives_zero_rows(crm: Crm, story: object) -> None:
    period = reports.Period(T0 - 3 * DAY, T0 - 2 * DAY, None)
    assert await reports.lost_reasons(crm, period) == ()
    assert await reports.sources(crm, period) == ()
    assert await reports.dynamics(crm, period) == ()
    dialing = await reports.dialing(crm, period)
    assert (dialing.reached_after, dialing.by_hour, dialing.gave_up) == ((), (), 0)


async def test_reports_read_beside_the_store_on_sqlite(
    crm: Crm, clock: FakeClock, db_url: str
) -> None:
    """On a SQLite file reports read on a connection of their own: a report's read transaction
    does not hold up a press on the store's one connection, and that connection never writes."""
    store_conn = connections.get("default")
    if dialect() == "postgres":
        assert reading_connection() is store_conn  # the pool serves both
        return
    report_conn = reading_connection()
    assert report_conn is not store_conn
    rep = await Employee.create(name="r1", role=Role.REP, team="main")
    deal = await _deal(crm, rep, "+74951110001", "site", 100_000)
    with pytest.raises(OperationalError, match="readonly"):
        await report_conn.execute_query("UPDATE deal SET amount = 0")
    await report_conn.execute_query("BEGIN")  # a long report: its snapshot stays open
    try:
        seen = await report_conn.execute_query_dict("SELECT COUNT(*) AS n FROM task")
        await _press(crm, clock, deal, 0, "busy", rep)  # commits while the report reads
        again = await report_conn.execute_query_dict("SELECT COUNT(*) AS n FROM task")
        assert again == seen  # the report's snapshot, unchanged by the press
    finally:
        await report_conn.execute_query("COMMIT")
    after = await report_conn.execute_query_dict("SELECT COUNT(*) AS n FROM task")
    assert after[0]["n"] == seen[0]["n"] + 1  # the press's next task, once the report is done
