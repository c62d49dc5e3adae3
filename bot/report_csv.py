"""Reports and exports as CSV people open: the words in the user's language.

The rows go through crm.csvwrite, the product's one writer (format, numbers, CSV injection).
Stages, reasons, buttons and statuses are names, not keys; money is roubles with kopecks and
rates are fractions, both as numbers, so a spreadsheet can sum and format them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from aiogram.utils.i18n import gettext as _

from bot.callbacks import Kind
from bot.charts import Report
from bot.names import CsvNames
from crm.csvwrite import Cell, CsvFormat, CsvWriter
from crm.exporter import money


def _rate(value: float | None, places: int = 4) -> Decimal | None:
    return None if value is None else Decimal(f"{value:.{places}f}")


def to_csv(report: Report, names: CsvNames, fmt: CsvFormat, *, bom: bool) -> str:
    return CsvWriter(fmt, bom=bom).rows(rows(report, names))


def rows(report: Report, names: CsvNames) -> list[Sequence[Cell]]:
    data = report.data
    match report.kind:
        case Kind.FUNNEL:
            return [(_("Stage"), _("Entered"), _("Amount, ₽"), _("Conversion")),
                    *((names.stage(r.stage), r.entered, money(r.amount), _rate(r.conversion))
                      for r in data)]
        case Kind.LOST:
            return [(_("Reason"), _("Deals"), _("Share"), _("Amount, ₽")),
                    *((names.reason(r.reason), r.deals, _rate(r.share), money(r.amount))
                      for r in data)]
        case Kind.SOURCES:
            return [(_("Source"), _("Deals"), _("Won deals"), _("Won amount, ₽"), _("Win rate")),
                    *((names.source(r.source), r.deals, r.won, money(r.won_amount),
                       _rate(r.win_rate)) for r in data)]
        case Kind.REPS:
            return [(_("Employee ID"), _("Rep"), _("Calls"), _("Answered"), _("Reach rate"),
                     _("Won deals"), _("Won amount, ₽"), _("Mean days to close"),
                     _("Overdue tasks"), _("Outcomes")),
                    *((r.employee_id, r.name, r.calls, r.answered, _rate(r.reach_rate), r.won,
                       money(r.won_amount), _rate(r.mean_days_to_close, 1), r.overdue,
                       ", ".join(f"{names.button(b)}: {n}" for b, n in r.outcomes))
                      for r in data)]
        case Kind.DYNAMICS:
            # Weeks and months are cut in the department's zone: the header says which.
            zone = names.playbook.working_hours.timezone
            return [(_("Period") + f" ({zone})", _("New deals"), _("Won deals"), _("Lost deals")),
                    *((r.bucket, r.new, r.won, r.lost) for r in data)]
        case Kind.SEASONALITY:
            return [(_("Month"), _("New deals"), _("Won deals"), _("Lost deals")),
                    *((r.month, r.new, r.won, r.lost) for r in data)]
        case Kind.FORECAST:
            return [(_("Stage"), _("Open deals"), _("Open amount, ₽"), _("Win rate"),
                     _("Expected, ₽")),
                    *((names.stage(r.stage), r.open_deals, money(r.open_amount),
                       _rate(r.win_rate), money(r.weighted_amount)) for r in data)]
        case Kind.DIALING:
            return [(_("Section"), _("Key"), _("Count"), _("Reached")),
                    *((_("Reached at attempt"), n + 1, count, None)
                      for n, count in data.reached_after),
                    *((_("Local hour"), r.hour, r.attempts, r.reached) for r in data.by_hour),
                    (_("Ladders run out"), None, data.gave_up, None)]
    raise ValueError(report.kind)
