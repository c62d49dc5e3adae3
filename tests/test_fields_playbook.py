"""Custom fields in the playbook: the default's fields load; a bad definition names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.playbook import DEFAULT_PLAYBOOK, PlaybookError, load_playbook


def _broken(tmp_path: Path, old: str, new: str) -> tuple[str, list[str]]:
    text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "playbook.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    return str(err.value), path.read_text(encoding="utf-8").splitlines()


def _line(lines: list[str], needle: str, nth: int = 0) -> int:
    return [i for i, line in enumerate(lines, start=1) if needle in line][nth]


def test_default_fields_in_order() -> None:
    pb = load_playbook()
    assert [(f.key, f.of, f.type) for f in pb.fields] == [
        ("city", "contact", "text"), ("product", "deal", "choice"), ("contract_end", "deal", "date")
    ]
    assert list(pb.fields[1].options) == ["basic", "pro", "custom"]
    assert pb.field("product") is pb.fields[1] and pb.field("nope") is None


def test_unknown_type_names_the_line(tmp_path: Path) -> None:
    message, lines = _broken(tmp_path, 'type = "date"', 'type = "datetime"')
    line = _line(lines, 'type = "datetime"')
    assert f"playbook.toml:{line}: fields.2.type" in message


def test_choice_without_options(tmp_path: Path) -> None:
    city = 'label = { ru = "Город", en = "City" }\ntype = '
    message, lines = _broken(tmp_path, city + '"text"', city + '"choice"')
    assert f"playbook.toml:{_line(lines, '[[fields]]')}: fields.0" in message
    assert "needs options" in message


def test_required_in_unknown_stage(tmp_path: Path) -> None:
    message, lines = _broken(
        tmp_path, '# required_in = ["invoice_sent"]', 'required_in = ["invoiced"]'
    )
    assert f"playbook.toml:{_line(lines, 'required_in = [')}: fields.1.required_in" in message
    assert "unknown stage 'invoiced'" in message


def test_two_fields_with_one_key(tmp_path: Path) -> None:
    message, lines = _broken(tmp_path, 'key = "contract_end"', 'key = "city"')
    line = _line(lines, 'key = "city"', 1)
    assert f"playbook.toml:{line}: fields.2.key" in message
