"""Supervisor reports as SQL aggregates: the database folds the deals, Python gets a few rows.

Every report covers a period [start, end) and optionally one team (the deal's team; for per-rep
figures the employee's team). The reports live in modules by what they measure; this package
names them all so callers write `reports.funnel`, `reports.Period`.
"""

from crm.reports.by_field import NotAChoiceField, grouped
from crm.reports.deals import (
    ForecastRow,
    FunnelStage,
    LostReason,
    SourceRow,
    forecast,
    funnel,
    funnel_stages,
    lost_reasons,
    sources,
)
from crm.reports.dialing import Dialing, HourRow, LadderStats, dialing, ladder_stats
from crm.reports.people import OverdueTask, RepRow, overdue_tasks, reps
from crm.reports.sql import Period
from crm.reports.trend import DynamicsRow, SeasonRow, dynamics, seasonality

__all__ = [
    "Dialing", "DynamicsRow", "ForecastRow", "FunnelStage", "HourRow", "LadderStats",
    "LostReason", "NotAChoiceField", "OverdueTask", "Period", "RepRow", "SeasonRow", "SourceRow",
    "dialing", "dynamics", "forecast", "funnel", "funnel_stages", "grouped", "ladder_stats",
    "lost_reasons", "overdue_tasks", "reps", "seasonality", "sources",
]
