"""The light commands (employees, invite, calls, export) start without what they do not use:
aiogram (the bot) and matplotlib (charts) take seconds to import. Speed is in bench/cli_bench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


def test_export_speaks_russian_without_aiogram(tmp_path: Path) -> None:
    """Export reads the bot's catalogue through plain gettext: the file is in the user's language,
    and neither aiogram's i18n nor matplotlib is loaded for it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env["NEXTSTEP_DATABASE_URL"] = f"sqlite://{tmp_path / 'empty.sqlite3'}"
    subprocess.run([sys.executable, "-m", "cli", "migrate"], env=env, cwd=tmp_path,
                   capture_output=True, check=True)
    out = tmp_path / "deals.csv"
    export = (
        "import json, sys; from cli.main import main; "
        f"code = main(['export', 'deals', '--locale', 'ru', '--output', {str(out)!r}]); "
        "print(json.dumps([code, [m for m in ('aiogram', 'matplotlib') if m in sys.modules]]))"
    )
    run = subprocess.run([sys.executable, "-c", export], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert json.loads(run.stdout.splitlines()[-1]) == [0, []]
    header = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert "Статус" in header and "Причина отказа" in header
