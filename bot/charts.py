"""Reports as Telegram sends them: a PNG chart and a short HTML caption (the CSV: report_csv).

The figures come from crm.reports (SQL aggregates). Charts are drawn with matplotlib's object
API on the Agg canvas (no pyplot global state) in one worker thread, so the event loop never
waits on drawing; the caller's context is copied into the thread so `_()` speaks the user's
language there too. Every chart is CHART_SIZE pixels whatever the data, also when empty.
"""

from __future__ import annotations

import asyncio
import contextvars
import html
import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiogram.utils.i18n import gettext as _

from bot.callbacks import Kind
from bot.cards import MAX_CAPTION
from config.playbook import Playbook
from crm import reports
from crm.context import Crm
from crm.reports import Period

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CHART_SIZE = (1200, 800)
_DPI = 100
SEASON_YEARS = 3
_COLORS = {"new": "#4C9BE8", "won": "#3FB950", "lost": "#E5534B", "muted": "#8B949E"}
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
class Names:
    """Keys of the playbook as people read them, in one language."""

    playbook: Playbook
    lang: str

    def stage(self, key: str) -> str:
        spec = next((s for s in self.playbook.stages if s.key == key), None)
        return spec.name.get(self.lang) if spec else key

    def reason(self, key: str) -> str:
        label = self.playbook.reasons.get(key)
        return label.get(self.lang) if label else (key or _("no reason"))

    def button(self, key: str) -> str:
        spec = self.playbook.buttons.get(key)
        return spec.label.get(self.lang) if spec else key

    def source(self, key: str) -> str:
        return key or _("unknown")

    def color(self, stage: str) -> str:
        spec = next((s for s in self.playbook.stages if s.key == stage), None)
        return spec.color if spec else _COLORS["muted"]


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


def rub(kopecks: int) -> str:
    return f"{kopecks // 100:,}".replace(",", "\u202f") + " ₽"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


# --- charts ------------------------------------------------------------------------------

async def render_png(report: Report, names: Names) -> bytes:
    """The chart, drawn in the charts thread with the caller's language."""
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_drawing, context.run, draw_png, report, names)


def draw_png(report: Report, names: Names) -> bytes:
    # matplotlib takes a second to import: only a process that draws pays for it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(CHART_SIZE[0] / _DPI, CHART_SIZE[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(f"{kind_title(report.kind)} · {period_text(report.period)}", fontsize=16)
    if _is_empty(report):
        figure.text(0.5, 0.5, _("No data for this period"), ha="center", va="center", fontsize=20,
                    color=_COLORS["muted"])
    else:
        _DRAWERS[report.kind](figure, report.data, names)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def _is_empty(report: Report) -> bool:
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


def _hbars(ax: Axes, labels: Sequence[str], values: Sequence[float], notes: Sequence[str],
           colors: Sequence[str] | str) -> None:
    """Horizontal bars top-down with a note at the end of each."""
    positions = list(range(len(labels)))[::-1]
    ax.barh(positions, values, color=colors)
    ax.set_yticks(positions, labels)
    top = max(values, default=0) or 1
    for y, value, note in zip(positions, values, notes, strict=True):
        ax.text(value + top * 0.01, y, note, va="center", fontsize=11)
    ax.set_xlim(0, top * 1.35)
    ax.spines[["top", "right"]].set_visible(False)


def _draw_funnel(figure: Figure, rows: tuple[reports.FunnelStage, ...], names: Names) -> None:
    ax = figure.add_subplot()
    notes = [
        f"{r.entered} · {rub(r.amount)}" + (f" · {_pct(r.conversion)}" if r.conversion is not None
                                           else "")
        for r in rows
    ]
    _hbars(ax, [names.stage(r.stage) for r in rows], [r.entered for r in rows], notes,
           [names.color(r.stage) for r in rows])
    ax.set_xlabel(_("deals entering the stage · amount · conversion from the previous stage"))


def _draw_lost(figure: Figure, rows: tuple[reports.LostReason, ...], names: Names) -> None:
    pie, bars = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    labels = [names.reason(r.reason) for r in rows]
    pie.pie([r.deals for r in rows], labels=labels, autopct="%1.0f%%", startangle=90)
    _hbars(bars, labels, [r.amount / 100 for r in rows],
           [f"{r.deals} · {rub(r.amount)}" for r in rows], _COLORS["lost"])
    bars.set_xlabel(_("lost amount, ₽"))


def _draw_sources(figure: Figure, rows: tuple[reports.SourceRow, ...], names: Names) -> None:
    ax = figure.add_subplot()
    labels = [names.source(r.source) for r in rows]
    positions = list(range(len(rows)))
    ax.bar([p - 0.2 for p in positions], [r.deals for r in rows], 0.4, label=_("new deals"),
           color=_COLORS["new"])
    ax.bar([p + 0.2 for p in positions], [r.won for r in rows], 0.4, label=_("won"),
           color=_COLORS["won"])
    for p, r in zip(positions, rows, strict=True):
        ax.text(p, r.deals, _pct(r.win_rate), ha="center", va="bottom", fontsize=11)
    ax.set_xticks(positions, labels, rotation=20)
    ax.legend()


def _draw_reps(figure: Figure, rows: tuple[reports.RepRow, ...], names: Names) -> None:
    bars, table = figure.subplots(2, 1, gridspec_kw={"height_ratios": [1.4, 1]})
    positions = list(range(len(rows)))
    for offset, values, label, color in (
        (-0.27, [r.calls for r in rows], _("calls"), _COLORS["new"]),
        (0.0, [r.answered for r in rows], _("answered"), "#F2B134"),
        (0.27, [r.won for r in rows], _("won"), _COLORS["won"]),
    ):
        bars.bar([p + offset for p in positions], values, 0.27, label=label, color=color)
    bars.set_xticks(positions, [r.name for r in rows])
    bars.legend()
    table.axis("off")
    cells = [
        [r.name, str(r.calls), _pct(r.reach_rate), str(r.won), rub(r.won_amount),
         "—" if r.mean_days_to_close is None else f"{r.mean_days_to_close:.1f}", str(r.overdue)]
        for r in rows[:12]
    ]
    table.table(
        cellText=cells, loc="center",
        colLabels=[_("rep"), _("calls"), _("reach"), _("won"), _("amount"), _("days to close"),
                   _("overdue")],
    ).scale(1, 1.4)


def _draw_dynamics(figure: Figure, rows: tuple[reports.DynamicsRow, ...], names: Names) -> None:
    ax = figure.add_subplot()
    buckets = [r.bucket for r in rows]
    for values, label, color in (
        ([r.new for r in rows], _("new"), _COLORS["new"]),
        ([r.won for r in rows], _("won"), _COLORS["won"]),
        ([r.lost for r in rows], _("lost"), _COLORS["lost"]),
    ):
        ax.plot(buckets, values, marker="o", label=label, color=color)
    ax.tick_params(axis="x", rotation=30)
    ax.legend()
    ax.grid(alpha=0.3)


def _draw_seasonality(figure: Figure, rows: tuple[reports.SeasonRow, ...], names: Names) -> None:
    ax = figure.add_subplot()
    months = [r.month for r in rows]
    for offset, values, label, color in (
        (-0.27, [r.new for r in rows], _("new"), _COLORS["new"]),
        (0.0, [r.won for r in rows], _("won"), _COLORS["won"]),
        (0.27, [r.lost for r in rows], _("lost"), _COLORS["lost"]),
    ):
        ax.bar([m + offset for m in months], values, 0.27, label=label, color=color)
    ax.set_xticks(months, [str(m) for m in months])
    ax.set_xlabel(_("month of the year"))
    ax.legend()


def _draw_forecast(figure: Figure, rows: tuple[reports.ForecastRow, ...], names: Names) -> None:
    ax = figure.add_subplot()
    positions = list(range(len(rows)))
    ax.bar([p - 0.2 for p in positions], [r.open_amount / 100 for r in rows], 0.4,
           label=_("open amount, ₽"), color=_COLORS["muted"])
    ax.bar([p + 0.2 for p in positions], [r.weighted_amount / 100 for r in rows], 0.4,
           label=_("expected, ₽"), color=_COLORS["won"])
    for p, r in zip(positions, rows, strict=True):
        ax.text(p, r.open_amount / 100, f"{r.open_deals} · {_pct(r.win_rate)}", ha="center",
                va="bottom", fontsize=11)
    ax.set_xticks(positions, [names.stage(r.stage) for r in rows])
    ax.legend()


def _draw_dialing(figure: Figure, data: reports.Dialing, names: Names) -> None:
    attempts, hours = figure.subplots(1, 2)
    attempts.bar([str(n + 1) for n, _count in data.reached_after],
                 [count for _n, count in data.reached_after], color=_COLORS["new"])
    attempts.set_xlabel(_("attempt that reached the client"))
    attempts.set_ylabel(_("times"))
    hours.bar([r.hour for r in data.by_hour], [r.attempts for r in data.by_hour],
              color=_COLORS["muted"], label=_("attempts"))
    hours.bar([r.hour for r in data.by_hour], [r.reached for r in data.by_hour],
              color=_COLORS["won"], label=_("reached"))
    hours.set_xlabel(_("client's local hour"))
    hours.set_xticks(range(0, 24, 3))
    hours.legend()


_DRAWERS: dict[Kind, Callable[[Figure, Any, Names], None]] = {
    Kind.FUNNEL: _draw_funnel,
    Kind.LOST: _draw_lost,
    Kind.SOURCES: _draw_sources,
    Kind.REPS: _draw_reps,
    Kind.DYNAMICS: _draw_dynamics,
    Kind.SEASONALITY: _draw_seasonality,
    Kind.FORECAST: _draw_forecast,
    Kind.DIALING: _draw_dialing,
}


# --- captions ----------------------------------------------------------------------------

def period_text(period: Period) -> str:
    last = period.end - timedelta(seconds=1)
    return f"{period.start:%d.%m}–{last:%d.%m.%Y}"


def summary(report: Report, names: Names) -> str:
    """The photo caption: title, period, team and the headline figures, in Telegram HTML."""
    head = f"<b>{html.escape(kind_title(report.kind))}</b> · {period_text(report.period)}"
    if report.period.team:
        head += " · " + html.escape(report.period.team)
    lines = [head]
    lines += _SUMMARIES[report.kind](report.data, names) if not _is_empty(report) else [
        _("No data for this period")
    ]
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
        f"{_e(names.stage(r.stage))}: {r.entered} · {rub(r.amount)}"
        + (f" · {_pct(r.conversion)}" if r.conversion is not None else "")
        for r in rows
    ]


def _sum_lost(rows: tuple[reports.LostReason, ...], names: Names) -> list[str]:
    return [f"{_e(names.reason(r.reason))}: {r.deals} ({_pct(r.share)}) · {rub(r.amount)}"
            for r in rows]


def _sum_sources(rows: tuple[reports.SourceRow, ...], names: Names) -> list[str]:
    return [
        _("{source}: {deals} deals, {won} won ({rate}) · {amount}").format(
            source=_e(names.source(r.source)), deals=r.deals, won=r.won, rate=_pct(r.win_rate),
            amount=rub(r.won_amount),
        )
        for r in rows
    ]


def _sum_reps(rows: tuple[reports.RepRow, ...], names: Names) -> list[str]:
    return [
        _("{name}: {calls} calls, reach {reach}, won {won} · {amount}, overdue {overdue}").format(
            name=_e(r.name), calls=r.calls, reach=_pct(r.reach_rate), won=r.won,
            amount=rub(r.won_amount), overdue=r.overdue,
        )
        for r in rows
    ]


def _sum_dynamics(rows: tuple[reports.DynamicsRow, ...], names: Names) -> list[str]:
    return [_("{bucket}: new {new}, won {won}, lost {lost}").format(
        bucket=r.bucket, new=r.new, won=r.won, lost=r.lost) for r in rows[-12:]]


def _sum_seasonality(rows: tuple[reports.SeasonRow, ...], names: Names) -> list[str]:
    busiest = max(rows, key=lambda r: r.new)
    return [
        _("Over {years} years; busiest month: {month}").format(
            years=SEASON_YEARS, month=busiest.month),
        *(_("{bucket}: new {new}, won {won}, lost {lost}").format(
            bucket=r.month, new=r.new, won=r.won, lost=r.lost) for r in rows if r.new or r.won),
    ]


def _sum_forecast(rows: tuple[reports.ForecastRow, ...], names: Names) -> list[str]:
    total = sum(r.weighted_amount for r in rows)
    return [
        _("Expected: {amount}").format(amount=rub(total)),
        *(f"{_e(names.stage(r.stage))}: {r.open_deals} · {rub(r.open_amount)} × "
          f"{_pct(r.win_rate)} = {rub(r.weighted_amount)}" for r in rows),
    ]


def _sum_dialing(data: reports.Dialing, names: Names) -> list[str]:
    reached = sum(n for _m, n in data.reached_after)
    lines = [
        _("Reached at attempt {n}: {count} ({share})").format(
            n=misses + 1, count=count, share=_pct(count / reached))
        for misses, count in data.reached_after
    ]
    lines.append(_("Ladders run out: {n}").format(n=data.gave_up))
    best = sorted((r for r in data.by_hour if r.attempts >= 5), key=lambda r: -r.reach_rate)[:3]
    if best:
        lines.append(_("Best hours: {hours}").format(
            hours=", ".join(f"{r.hour}:00 ({_pct(r.reach_rate)})" for r in best)))
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
