"""What several workers share in the store: the leader's lease and the due pushes' claims, on
SQLite and PostgreSQL (one process here stands for several)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bot.leader import LEADER, Leadership, Singleton
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from storage import claims, leases
from storage.models import Employee, Role, Task
from tests.conftest import T0

TTL = timedelta(seconds=6)


async def test_a_lease_has_one_holder_until_it_runs_out_or_is_given_up(crm: Crm) -> None:
    assert await leases.take(LEADER, "a", T0, TTL)
    assert not await leases.take(LEADER, "b", T0 + timedelta(seconds=5), TTL)
    assert await leases.take(LEADER, "a", T0 + timedelta(seconds=5), TTL)  # renewed
    assert not await leases.take(LEADER, "b", T0 + timedelta(seconds=10), TTL)
    assert await leases.take(LEADER, "b", T0 + timedelta(seconds=12), TTL)  # ran out
    assert await leases.set_note(LEADER, "b", "fingerprint")
    assert not await leases.set_note(LEADER, "a", "other")
    await leases.give_up(LEADER, "b")
    assert await leases.take(LEADER, "c", T0 + timedelta(seconds=13), TTL)
    assert await leases.note(LEADER) == "fingerprint"  # for the next holder


async def test_racing_workers_take_a_free_lease_once(crm: Crm) -> None:
    won = await asyncio.gather(*(leases.take("race", f"w{n}", T0, TTL) for n in range(8)))
    assert sum(won) == 1


class Part:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    async def close(self) -> None:
        self.log.append(f"{self.name} closed")


async def test_another_worker_leads_within_ttl_and_renew_when_the_leader_dies(crm: Crm) -> None:
    log: list[str] = []

    def worker(name: str) -> Leadership:
        async def start() -> Part:
            log.append(f"{name} started")
            return Part(log, name)

        return Leadership([Singleton("part", start)], ttl=1.5, renew=0.5)

    first, second = worker("first"), worker("second")
    await first.start()
    await second.start()
    assert (first.leading, second.leading) == (True, False)
    await asyncio.sleep(1.0)
    assert log == ["first started"]  # renewed, kept
    assert first._task is not None
    first._task.cancel()  # killed: no renewal, no goodbye
    died = time.monotonic()
    while not second.leading:
        await asyncio.sleep(0.05)
        assert time.monotonic() - died < 1.5 + 0.5 + 0.5
    assert log == ["first started", "second started"]
    await second.stop()  # hands the lease on at once
    assert log[-1] == "second closed"
    assert await leases.take(LEADER, "third", datetime.now(UTC), TTL)


async def test_a_push_claim_left_by_a_killed_worker_goes_back_once(
    crm: Crm, clock: FakeClock
) -> None:
    rep = await Employee.create(name="rep", role=Role.REP)
    for i in range(3):
        await quick_add(crm, ContactDraft(f"c{i}", (f"+7495{i:07d}",)), owner_id=rep.id,
                        team="main")
    wall = datetime.now(UTC)
    claimed = [t for t, _ in await claims.claim_due_pushes(clock.now(), 10, wall)]
    assert len(claimed) == 3
    sent, sending, dead = claimed
    await claims.confirm_push(sent)
    await claims.renew_push_claims([sending], wall + timedelta(seconds=15))
    lost = await asyncio.gather(
        *(claims.expired_push_claims(wall + timedelta(seconds=1)) for _ in range(4))
    )
    assert sorted(t for batch in lost for t in batch) == [dead]
    again = await claims.claim_due_pushes(clock.now(), 10, wall)
    assert [t for t, _ in again] == [dead]
    assert await Task.filter(pushed_at__isnull=True).count() == 0
