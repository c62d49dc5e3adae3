"""The demo's history has something for every report: deals in every stage, calls of every
disposition, lost reasons, tags, chats; and the demo's clock takes over where it ends."""

from __future__ import annotations

from datetime import timedelta

from crm.calltypes import Disposition
from crm.context import Crm
from sandbox.seed import DAYS, TEAM, is_seeded, seed
from storage.models import Call, ChatMessage, Deal, Employee, Task, TaskStatus
from tests.conftest import T0


async def test_seeded_history_covers_every_stage_disposition_and_reason(crm: Crm) -> None:
    assert not await is_seeded()
    await seed(crm.playbook, T0, bot_id=700000001)
    assert await is_seeded()
    stages = {stage.key for stage in crm.playbook.stages}
    assert set(await Deal.all().values_list("stage", flat=True)) == stages
    assert set(await Call.all().values_list("disposition", flat=True)) == set(Disposition)
    reasons = set(await Deal.filter(lost_reason__not_isnull=True).values_list(
        "lost_reason", flat=True))
    assert reasons == {"price", "competitor", "no_need", "other"}
    assert any("vip" in tags for tags in await Deal.all().values_list("tags", flat=True))
    assert await ChatMessage.filter(incoming=True).count() >= 4
    assert await ChatMessage.filter(incoming=False).count() >= 4
    assert await Employee.filter(tg_id__not_isnull=True).count() == len(TEAM)
    # Every open deal has exactly one open task, and the history stays in its weeks.
    for deal in await Deal.filter(status="open"):
        assert await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).count() == 1
    for deal in await Deal.all():
        assert T0 - timedelta(days=DAYS + 3) <= deal.created_at < T0
