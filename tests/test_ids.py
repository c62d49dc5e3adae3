"""crm.ids.parse_id: ASCII digits within int4, nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crm.ids import MAX_ID, parse_id


@given(st.integers(min_value=0, max_value=MAX_ID))
def test_every_int4_id_reads_back(value: int) -> None:
    assert parse_id(str(value)) == value


@given(st.text(max_size=40))
def test_anything_else_is_none(text: str) -> None:
    parsed = parse_id(text)
    if parsed is not None:
        assert text.isascii() and text.isdigit() and 0 <= parsed <= MAX_ID


def test_the_traps() -> None:
    for bad in ("", "²", "١٢", "-1", "+1", " 1", str(MAX_ID + 1), "9" * 400):
        assert parse_id(bad) is None, bad
    assert parse_id("007") == 7
