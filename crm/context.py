"""What every domain call needs: the effective playbook and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from config.playbook import Playbook
from crm.clock import Clock
from crm.schedule import Placed, place, snap


@dataclass
class Crm:
    playbook: Playbook
    clock: Clock
    # The stage and label tables refresh_pipeline last refused, so it logs them once, not per tick.
    rejected_pipeline: object = field(default=None, compare=False, repr=False)

    def now(self) -> datetime:
        return self.clock.now()

    def snap(self, moment: datetime, client_tz: str | None) -> datetime:
        zone = ZoneInfo(client_tz) if client_tz else None
        return snap(moment, self.playbook.working_hours, self.playbook.client_window, zone)

    def place(self, moment: datetime, client_tz: str | None) -> Placed:
        zone = ZoneInfo(client_tz) if client_tz else None
        return place(moment, self.playbook.working_hours, self.playbook.client_window, zone)
