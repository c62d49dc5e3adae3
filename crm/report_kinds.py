"""The reports a supervisor can ask for, by the key buttons and the command line carry. Apart from
bot/callbacks.py so that the command line's choices do not load aiogram."""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    """Which report (bot/charts.py draws each)."""

    FUNNEL = "funnel"
    LOST = "lost"
    SOURCES = "sources"
    REPS = "reps"
    DYNAMICS = "dynamics"
    SEASONALITY = "seasonality"
    FORECAST = "forecast"
    DIALING = "dialing"
