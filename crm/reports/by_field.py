"""Reports grouped by a choice field: the funnel or the sources once per option ("product":
basic, pro, custom), each on the deals holding that option."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from crm.context import Crm
from crm.reports.sql import Period

T = TypeVar("T")


class NotAChoiceField(ValueError):
    """The key names no choice or multi-choice field of the playbook."""


async def grouped(
    crm: Crm, period: Period, key: str, report: Callable[[Crm, Period], Awaitable[T]]
) -> tuple[tuple[str, T], ...]:
    """(option key, the report on the deals holding it) for each option, in playbook order."""
    spec = crm.playbook.field(key)
    if spec is None or not spec.choices:
        raise NotAChoiceField(key)
    result = []
    for option in spec.options:
        only = dataclasses.replace(period, field=(key, spec.of, option))
        result.append((option, await report(crm, only)))
    return tuple(result)
