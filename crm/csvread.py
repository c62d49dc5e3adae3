"""CSV files as people really have them, turned into text and records.

Encodings: a BOM decides (UTF-8, UTF-16 LE or BE); without one the file is UTF-8 when it decodes
strictly, else Windows-1251 (Excel's "CSV" in a Russian Windows). cp1251 maps nearly every byte
to some letter, so "fits" is defined honestly: the file fits an encoding when it decodes with no
undefined byte (cp1251 has one, 0x98) and no control character other than tab, CR and LF (a
spreadsheet's binary .xlsx, or UTF-16 without a BOM, is full of them); and a file that is mostly
well-formed UTF-8 with a stray byte is UTF-8 gone wrong, not cp1251 (which would turn every
Russian letter of it into two wrong ones). What fits nothing is refused naming the line of the
first bad byte.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

# A quoted field may span lines (an address typed with Enter); a quote still open after this
# many lines is a broken quote, and only its first line is lost.
MAX_RECORD_LINES = 5

_BOMS = (
    (codecs.BOM_UTF8, "utf-8", "not UTF-8, as its BOM says"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "not UTF-16, as its BOM says"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "not UTF-16, as its BOM says"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UNDECODED = re.compile(r"[\udc80-\udcff]")  # bytes that surrogateescape kept
_WELL_FORMED = re.compile(r"[^\x00-\x7f\udc80-\udcff]")  # non-ASCII that decoded as UTF-8


class UnreadableFile(ValueError):
    """The file as a whole is unusable (not text, no header we understand, empty)."""


def _line_of(prefix: str) -> int:
    """The line a character right after `prefix` is on, counted as str.splitlines() counts."""
    return len((prefix + "x").splitlines())


def _strict(data: bytes, encoding: str, wrong: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = _line_of(data[: exc.start].decode(encoding, errors="replace"))
        byte = data[exc.start]
        raise UnreadableFile(f"line {line}: byte 0x{byte:02X} is {wrong}") from None
    control = _CONTROL.search(text)
    if control:
        raise UnreadableFile(
            f"line {_line_of(text[: control.start()])}: control character "
            f"U+{ord(control.group()):04X}, so this is not a text file (save it as CSV)"
        )
    return text


def decode(data: bytes) -> str:
    for bom, encoding, wrong in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom) :], encoding, wrong)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        escaped = data.decode("utf-8", errors="surrogateescape")
        if len(_WELL_FORMED.findall(escaped)) > len(_UNDECODED.findall(escaped)):
            line = _line_of(data[: exc.start].decode("utf-8", errors="replace"))
            raise UnreadableFile(
                f"line {line}: byte 0x{data[exc.start]:02X} is not UTF-8, "
                "though the rest of the file is"
            ) from None
        return _strict(data, "cp1251", "neither UTF-8 nor Windows-1251")
    return _strict(data, "utf-8", "not UTF-8")


def sniff_delimiter(header: str) -> str:
    """The separator the header line uses most, outside quotes."""
    outside = re.sub(r'"[^"]*"', "", header)
    return max((";", ",", "\t"), key=outside.count)


def records(lines: list[str]) -> Iterator[tuple[int, str | None]]:
    """(first line number, the record's text) per logical record; None for a broken quote."""
    index = 0
    while index < len(lines):
        start = index
        text = lines[index]
        index += 1
        while text.count('"') % 2 and index < len(lines) and index - start < MAX_RECORD_LINES:
            text += "\n" + lines[index]
            index += 1
        if text.count('"') % 2:
            index = start + 1
            yield start + 1, None
        else:
            yield start + 1, text
