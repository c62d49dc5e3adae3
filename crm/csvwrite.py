"""The one CSV writer of the product: `export`, `report --csv` and the report's file in the bot.

Two formats. "ru" is what Excel in a Russian locale opens in columns: `;` between cells (its list
separator, because `,` is its decimal mark) and numbers with a decimal comma; "en" has `,` and a
decimal point. A file starts with a UTF-8 BOM, without which Excel reads UTF-8 as the ANSI code
page; text for stdout goes without one, where a BOM is junk at the head of a pipe.

Cells are typed. Numbers we compute (int, Decimal) are written as numbers, a negative one too.
Text is neutralised by the OWASP rule for CSV injection: a text cell starting with = + - @ tab
or CR gets a leading `'`, so a spreadsheet shows it instead of running it as a formula (a
contact named =HYPERLINK("http://evil","x") stays a name).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_E164_LIST = re.compile(r"\+\d{6,15}(, \+\d{6,15})*")


@dataclass(frozen=True)
class CsvFormat:
    delimiter: str
    decimal: str


FORMATS = {"ru": CsvFormat(";", ","), "en": CsvFormat(",", ".")}


def csv_format(lang: str) -> CsvFormat:
    """The format of a language, as playbook labels pick theirs: English, or else Russian."""
    return FORMATS["en"] if lang == "en" else FORMATS["ru"]


@dataclass(frozen=True)
class Phones:
    """A cell of phone numbers.

    Written as it is when every number is E.164 (a plus and digits, as crm.phones stores them):
    such a cell can at most be read as a positive number, no formula can hide in it, while a
    quote in front would show in every phone cell and break copying numbers into a dialler.
    Anything else in a phone cell is neutralised like any text.
    """

    numbers: Sequence[str]


Cell = str | int | Decimal | Phones | None


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unneutralise(text: str) -> str:
    """A cell as it was before neutralise(), so an exported file imports back unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def _cell(value: Cell, fmt: CsvFormat) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError("a CSV cell is text or a number, not a bool")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", fmt.decimal)
    if isinstance(value, Phones):
        text = ", ".join(value.numbers)
        return text if not text or _E164_LIST.fullmatch(text) else neutralise(text)
    return neutralise(value)


class CsvWriter:
    """Rows in, CSV text out, chunk by chunk (an export of a million rows stays flat)."""

    def __init__(self, fmt: CsvFormat, *, bom: bool) -> None:
        self.format = fmt
        self._pending_bom = bom
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, delimiter=fmt.delimiter, lineterminator="\r\n")

    def rows(self, rows: Iterable[Sequence[Cell]]) -> str:
        for row in rows:
            self._writer.writerow([_cell(value, self.format) for value in row])
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        if self._pending_bom:
            self._pending_bom = False
            text = BOM + text
        return text

