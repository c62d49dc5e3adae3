"""A report grouped by a choice field as Telegram sends it: one chart with a bar series per
option (the option's colour in the legend), a caption with each option's headline figures, and a
CSV whose first column is the option. The figures are crm.reports.grouped's; each option's
caption lines and CSV rows are the plain report's (bot/charts.py, bot/report_csv.py), so a
grouped funnel reads like the funnel.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiogram.utils.i18n import gettext as _

from bot import charts
from bot.chart_axes import count_axis
from bot.chart_text import thousands
from bot.charts import CHART_SIZE, Report
from bot.names import CsvNames, Names
from bot.report_csv import rows
from config.field_spec import FieldSpec
from crm import reports
from crm.context import Crm
from crm.csvwrite import Cell, CsvFormat, CsvWriter
from crm.report_kinds import Kind
from crm.reports import Period

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_DPI = 100
_LOADERS = {Kind.FUNNEL: reports.funnel, Kind.SOURCES: reports.sources}
GROUPABLE = tuple(_LOADERS)  # the reports that keep to one option of a field
_PALETTE = ("#4C9BE8", "#F2B134", "#3FB950", "#A371F7", "#E5534B", "#39C5CF", "#8B949E")


@dataclass(frozen=True)
class Grouped:
    kind: Kind
    period: Period
    field: FieldSpec
    parts: tuple[tuple[str, Report], ...]  # (option key, the report on its deals)


def choice_field(crm: Crm, kind: Kind, key: str) -> FieldSpec | None:
    """The choice field a button names, None when the report or the field cannot be grouped."""
    spec = crm.playbook.field(key)
    return spec if kind in GROUPABLE and spec is not None and spec.choices else None


async def load(crm: Crm, kind: Kind, period: Period, field: FieldSpec) -> Grouped:
    parts = await reports.grouped(crm, period, field.key, _LOADERS[kind])
    return Grouped(kind, period, field,
                   tuple((option, Report(kind, period, data)) for option, data in parts))


def title(kind: Kind, field: FieldSpec, lang: str) -> str:
    return _("{report} by {field}").format(
        report=charts.kind_title(kind), field=field.label.get(lang)
    )


def _head(grouped: Grouped, lang: str) -> str:
    return f"{title(grouped.kind, grouped.field, lang)} · {charts.period_text(grouped.period)}"


def _option(grouped: Grouped, option: str, lang: str) -> str:
    return grouped.field.options[option].get(lang)


# --- chart -------------------------------------------------------------------------------

async def render_png(grouped: Grouped, names: Names) -> bytes:
    return await charts.in_drawing_thread(draw_png, grouped, names)


def draw_png(grouped: Grouped, names: Names) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from bot.chart_axes import no_data

    figure = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(_head(grouped, names.lang), fontsize=16)
    ax = figure.add_subplot()
    if all(charts.is_empty(report) for _option, report in grouped.parts):
        no_data(ax)
    else:
        draw = _funnel if grouped.kind == Kind.FUNNEL else _sources
        draw(ax, grouped, names)
        ax.legend(title=grouped.field.label.get(names.lang))
        ax.spines[["top", "right"]].set_visible(False)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def _series(grouped: Grouped) -> tuple[float, list[tuple[float, str, Report, str]]]:
    """The bar width and, per option, its offset from the category, key, report and colour."""
    width = 0.8 / len(grouped.parts)
    return width, [
        ((n - (len(grouped.parts) - 1) / 2) * width, option, report, _PALETTE[n % len(_PALETTE)])
        for n, (option, report) in enumerate(grouped.parts)
    ]


def _funnel(ax: Axes, grouped: Grouped, names: Names) -> None:
    """Stages top-down, a bar per option: deals that entered the stage, the count at its end."""
    stages = [r.stage for r in grouped.parts[0][1].data]
    positions = list(range(len(stages)))[::-1]
    width, series = _series(grouped)
    for offset, option, report, color in series:
        values = [r.entered for r in report.data]
        ax.barh([p - offset for p in positions], values, width, color=color,
                label=_option(grouped, option, names.lang))
        for y, value in zip(positions, values, strict=True):
            if value:
                ax.text(value, y - offset, f" {thousands(value)}", va="center", fontsize=9)
    ax.set_yticks(positions, [names.stage(s) for s in stages])
    count_axis(ax.xaxis)
    ax.set_xlabel(_("deals entering the stage"))


def _sources(ax: Axes, grouped: Grouped, names: Names) -> None:
    """Sources across, a bar per option: new deals, the won ones on top of each."""
    sources = list(dict.fromkeys(r.source for _o, report in grouped.parts for r in report.data))
    width, series = _series(grouped)
    for offset, option, report, color in series:
        by_source = {r.source: r for r in report.data}
        xs = [p + offset for p in range(len(sources))]
        rows = [by_source.get(s) for s in sources]
        ax.bar(xs, [r.deals if r else 0 for r in rows], width, color=color,
               label=_option(grouped, option, names.lang))
        for x, row in zip(xs, rows, strict=True):
            if row:
                ax.text(x, row.deals, _("won {n}").format(n=thousands(row.won)), ha="center",
                        va="bottom", fontsize=9)
    ax.set_xticks(list(range(len(sources))), [names.source(s) for s in sources], rotation=20)
    count_axis(ax.yaxis)
    ax.set_ylabel(_("new deals"))


# --- caption and CSV ---------------------------------------------------------------------

def summary(grouped: Grouped, names: Names) -> str:
    head = (f"<b>{html.escape(title(grouped.kind, grouped.field, names.lang))}</b>"
            f" · {charts.period_text(grouped.period)}")
    if grouped.period.team:
        head += " · " + html.escape(grouped.period.team)
    lines = [head]
    for option, report in grouped.parts:
        lines.append(f"<b>{html.escape(_option(grouped, option, names.lang))}</b>")
        lines += charts.summary_lines(report, names)
    return charts.fit_caption(lines)


def to_csv(grouped: Grouped, names: CsvNames, fmt: CsvFormat, *, bom: bool) -> str:
    """One table: the field's option first, then the report's own columns."""
    table: list[Sequence[Cell]] = []
    for n, (option, report) in enumerate(grouped.parts):
        header, *body = rows(report, names)
        if n == 0:
            table.append((grouped.field.label.get(names.lang), *header))
        table += [(_option(grouped, option, names.lang), *row) for row in body]
    return CsvWriter(fmt, bom=bom).rows(table)
