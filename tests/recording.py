"""A crm Notifier that keeps what the domain asked to tell, for store-level tests."""

from __future__ import annotations

from crm.notices import Notice


class RecordingNotifier:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)
