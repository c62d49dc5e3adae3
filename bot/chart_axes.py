"""What every report chart's axes share: whole-number and money ticks, bars with notes, and the
panel that says there is no data where an axis would be empty. Numbers and names as people read
them are in bot/chart_text.py (no matplotlib: the report's summary and CSV need them too).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.utils.i18n import gettext as _
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bot.chart_text import COLORS, thousands


def count_axis(axis: Axis) -> None:
    """Ticks of a count: whole numbers only (no 2.5 deals), thousands apart."""
    axis.set_major_locator(MaxNLocator(integer=True))
    money_axis(axis)


def money_axis(axis: Axis) -> None:
    """Ticks of an amount in whole roubles, thousands apart (not 1e6 in a corner)."""
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: thousands(round(value))))


def no_data(ax: Axes) -> None:
    """The panel's place says "no data" rather than showing an empty frame."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, _("No data for this period"), ha="center", va="center", fontsize=16,
            color=COLORS["muted"], transform=ax.transAxes)


def hbars(ax: Axes, labels: Sequence[str], values: Sequence[float], notes: Sequence[str],
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
