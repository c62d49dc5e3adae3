"""Long work shows progress on a terminal and nothing in a script (cli/progress.py): import and
export as real `nextstep` processes with stderr a terminal (a pty) or a pipe; the ticker for
work of unknown size (migrations, reports) on its own."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from cli.progress import busy, progress_bar

ROOT = Path(__file__).resolve().parent.parent
ROWS = 2500  # more than one import chunk and more than two export pages


def nextstep(cwd: Path, *args: str, terminal: bool) -> tuple[str, str]:
    """Run `nextstep ARGS` with stderr on a pty (as in a shell) or a pipe: (stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env.update(PYTHONPATH=str(ROOT), NEXTSTEP_DATABASE_URL=f"sqlite://{cwd / 'db.sqlite3'}")
    master, slave = pty.openpty() if terminal else (-1, subprocess.PIPE)
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=slave, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    if not terminal:
        return done.stdout.decode(), done.stderr.decode()
    os.close(slave)
    err = b""
    try:
        while chunk := os.read(master, 65536):
            err += chunk
    except OSError:  # EIO: the pty's other end is closed and all was read
        pass
    finally:
        os.close(master)
    return done.stdout.decode(), err.decode()


def contacts_csv(path: Path) -> Path:
    lines = ["name,phone"] + [f"Client {n},+7495{n:07d}" for n in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_and_export_in_a_script_write_only_their_output(tmp_path: Path) -> None:
    out, err = nextstep(tmp_path, "import", str(contacts_csv(tmp_path / "c.csv")), terminal=False)
    assert out.startswith(f"imported {ROWS},") and err == ""
    out, err = nextstep(tmp_path, "export", "contacts", terminal=False)
    assert len(out.splitlines()) == ROWS + 1 and err == ""


def test_import_and_export_on_a_terminal_draw_a_bar_to_the_end(tmp_path: Path) -> None:
    out, err = nextstep(tmp_path, "import", str(contacts_csv(tmp_path / "c.csv")), terminal=True)
    assert out.startswith(f"imported {ROWS},")
    assert f"] 2000/{ROWS}" in err and err.endswith(f"[{'#' * 30}] {ROWS}/{ROWS}\r\n")
    out, err = nextstep(tmp_path, "export", "contacts", terminal=True)
    assert len(out.splitlines()) == ROWS + 1  # the CSV alone on stdout
    assert f"] 1000/{ROWS}" in err and f"] 2000/{ROWS}" in err
    assert err.endswith(f"[{'#' * 30}] {ROWS}/{ROWS}\r\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_work_of_unknown_size_ticks_on_a_terminal_and_wipes_its_line() -> None:
    screen = Terminal()
    async with busy("migrating", screen, every=0.01):
        await asyncio.sleep(0.1)
    assert "\rmigrating… 0 s" in screen.getvalue()
    assert screen.getvalue().endswith("\r\x1b[K")


async def test_off_a_terminal_nothing_is_drawn() -> None:
    script = io.StringIO()
    async with busy("migrating", script, every=0.01):
        await asyncio.sleep(0.05)
    assert script.getvalue() == ""
    assert progress_bar(script) is None


async def test_quick_work_draws_nothing() -> None:
    screen = Terminal()
    async with busy("migrating", screen, every=10):
        pass
    assert screen.getvalue() == ""
