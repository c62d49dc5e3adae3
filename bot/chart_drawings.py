"""The drawing of each report on a matplotlib Figure, from the figures crm.reports returns.

Shared formatting (count and money ticks, month names, the no-data panel) is bot/chart_axes.py;
the figure, its title and the whole-report "no data" are bot/charts.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiogram.utils.i18n import gettext as _
from matplotlib.figure import Figure

from bot.callbacks import Kind
from bot.chart_axes import count_axis, hbars, money_axis, no_data
from bot.chart_text import COLORS, month_name, pct, rub, thousands
from crm import reports

if TYPE_CHECKING:
    from bot.charts import Names


def _stage_color(names: Names, stage: str) -> str:
    spec = next((s for s in names.playbook.stages if s.key == stage), None)
    return spec.color if spec else COLORS["muted"]


def _draw_funnel(figure: Figure, rows: tuple[reports.FunnelStage, ...], names: Names) -> None:
    ax = figure.add_subplot()
    notes = [
        f"{thousands(r.entered)} · {rub(r.amount)}"
        + (f" · {pct(r.conversion)}" if r.conversion is not None else "")
        for r in rows
    ]
    hbars(ax, [names.stage(r.stage) for r in rows], [r.entered for r in rows], notes,
          [_stage_color(names, r.stage) for r in rows])
    count_axis(ax.xaxis)
    ax.set_xlabel(_("deals entering the stage · amount · conversion from the previous stage"))


def _draw_lost(figure: Figure, rows: tuple[reports.LostReason, ...], names: Names) -> None:
    pie, bars = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    labels = [names.reason(r.reason) for r in rows]
    pie.pie([r.deals for r in rows], labels=labels, autopct="%1.0f%%", startangle=90)
    if not any(r.amount for r in rows):
        no_data(bars)
        return
    hbars(bars, labels, [r.amount / 100 for r in rows],
          [f"{thousands(r.deals)} · {rub(r.amount)}" for r in rows], COLORS["lost"])
    money_axis(bars.xaxis)
    bars.set_xlabel(_("lost amount, ₽"))


def _draw_sources(figure: Figure, rows: tuple[reports.SourceRow, ...], names: Names) -> None:
    ax = figure.add_subplot()
    labels = [names.source(r.source) for r in rows]
    positions = list(range(len(rows)))
    ax.bar([p - 0.2 for p in positions], [r.deals for r in rows], 0.4, label=_("new deals"),
           color=COLORS["new"])
    ax.bar([p + 0.2 for p in positions], [r.won for r in rows], 0.4, label=_("won"),
           color=COLORS["won"])
    for p, r in zip(positions, rows, strict=True):
        ax.text(p, r.deals, pct(r.win_rate), ha="center", va="bottom", fontsize=11)
    ax.set_xticks(positions, labels, rotation=20)
    count_axis(ax.yaxis)
    ax.legend()


def _draw_reps(figure: Figure, rows: tuple[reports.RepRow, ...], names: Names) -> None:
    bars, table = figure.subplots(2, 1, gridspec_kw={"height_ratios": [1.4, 1]})
    if any(r.calls or r.answered or r.won for r in rows):
        positions = list(range(len(rows)))
        for offset, values, label, color in (
            (-0.27, [r.calls for r in rows], _("calls"), COLORS["new"]),
            (0.0, [r.answered for r in rows], _("answered"), "#F2B134"),
            (0.27, [r.won for r in rows], _("won"), COLORS["won"]),
        ):
            bars.bar([p + offset for p in positions], values, 0.27, label=label, color=color)
        bars.set_xticks(positions, [r.name for r in rows])
        count_axis(bars.yaxis)
        bars.legend()
    else:
        no_data(bars)
    table.axis("off")
    cells = [
        [r.name, thousands(r.calls), pct(r.reach_rate), thousands(r.won), rub(r.won_amount),
         "—" if r.mean_days_to_close is None else f"{r.mean_days_to_close:.1f}",
         thousands(r.overdue)]
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
        ([r.new for r in rows], _("new"), COLORS["new"]),
        ([r.won for r in rows], _("won"), COLORS["won"]),
        ([r.lost for r in rows], _("lost"), COLORS["lost"]),
    ):
        ax.plot(buckets, values, marker="o", label=label, color=color)
    ax.tick_params(axis="x", rotation=30)
    count_axis(ax.yaxis)
    ax.legend()
    ax.grid(alpha=0.3)


def _draw_seasonality(figure: Figure, rows: tuple[reports.SeasonRow, ...], names: Names) -> None:
    ax = figure.add_subplot()
    months = [r.month for r in rows]
    for offset, values, label, color in (
        (-0.27, [r.new for r in rows], _("new"), COLORS["new"]),
        (0.0, [r.won for r in rows], _("won"), COLORS["won"]),
        (0.27, [r.lost for r in rows], _("lost"), COLORS["lost"]),
    ):
        ax.bar([m + offset for m in months], values, 0.27, label=label, color=color)
    ax.set_xticks(months, [month_name(m) for m in months], rotation=30)
    count_axis(ax.yaxis)
    ax.set_xlabel(_("month of the year"))
    ax.legend()


def _draw_forecast(figure: Figure, rows: tuple[reports.ForecastRow, ...], names: Names) -> None:
    ax = figure.add_subplot()
    positions = list(range(len(rows)))
    ax.bar([p - 0.2 for p in positions], [r.open_amount / 100 for r in rows], 0.4,
           label=_("open amount, ₽"), color=COLORS["muted"])
    ax.bar([p + 0.2 for p in positions], [r.weighted_amount / 100 for r in rows], 0.4,
           label=_("expected, ₽"), color=COLORS["won"])
    for p, r in zip(positions, rows, strict=True):
        ax.text(p, r.open_amount / 100, f"{thousands(r.open_deals)} · {pct(r.win_rate)}",
                ha="center", va="bottom", fontsize=11)
    ax.set_xticks(positions, [names.stage(r.stage) for r in rows])
    money_axis(ax.yaxis)
    ax.legend()


def _draw_dialing(figure: Figure, data: reports.Dialing, names: Names) -> None:
    attempts, hours = figure.subplots(1, 2)
    if data.reached_after:
        attempts.bar([str(n + 1) for n, _count in data.reached_after],
                     [count for _n, count in data.reached_after], color=COLORS["new"])
        attempts.set_xlabel(_("attempt that reached the client"))
        attempts.set_ylabel(_("times"))
        count_axis(attempts.yaxis)
    else:
        no_data(attempts)
    if data.by_hour:
        hours.bar([r.hour for r in data.by_hour], [r.attempts for r in data.by_hour],
                  color=COLORS["muted"], label=_("attempts"))
        hours.bar([r.hour for r in data.by_hour], [r.reached for r in data.by_hour],
                  color=COLORS["won"], label=_("reached"))
        hours.set_xlabel(_("client's local hour"))
        hours.set_xticks(range(0, 24, 3))
        count_axis(hours.yaxis)
        hours.legend()
    else:
        no_data(hours)


DRAWERS: dict[Kind, Callable[[Figure, Any, Names], None]] = {
    Kind.FUNNEL: _draw_funnel,
    Kind.LOST: _draw_lost,
    Kind.SOURCES: _draw_sources,
    Kind.REPS: _draw_reps,
    Kind.DYNAMICS: _draw_dynamics,
    Kind.SEASONALITY: _draw_seasonality,
    Kind.FORECAST: _draw_forecast,
    Kind.DIALING: _draw_dialing,
}
