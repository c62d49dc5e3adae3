"""Reading CSV bytes in every encoding people send, and the product's one CSV writer."""

from __future__ import annotations

import codecs
import csv
import io
from decimal import Decimal

import pytest

from config.playbook import load_playbook
from crm.csvread import UnreadableFile
from crm.csvwrite import FORMATS, CsvWriter, Phones
from crm.importrows import parse_csv

PLAYBOOK = load_playbook()
TABLE = "Имя;Телефон;Город\r\nАнна;8 999 123-45-67;Омск\r\nЁжик «Лес»;+7 912 345-67-89;\r\n"


@pytest.mark.parametrize(
    "data",
    [
        TABLE.encode("utf-8"),
        TABLE.encode("utf-8-sig"),
        TABLE.encode("cp1251"),
        codecs.BOM_UTF16_LE + TABLE.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TABLE.encode("utf-16-be"),
    ],
    ids=["utf-8", "utf-8 BOM", "cp1251", "utf-16 LE", "utf-16 BE"],
)
def test_every_encoding_reads_the_same_rows(data: bytes) -> None:
    parsed = parse_csv(data, PLAYBOOK)
    assert parsed.bad == []
    assert [(r.line, r.name, r.phones, r.zone) for r in parsed.rows] == [
        (2, "Анна", ("+79991234567",), "Asia/Omsk"),
        (3, "Ёжик «Лес»", ("+79123456789",), None),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # cp1251 leaves 0x98 undefined: no encoding fits this file.
        ("Имя;Телефон\nАнна;8 999 123-45-67\n".encode("cp1251") + b"\x98;1\n",
         "line 3: byte 0x98 is neither UTF-8 nor Windows-1251"),
        # UTF-8 with one stray byte: cp1251 would read it, and garble every Russian letter.
        (TABLE.encode() + "Вера;8 912 000-00-00\r\nГлеб;".encode() + b"\xff\r\n",
         "line 5: byte 0xFF is not UTF-8, though the rest of the file is"),
        # An Excel workbook renamed to .csv is a ZIP archive, not text.
        (b"PK\x03\x04\x14\x00\x06\x00", "line 1: control character U+0003"),
        # A UTF-16 file cut in the middle of a character.
        (codecs.BOM_UTF16_LE + "a;b\nc".encode("utf-16-le") + b"d",
         "line 2: byte 0x64 is not UTF-16, as its BOM says"),
    ],
    ids=["undefined in cp1251", "stray byte in UTF-8", "xlsx", "odd UTF-16"],
)
def test_bytes_that_fit_no_encoding_are_refused_naming_the_line(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile) as refused:
        parse_csv(data, PLAYBOOK)
    assert str(refused.value).startswith(message)


def test_text_cells_are_neutralised_numbers_and_our_phones_are_not() -> None:
    writer = CsvWriter(FORMATS["ru"], bom=False)
    text = writer.rows([[
        '=HYPERLINK("http://evil","x")', "+7 (999) 123", "-5", "@SUM(A1)", "\tx", "\rx", "ok",
        -5, Decimal("-1.50"), Phones(["+79991234567", "+74951234567"]), Phones(["=1+2"]), None,
    ]])
    assert next(csv.reader(io.StringIO(text), delimiter=";")) == [
        '\'=HYPERLINK("http://evil","x")', "'+7 (999) 123", "'-5", "'@SUM(A1)", "'\tx", "'\rx",
        "ok", "-5", "-1,50", "+79991234567, +74951234567", "'=1+2", "",
    ]


def test_formats_and_the_bom_only_at_the_head_of_a_file() -> None:
    ru = CsvWriter(FORMATS["ru"], bom=True)
    assert ru.rows([["a", Decimal("12500.50")]]) == "\ufeffa;12500,50\r\n"
    assert ru.rows([["b", 3]]) == "b;3\r\n"
    en = CsvWriter(FORMATS["en"], bom=False)
    assert en.rows([["a, b", Decimal("12500.50")]]) == '"a, b",12500.50\r\n'
