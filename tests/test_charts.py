"""Every report renders a PNG of the fixed size, with data and without; captions fit Telegram."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import struct
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from bot import charts
from bot.callbacks import Kind
from bot.cards import MAX_CAPTION
from bot.charts import (
    CHART_SIZE,
    Names,
    Report,
    draw,
    draw_png,
    kind_title,
    period_text,
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
    assert text.startswith("<b>") and "26.10.2026–24.11.2026 · main" in text
    assert len(text) <= MAX_CAPTION


def test_caption_names_stages_in_russian_and_money_in_roubles() -> None:
    with russian():
        text = summary(Report(Kind.FUNNEL, PERIOD, FULL[Kind.FUNNEL]), NAMES)
    assert text.splitlines()[0] == "<b>Воронка</b> · 26.10.2026–24.11.2026 · main"
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


# --- what the charts say: their Figure's tick labels and texts, not pixels ---------------------

def _figure(kind: Kind, data: object, lang: str = "ru") -> Figure:
    with speaking(I18N, lang):
        figure = draw(Report(kind, PERIOD, data), Names(load_playbook(), lang))
    figure.canvas.draw()  # tick labels are formatted at drawing
    return figure


def _texts(items: Iterable[Text]) -> list[str]:
    return [t.get_text() for t in items]


def _says(ax: Axes) -> list[str]:
    return _texts(ax.texts)


WHOLE = re.compile(r"−?\d{1,3}(\u202f\d{3})*")  # 12 345: thousands apart by a narrow space


@pytest.mark.parametrize(("kind", "data", "axis"), [
    (Kind.FUNNEL, (reports.FunnelStage("new", 3, 0, None),
                   reports.FunnelStage("in_progress", 1, 0, 1 / 3)), "x"),
    (Kind.SOURCES, (reports.SourceRow("site", 2, 1, 0, 0.5),), "y"),
    (Kind.REPS, (reports.RepRow(1, "Анна", 3, 1, 1 / 3, (), 1, 0, None, 0),), "y"),
    (Kind.DYNAMICS, (reports.DynamicsRow("2026-11-16", 1, 0, 2),), "y"),
    (Kind.SEASONALITY, tuple(reports.SeasonRow(m, m % 3, 0, 0) for m in range(1, 13)), "y"),
    (Kind.DIALING, reports.Dialing(((0, 2), (1, 1)), (reports.HourRow(10, 3, 1),), 0), "y"),
], ids=lambda v: v.value if isinstance(v, Kind) else "")
def test_counts_are_ticked_in_whole_numbers(kind: Kind, data: object, axis: str) -> None:
    figure = _figure(kind, data)
    for ax in figure.axes:
        if not ax.axison or not ax.patches:  # the reps' table, the pie
            continue
        labels = _texts(ax.get_xticklabels() if axis == "x" else ax.get_yticklabels())
        assert labels and all(WHOLE.fullmatch(label) for label in labels), labels


def test_counts_and_amounts_have_their_thousands_apart() -> None:
    rows = (reports.FunnelStage("new", 12_345, 1_000_000_00, None),
            reports.FunnelStage("in_progress", 2_000, 0, 0.16))
    [ax] = _figure(Kind.FUNNEL, rows).axes
    assert "12\u202f345 · 1\u202f000\u202f000 ₽" in _says(ax)
    assert "10\u202f000" in _texts(ax.get_xticklabels())
    [_pie, bars] = _figure(Kind.LOST, (reports.LostReason("price", 1_500, 1.0, 250_000_00),)).axes
    assert "250\u202f000" in _texts(bars.get_xticklabels())
    with russian():
        text = summary(Report(Kind.FUNNEL, PERIOD, rows), NAMES)
    assert "Новый лид: 12\u202f345 · 1\u202f000\u202f000 ₽" in text


@pytest.mark.parametrize(("lang", "january", "december"), [
    ("ru", "Январь", "Декабрь"), ("en", "January", "December"),
])
def test_seasonality_names_the_months(lang: str, january: str, december: str) -> None:
    [ax] = _figure(Kind.SEASONALITY, FULL[Kind.SEASONALITY], lang).axes
    labels = _texts(ax.get_xticklabels())
    assert len(labels) == 12 and (labels[0], labels[-1]) == (january, december)
    with speaking(I18N, lang):
        text = summary(Report(Kind.SEASONALITY, PERIOD, FULL[Kind.SEASONALITY]),
                       Names(load_playbook(), lang))
    assert f": {december}" in text.splitlines()[1]  # the busiest month
    assert text.splitlines()[-1].startswith(f"{december}: ")


def test_a_period_shows_the_year_at_both_ends() -> None:
    assert period_text(PERIOD) == "26.10.2026–24.11.2026"
    winter = Period(datetime(2026, 12, 15, tzinfo=UTC), datetime(2027, 1, 15, tzinfo=UTC))
    assert period_text(winter) == "15.12.2026–14.01.2027"
    with russian():
        figure = draw(Report(Kind.FUNNEL, winter, FULL[Kind.FUNNEL]), NAMES)
    assert figure.get_suptitle() == "Воронка · 15.12.2026–14.01.2027"


@pytest.mark.parametrize(("lang", "no_data"), [
    ("ru", "Нет данных за период"), ("en", "No data for this period"),
])
def test_a_panel_without_data_says_so_instead_of_an_empty_axis(lang: str, no_data: str) -> None:
    def empty(ax: Axes) -> bool:
        return not ax.axison and _says(ax) == [no_data] and not ax.patches

    # Reached nobody yet, though dialled: the attempts panel says so, the hours are drawn.
    attempts, hours = _figure(
        Kind.DIALING, reports.Dialing((), (reports.HourRow(10, 4, 0),), 0), lang
    ).axes
    assert empty(attempts) and hours.axison and hours.patches
    # Reps with no calls and nothing won: no bars of zero height, the table still lists them.
    idle = (reports.RepRow(2, "Boris", 0, 0, None, (), 0, 0, None, 3),)
    bars, table = _figure(Kind.REPS, idle, lang).axes
    assert empty(bars) and table.tables
    [_pie, amounts] = _figure(Kind.LOST, (reports.LostReason("price", 2, 1.0, 0),), lang).axes
    assert empty(amounts)
    for kind in Kind:
        assert all(empty(ax) for ax in _figure(kind, EMPTY[kind], lang).axes), kind
