"""A text over Telegram's limit becomes parts cut at paragraphs, lines, words, each within it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.cards import MAX_CAPTION, MAX_TEXT
from bot.long_text import split_text


def test_a_text_that_fits_is_one_part_untouched() -> None:
    assert split_text(" hello \n") == [" hello \n"]
    assert split_text("") == [""]
    assert split_text(" " * 5000) == [""]
    assert split_text("x" * MAX_TEXT) == ["x" * MAX_TEXT]


def test_cut_at_a_paragraph_then_a_line_then_a_word_then_anywhere() -> None:
    paragraph = "word " * 799 + "end."  # 3999 characters
    assert split_text(f"{paragraph}\n\n{paragraph}\nline") == [paragraph, f"{paragraph}\nline"]
    line = "w " * 1500 + "x"  # 3001 characters
    assert split_text(f"{line}\n{line}") == [line, line]
    words = "ab " * 2000  # no line at all: cut at the last space that fits
    parts = split_text(words)
    assert [len(p) for p in parts] == [4094, 1904] and parts[0].endswith("ab")
    assert split_text("y" * 5000) == ["y" * MAX_TEXT, "y" * 904]


def test_a_caption_takes_the_first_part_and_the_rest_follows_as_text() -> None:
    text = "caption " * 700  # 5600 characters
    first, *rest = split_text(text, MAX_TEXT, MAX_CAPTION)
    assert len(first) <= MAX_CAPTION and [len(p) <= MAX_TEXT for p in rest] == [True, True]
    assert " ".join([first, *rest]) == text.strip()


@given(st.text(st.sampled_from("ab \n"), max_size=400), st.integers(4, 60), st.integers(4, 60))
def test_parts_fit_keep_the_order_and_lose_only_whitespace_at_cuts(
    text: str, room: int, first: int
) -> None:
    parts = split_text(text, room, first)
    assert len(parts[0]) <= first and all(len(p) <= room for p in parts[1:])
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())
    assert all(p.strip() for p in parts) or parts == [text]
