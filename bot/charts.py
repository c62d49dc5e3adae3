"""Reports as Telegram sends them: a PNG chart and a short HTML caption (the CSV: report_csv).

The figures come from crm.reports (SQL aggregates). Charts are drawn with matplotlib's object
API on the Agg canvas (no pyplot global state) in one worker thread, so the event loop never
waits on drawing; the caller's context is copied into the thread so `_()` speaks the user's
language there too. Every chart is CHART_SIZE pixels whatever the data, also when empty.
Each report's drawing is in bot/chart_drawings.py, what they share in bot/chart_axes.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import html
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiogram.utils.i18n import gettext as _

from bot.callbacks import Kind
from bot.cards import MAX_CAPTION
from bot.chart_text import month_name, pct, rub, thousands
from bot.names import Names
from crm import reports
from crm.context import Crm
from crm.reports import Period

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHART_SIZE = (1200, 800)
_DPI = 100
SEASON_YEARS = 3
_drawing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")


def kind_title(kind: Kind) -> str:
    return {
        Kind.FUNNEL: _("Funnel"),
        Kind.LOST: _("Lost reasons"),
        Kind.SOURCES: _("Sources"),
        Kind.REPS: _("Reps"),
        Kind.DYNAMICS: _("Dynamics"),
        Kind.SEASONALITY: _("Seasonality"),
        Kind.FORECAST: _("Forecast"),
        Kind.DIALING: _("Dialing"),
    }[kind]


@dataclass(frozen=True)
class Report:
    kind: Kind
    period: Period
    data: Any  # what crm.reports returns for this kind


async def load(crm: Crm, kind: Kind, period: Period) -> Report:
    """The figures of one report. Seasonality looks back SEASON_YEARS whatever the period."""
    if kind == Kind.SEASONALITY:
        period = Period(period.end - timedelta(days=365 * SEASON_YEARS), period.end, period.team)
    loaders: dict[Kind, Callable[[Crm, Period], Any]] = {
        Kind.FUNNEL: reports.funnel,
        Kind.LOST: reports.lost_reasons,
        Kind.SOURCES: reports.sources,
        Kind.REPS: reports.reps,
        Kind.DYNAMICS: lambda c, p: reports.dynamics(
            c, p, "week" if p.end - p.start <= timedelta(days=120) else "month"
        ),
        Kind.SEASONALITY: reports.seasonality,
        Kind.FORECAST: reports.forecast,
        Kind.DIALING: reports.dialing,
    }
    return Report(kind, period, await loaders[kind](crm, period))


# --- charts ------------------------------------------------------------------------------

async def render_png(report: Report, names: Names) -> bytes:
    """The chart, drawn in the charts thread with the caller's language."""
    return await in_drawing_thread(draw_png, report, names)


async def in_drawing_thread(draw: Callable[..., bytes], *args: Any) -> bytes:
    """`draw(*args)` in the one charts thread, with the caller's context (its language)."""
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_drawing, context.run, draw, *args)


def draw_png(report: Report, names: Names) -> bytes:
    figure = draw(report, names)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def draw(report: Report, names: Names) -> Figure:
    """The chart as a Figure (bot/chart_drawings.py draws each report)."""
    # matplotlib takes a second to import: only a process that draws pays for it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from bot.chart_axes import no_data
    from bot.chart_drawings import DRAWERS

    figure = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(f"{kind_title(report.kind)} · {period_text(report.period)}", fontsize=16)
    if is_empty(report):
        no_data(figure.add_subplot())
    else:
        DRAWERS[report.kind](figure, report.data, names)
    return figure


def is_empty(report: Report) -> bool:
    data = report.data
    if report.kind == Kind.DIALING:
        return not (data.reached_after or data.by_hour)
    if report.kind == Kind.FUNNEL:
        return not any(r.entered for r in data)
    if report.kind == Kind.SEASONALITY:
        return not any(r.new or r.won or r.lost for r in data)
    if report.kind == Kind.FORECAST:
        return not any(r.open_deals for r in data)
    return not data


# --- captions ----------------------------------------------------------------------------

def period_text(period: Period) -> str:
    """Both ends with their year: a period across New Year reads right."""
    last = period.end - timedelta(seconds=1)
    return f"{period.start:%d.%m.%Y}–{last:%d.%m.%Y}"


def summary(report: Report, names: Names) -> str:
    """The photo caption: title, period, team and the headline figures, in Telegram HTML."""
    head = f"<b>{html.escape(kind_title(report.kind))}</b> · {period_text(report.period)}"
    if report.period.team:
        head += " · " + html.escape(report.period.team)
    return fit_caption([head, *summary_lines(report, names)])


def summary_lines(report: Report, names: Names) -> list[str]:
    """The headline figures, one HTML line each."""
    if is_empty(report):
        return [_("No data for this period")]
    return _SUMMARIES[report.kind](report.data, names)


def fit_caption(lines: list[str]) -> str:
    """As many whole lines as a caption holds."""
    text = ""
    for line in lines:  # whole lines only, so no tag is cut in half
        if len(text) + len(line) + 1 > MAX_CAPTION:
            break
        text += ("\n" if text else "") + line
    return text


def _e(text: str) -> str:
    return html.escape(text)


def _sum_funnel(rows: tuple[reports.FunnelStage, ...], names: Names) -> list[str]:
    return [
        f"{_e(names.stage(r.stage))}: {thousands(r.entered)} · {rub(r.amount)}"
        + (f" · {pct(r.conversion)}" if r.conversion is not None else "")
        for r in rows
    ]


def _sum_lost(rows: tuple[reports.LostReason, ...], names: Names) -> list[str]:
    return [f"{_e(names.reason(r.reason))}: {thousands(r.deals)} ({pct(r.share)}) · {rub(r.amount)}"
            for r in rows]


def _sum_sources(rows: tuple[reports.SourceRow, ...], names: Names) -> list[str]:
    return [
        _("{source}: {deals} deals, {won} won ({rate}) · {amount}").format(
            source=_e(names.source(r.source)), deals=thousands(r.deals), won=thousands(r.won),
            rate=pct(r.win_rate), amount=rub(r.won_amount),
        )
        for r in rows
    ]


def _sum_reps(rows: tuple[reports.RepRow, ...], names: Names) -> list[str]:
    return [
        _("{name}: {calls} calls, reach {reach}, won {won} · {amount}, overdue {overdue}").format(
            name=_e(r.name), calls=thousands(r.calls), reach=pct(r.reach_rate),
            won=thousands(r.won), amount=rub(r.won_amount), overdue=thousands(r.overdue),
        )
        for r in rows
    ]


def _sum_dynamics(rows: tuple[reports.DynamicsRow, ...], names: Names) -> list[str]:
    return [_("{bucket}: new {new}, won {won}, lost {lost}").format(
        bucket=r.bucket, new=thousands(r.new), won=thousands(r.won), lost=thousands(r.lost))
        for r in rows[-12:]]


def _sum_seasonality(rows: tuple[reports.SeasonRow, ...], names: Names) -> list[str]:
    busiest = max(rows, key=lambda r: r.new)
    return [
        _("Over {years} years; busiest month: {month}").format(
            years=SEASON_YEARS, month=month_name(busiest.month)),
        *(_("{bucket}: new {new}, won {won}, lost {lost}").format(
            bucket=month_name(r.month), new=thousands(r.new), won=thousands(r.won),
            lost=thousands(r.lost)) for r in rows if r.new or r.won),
    ]


def _sum_forecast(rows: tuple[reports.ForecastRow, ...], names: Names) -> list[str]:
    total = sum(r.weighted_amount for r in rows)
    return [
        _("Expected: {amount}").format(amount=rub(total)),
        *(f"{_e(names.stage(r.stage))}: {thousands(r.open_deals)} · {rub(r.open_amount)} × "
          f"{pct(r.win_rate)} = {rub(r.weighted_amount)}" for r in rows),
    ]


def _sum_dialing(data: reports.Dialing, names: Names) -> list[str]:
    reached = sum(n for _m, n in data.reached_after)
    lines = [
        _("Reached at attempt {n}: {count} ({share})").format(
            n=misses + 1, count=thousands(count), share=pct(count / reached))
        for misses, count in data.reached_after
    ]
    lines.append(_("Ladders run out: {n}").format(n=thousands(data.gave_up)))
    best = sorted((r for r in data.by_hour if r.attempts >= 5), key=lambda r: -r.reach_rate)[:3]
    if best:
        lines.append(_("Best hours: {hours}").format(
            hours=", ".join(f"{r.hour}:00 ({pct(r.reach_rate)})" for r in best)))
    return lines


_SUMMARIES: dict[Kind, Callable[[Any, Names], list[str]]] = {
    Kind.FUNNEL: _sum_funnel,
    Kind.LOST: _sum_lost,
    Kind.SOURCES: _sum_sources,
    Kind.REPS: _sum_reps,
    Kind.DYNAMICS: _sum_dynamics,
    Kind.SEASONALITY: _sum_seasonality,
    Kind.FORECAST: _sum_forecast,
    Kind.DIALING: _sum_dialing,
}
