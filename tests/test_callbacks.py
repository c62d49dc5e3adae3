"""Callback data prefixes: one place, unique, never confused by routing, never renamed."""

from __future__ import annotations

import importlib
import itertools
import pkgutil

from aiogram.filters.callback_data import CallbackData

import bot
import handlers
from bot import callbacks

DEFINED = [
    value
    for value in vars(callbacks).values()
    if isinstance(value, type)
    and issubclass(value, CallbackData)
    and value.__module__ == callbacks.__name__
]


def _routing_head(data: type[CallbackData]) -> str:
    """What packed data starts with: a filter unpacks data whose text before the separator is this
    prefix, so another class whose data starts the same way would be taken for this one."""
    return data.__prefix__ + data.__separator__


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set(cls.__subclasses__())
    return found.union(*(_all_subclasses(sub) for sub in found))


def test_every_callback_data_of_the_bot_is_defined_in_bot_callbacks() -> None:
    for package in (bot, handlers):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    elsewhere = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _all_subclasses(CallbackData)
        if cls.__module__.startswith(("bot.", "handlers.")) and cls.__module__ != callbacks.__name__
    }
    assert not elsewhere, "move these to bot/callbacks.py"


def test_prefixes_are_unique() -> None:
    prefixes = [data.__prefix__ for data in DEFINED]
    assert len(prefixes) == len(set(prefixes)), sorted(prefixes)


def test_no_packed_data_starts_like_another_class_would() -> None:
    for one, other in itertools.permutations(DEFINED, 2):
        assert not _routing_head(other).startswith(_routing_head(one)), (one, other)


def test_prefixes_of_buttons_already_sent_stay() -> None:
    # Buttons in users' chats carry these; a new class adds a line, an old line never changes.
    assert {data.__name__: data.__prefix__ for data in DEFINED} == {
        "TaskAction": "a",
        "SubMenuBack": "m",
        "SlotPick": "s",
        "TimeAccept": "tw",
        "ReasonPick": "r",
        "ZonePick": "z",
        "RegionList": "zl",
        "ConveyorToggle": "c",
        "NextTask": "n",
        "OpenDeal": "d",
        "PipelineAction": "p",
        "FieldsOpen": "fo",
        "FieldEdit": "fe",
        "FieldPick": "fp",
        "FieldAdmin": "pf",
        "LangChoice": "lang",
        "ShiftToggle": "sh",
        "ReportKind": "rk",
        "ReportRun": "rr",
        "ReportCsv": "rc",
        "Reassign": "ra",
        "ReportBy": "rb",
        "ReportByRun": "rbr",
        "ReportByCsv": "rbc",
        "ReassignTo": "rt",
        "Reply": "rp",
    }
