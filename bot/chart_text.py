"""Numbers and names in a report as people read them: whole counts with their thousands apart,
roubles, shares, month names, and the charts' colours. Free of matplotlib, so a process that only
writes a report's text or CSV does not load it.
"""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

COLORS = {"new": "#4C9BE8", "won": "#3FB950", "lost": "#E5534B", "muted": "#8B949E"}
_THIN = "\u202f"  # a narrow no-break space between thousands, as in 12 345 ₽


def thousands(number: int) -> str:
    return f"{number:,}".replace(",", _THIN)


def rub(kopecks: int) -> str:
    return thousands(kopecks // 100) + " ₽"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def month_name(month: int) -> str:
    return (
        _("January"), _("February"), _("March"), _("April"), _("May"), _("June"), _("July"),
        _("August"), _("September"), _("October"), _("November"), _("December"),
    )[month - 1]
