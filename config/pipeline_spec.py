"""The pipeline a playbook sets: its stages, the buttons a card offers, the no-answer ladders."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.values import KEY, Label, LongText, Strict, parse_duration


class StageSpec(Strict):
    key: str = Field(pattern=KEY)
    name: Label
    color: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$")
    terminal: Literal["won", "lost", "archive"] | None = None
    buttons: tuple[str, ...] = ()


class ButtonSpec(Strict):
    label: Label
    submenu: tuple[str, ...] = ()
    next_stage: str | None = None
    when: str = "none"
    ladder: str | None = None
    task: str = "call"
    reached: bool = False
    reasons: tuple[str, ...] = ()
    hint: LongText | None = None
    note: bool = False

    @field_validator("when")
    @classmethod
    def _when(cls, value: str) -> str:
        if value not in ("ask", "ladder", "none"):
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ButtonSpec:
        if self.when == "ladder" and not self.ladder:
            raise ValueError("when = 'ladder' needs ladder = '<name>'")
        if self.ladder and self.when != "ladder":
            raise ValueError("ladder is set but when is not 'ladder'")
        if self.submenu and (self.next_stage or self.note or self.when != "none"):
            raise ValueError("a submenu button only opens its sub-buttons")
        return self

    @property
    def fixed_delay(self) -> timedelta | None:
        return None if self.when in ("ask", "ladder", "none") else parse_duration(self.when)


class LadderSpec(Strict):
    steps: tuple[timedelta, ...] = Field(min_length=1)
    then: str

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, value: object) -> object:
        if isinstance(value, list):
            return tuple(parse_duration(v) if isinstance(v, str) else v for v in value)
        return value
