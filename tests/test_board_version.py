"""board.version: the board's version reaches the browser sealed: it reads back only under
the same bot token, says nothing of the event ids inside, and a changed byte voids it."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from board.version import seal, unseal
from crm.board import Watermark

TOKEN = "123:secret"
ids = st.integers(min_value=0, max_value=2**31 - 1)
marks = st.builds(
    Watermark, ids, st.lists(st.tuples(ids, st.integers(0, 2**40)), max_size=32).map(tuple)
)


@given(marks)
def test_a_sealed_version_reads_back_under_its_token_only(mark: Watermark) -> None:
    sealed = seal(mark, TOKEN)
    assert unseal(sealed, TOKEN) == mark
    assert unseal(sealed, "123:other") is None
    assert seal(mark, TOKEN) != sealed  # a fresh nonce each time: equal versions look unlike
    plain = json.dumps([mark.top, [list(g) for g in mark.gaps]], separators=(",", ":"))
    assert plain.encode() not in base64.urlsafe_b64decode(sealed)


@given(marks, st.data())
def test_a_changed_byte_voids_it(mark: Watermark, data: st.DataObject) -> None:
    raw = bytearray(base64.urlsafe_b64decode(seal(mark, TOKEN)))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    assert unseal(base64.urlsafe_b64encode(bytes(raw)).decode(), TOKEN) is None


def test_anything_else_is_none() -> None:
    for text in ("", "0", "12345", "%%%", "a" * 40):
        assert unseal(text, TOKEN) is None
