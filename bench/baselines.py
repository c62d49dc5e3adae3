"""The baselines of the webhook benches: what crm does for a press with no bot and no HTTP."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

from bench.measure import Run, timed
from bench.webhook_rig import REPS, Outcome, pick_outcome
from crm.context import Crm
from crm.engine import Press, Status, apply_outcome
from crm.feed import next_task
from storage.models import Employee, Task


def _press(task_id: int, rep: Employee, outcome: Outcome) -> Press:
    return Press(task_id, outcome.button, rep, reason=outcome.reason)


async def engine_phase(crm: Crm, reps: Sequence[Employee], seconds: float, seed: int) -> Run:
    """apply_outcome alone on the reps' open tasks, most overdue first, 16 at a time."""
    by_id = {rep.id: rep for rep in reps}
    rows = (
        await Task.filter(status="open", assignee_id__in=list(by_id))
        .order_by("due_at", "id")
        .limit(int(seconds * 4000))
        .values_list("id", "assignee_id")
    )
    rng = random.Random(seed)
    work = iter([(int(t), by_id[int(a)], pick_outcome(rng)) for t, a in rows])

    async def press(item: tuple[int, Employee, Outcome]) -> bool:
        task_id, rep, outcome = item
        return (await apply_outcome(crm, _press(task_id, rep, outcome))).status == Status.DONE

    return await timed(seconds, REPS, work, press)


async def engine_feed_phase(crm: Crm, reps: Sequence[Employee], seconds: float, seed: int) -> Run:
    """Each rep in a closed loop: next_task, then apply_outcome on it (a conveyor press's crm)."""
    run = Run()
    deadline = time.perf_counter() + seconds

    async def rep_loop(rep: Employee, rng: random.Random) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            task = await next_task(crm, rep)
            if task is None:
                return
            out = await apply_outcome(crm, _press(task.id, rep, pick_outcome(rng)))
            run.latencies.append(time.perf_counter() - started)
            run.ops += 1
            run.failures += out.status != Status.DONE

    started = time.perf_counter()
    await asyncio.gather(*(rep_loop(rep, random.Random(seed + i)) for i, rep in enumerate(reps)))
    run.seconds = time.perf_counter() - started
    return run

