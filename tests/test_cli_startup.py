"""The light commands (employees, invite, calls, export) start without what they do not use:
aiogram (the bot) and matplotlib (charts) take seconds to import. Speed is in bench/cli_bench."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LOADED = (
    "import json, sys, {modules}; "
    "print(json.dumps([m for m in ('aiogram', 'matplotlib') if m in sys.modules]))"
)


def heavy_modules_after(*modules: str) -> list[str]:
    """Which of aiogram and matplotlib a fresh interpreter holds after importing `modules`."""
    out = subprocess.run(
        [sys.executable, "-c", LOADED.format(modules=", ".join(modules))],
        capture_output=True, text=True, check=True,
    )
    return list(json.loads(out.stdout))


@pytest.mark.parametrize(
    "modules",
    [
        # the command line itself and its failure mapping, then each light command's module
        ("cli.main", "cli.failures"),
        ("cli.staff",),  # employees, invite
        ("cli.calls",),  # calls (sip-listen loads the bot on use)
        ("cli.data",),  # import, export
    ],
)
def test_light_commands_load_neither_aiogram_nor_matplotlib(modules: tuple[str, ...]) -> None:
    assert heavy_modules_after(*modules) == []


def test_export_names_load_no_matplotlib() -> None:
    """Export speaks the user's language through aiogram's i18n, but draws nothing."""
    assert heavy_modules_after("cli.data", "bot.report_csv") == ["aiogram"]
