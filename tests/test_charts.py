"""Every report renders a PNG of the fixed size, with data and without; captions fit Telegram."""

from __future__ import annotations

import contextlib
import csv
import io
import struct
import threading
from datetime import UTC, datetime

import pytest

from bot import charts
from bot.callbacks import Kind
from bot.cards import MAX_CAPTION
from bot.charts import (
    CHART_SIZE,
    Names,
    Report,
    draw_png,
    kind_title,
    render_png,
    summary,
)
from bot.i18n import create_i18n, speaking
from bot.report_csv import CsvNames, to_csv
from config.playbook import load_playbook
from crm import reports
from crm.csvwrite import FORMATS
from crm.reports import Period

PERIOD = Period(datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC), "main")
NAMES = Names(load_playbook(), "ru")

FULL: dict[Kind, object] = {
    Kind.FUNNEL: (
        reports.FunnelStage("new", 10, 1_000_000, None),
        reports.FunnelStage("in_progress", 6, 800_000, 0.6),
        reports.FunnelStage("paid", 2, 300_000, 1 / 3),
        reports.FunnelStage("refused", 3, 200_000, None),
    ),
    Kind.LOST: (reports.LostReason("price", 3, 0.75, 90_000), reports.LostReason("", 1, 0.25, 0)),
    Kind.SOURCES: (reports.SourceRow("site", 5, 2, 200_000, 0.4),),
    Kind.REPS: (
        reports.RepRow(1, "Анна", 40, 25, 0.625, (("busy", 10),), 3, 450_000, 2.5, 1),
        reports.RepRow(2, "Boris", 0, 0, None, (), 0, 0, None, 0),
    ),
    Kind.DYNAMICS: (reports.DynamicsRow("2026-11-16", 5, 1, 2),
                    reports.DynamicsRow("2026-11-23", 7, 3, 0)),
    Kind.SEASONALITY: tuple(reports.SeasonRow(m, m, m // 2, 1) for m in range(1, 13)),
    Kind.FORECAST: (reports.ForecastRow("new", 4, 400_000, 0.25, 100_000),),
    Kind.DIALING: reports.Dialing(
        ((0, 10), (1, 4), (3, 1)), (reports.HourRow(10, 12, 6), reports.HourRow(15, 5, 1)), 2
    ),
}
EMPTY: dict[Kind, object] = {
    Kind.FUNNEL: (reports.FunnelStage("new", 0, 0, None),),
    Kind.LOST: (),
    Kind.SOURCES: (),
    Kind.REPS: (),
    Kind.DYNAMICS: (),
    Kind.SEASONALITY: tuple(reports.SeasonRow(m, 0, 0, 0) for m in range(1, 13)),
    Kind.FORECAST: (reports.ForecastRow("new", 0, 0, 0.0, 0),),
    Kind.DIALING: reports.Dialing((), (), 0),
}


I18N = create_i18n()


def russian() -> contextlib.AbstractContextManager[None]:
    # Per test, not a fixture: pytest-asyncio runs fixtures in a context of their own.
    return speaking(I18N, "ru")


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.parametrize("data", [FULL, EMPTY], ids=["full", "empty"])
@pytest.mark.parametrize("kind", list(Kind))
def test_chart_is_a_png_of_the_fixed_size(kind: Kind, data: dict[Kind, object]) -> None:
    with russian():
        png = draw_png(Report(kind, PERIOD, data[kind]), NAMES)
    assert _png_size(png) == CHART_SIZE
    assert len(png) > 10_000  # a drawn chart, not a blank canvas


async def test_rendering_runs_off_the_loop_in_the_callers_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str]] = []

    def spying_draw(report: Report, names: Names) -> bytes:
        seen.append((threading.current_thread().name, kind_title(report.kind)))
        return draw_png(report, names)

    monkeypatch.setattr(charts, "draw_png", spying_draw)
    report = Report(Kind.FUNNEL, PERIOD, FULL[Kind.FUNNEL])
    with russian():
        png = await render_png(report, NAMES)
    assert _png_size(png) == CHART_SIZE
    [(thread, title)] = seen
    assert thread != threading.current_thread().name and thread.startswith("charts")
    assert title == "Воронка"


@pytest.mark.parametrize("kind", list(Kind))
def test_caption_is_telegram_html_within_the_limit(kind: Kind) -> None:
    with russian():
        text = summary(Report(kind, PERIOD, FULL[kind]), NAMES)
    assert text.startswith("<b>") and "26.10–24.11.2026 · main" in text
    assert len(text) <= MAX_CAPTION


def test_caption_names_stages_in_russian_and_money_in_roubles() -> None:
    with russian():
        text = summary(Report(Kind.FUNNEL, PERIOD, FULL[Kind.FUNNEL]), NAMES)
    assert text.splitlines()[0] == "<b>Воронка</b> · 26.10–24.11.2026 · main"
    assert "В работе: 6 · 8\u202f000 ₽ · 60%" in text


def test_long_caption_is_cut_at_a_line() -> None:
    many = tuple(reports.RepRow(i, f"rep <{i}>", i, 0, 0.0, (), 0, 0, None, 0) for i in range(99))
    with russian():
        text = summary(Report(Kind.REPS, PERIOD, many), NAMES)
    assert len(text) <= MAX_CAPTION and text.endswith("0")
    assert "rep &lt;0&gt;" in text


def test_empty_caption_says_so() -> None:
    with russian():
        assert "Нет данных за период" in summary(Report(Kind.LOST, PERIOD, ()), NAMES)


def test_report_csv_is_what_russian_excel_opens_with_names_not_keys() -> None:
    with russian():
        text = to_csv(Report(Kind.LOST, PERIOD, FULL[Kind.LOST]), CsvNames(load_playbook(), "ru"),
                      FORMATS["ru"], bom=True)
        dialing = to_csv(Report(Kind.DIALING, PERIOD, FULL[Kind.DIALING]),
                         CsvNames(load_playbook(), "ru"), FORMATS["ru"], bom=False)
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]), delimiter=";")) == [
        ["Причина", "Сделок", "Доля", "Сумма, ₽"],
        ["Дорого", "3", "0,7500", "900,00"],
        ["без причины", "1", "0,2500", "0,00"],
    ]
    assert dialing.splitlines()[1:3] == ["Дозвон с попытки;1;10;", "Дозвон с попытки;2;4;"]


def test_report_csv_in_english_and_its_text_cells_neutralised() -> None:
    rows = (reports.RepRow(1, '=HYPERLINK("http://evil","x")', 4, 2, 0.5, (("busy", 2),), 1,
                           -150, None, 0),)
    sources = (reports.SourceRow("+cmd", 1, 0, 0, 0.0),)
    with speaking(I18N, "en"):
        text = to_csv(Report(Kind.REPS, PERIOD, rows), CsvNames(load_playbook(), "en"),
                      FORMATS["en"], bom=False)
        other = to_csv(Report(Kind.SOURCES, PERIOD, sources), CsvNames(load_playbook(), "en"),
                       FORMATS["en"], bom=False)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["Employee ID", "Rep", "Calls"]
    # Text is neutralised, numbers (a negative amount too) stay numbers; button names, not keys.
    assert table[1] == ["1", '\'=HYPERLINK("http://evil","x")', "4", "2", "0.5000", "1", "-1.50",
                        "", "0", "Busy: 2"]
    assert list(csv.reader(io.StringIO(other)))[1][0] == "'+cmd"
