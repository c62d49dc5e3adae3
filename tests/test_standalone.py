"""The project stands on its own: nothing reads a folder beside the checkout (the team's notes
folder, or any path outside the checkout) at test or run time, so a plain clone with nothing
beside it passes the test command."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Made by tools and runs, never part of a clone.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache", ".hypothesis",
    ".pytest_cache", "*.sqlite3*", "*.mo",
)
# A path component "shared": the notes folder's name, one level up or absolute.
SHARED = re.compile(r"(^|[/\\])shared([/\\]|$)")
# Reading the fake's schema and sending through it to the bot and back covers every such reader
# the e2e harness has: the fake Bot API, the bot, the store.
REPRESENTATIVE = [
    "tests/e2e/test_workspace.py::test_quick_add_shows_the_card_and_a_duplicate_says_so[sqlite]",
    "tests/test_botapi_schema.py",
]


def _sources() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        if not {".venv", ".git"} & set(path.relative_to(ROOT).parts):
            yield path


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of docstring nodes: prose may name the notes folder, code may not read it."""
    ids = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            ids.add(id(body[0].value))
    return ids


def test_no_source_names_a_shared_path() -> None:
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        prose = _docstrings(tree)
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in prose and SHARED.search(node.value)
        ]
    for path in [ROOT / "pyproject.toml", *sorted((ROOT / ".ci").iterdir())]:
        found += [
            f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if SHARED.search(line)
        ]
    assert not found, "paths outside the checkout:\n" + "\n".join(found)


def test_a_copy_with_nothing_beside_it_passes_end_to_end(tmp_path: Path) -> None:
    copy = tmp_path / "nextstep"
    shutil.copytree(ROOT, copy, ignore=NOT_IN_A_CLONE)
    env = {**os.environ, "PYTHONPATH": str(copy)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *REPRESENTATIVE],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b4 passed\b", result.stdout), result.stdout[-2000:]
