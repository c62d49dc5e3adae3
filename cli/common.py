"""Opening what every command needs: the settings' store and the effective playbook."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from config.playbook import load_playbook
from config.settings import Settings
from crm.clock import SystemClock
from crm.context import Crm
from crm.pipeline import load_pipeline
from storage.db import store


@contextlib.asynccontextmanager
async def crm_session(settings: Settings) -> AsyncIterator[Crm]:
    playbook = load_playbook(settings.playbook)
    async with store(settings.database_url):
        crm = Crm(playbook, SystemClock())
        await load_pipeline(crm)
        yield crm
