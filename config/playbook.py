"""The playbook: stages, buttons, ladders, hours. Loaded from TOML and checked whole at start.

Here: the whole playbook, its small sections, the checks across sections and reading the file.
Its parts live beside it: the pipeline (pipeline_spec.py), the hours (hours.py), custom fields
(field_spec.py), and the values they are written in (values.py).

A bad file is refused with the file, the line and the key at fault, so an admin can fix it
without reading a traceback.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from config.field_spec import FieldSpec
from config.hours import ClientWindow, WorkingHours
from config.pipeline_spec import ButtonSpec, LadderSpec, StageSpec
from config.values import Label, LongText, Strict, parse_duration

DEFAULT_PLAYBOOK = Path(__file__).with_name("default_playbook.toml")


class _At(ValueError):
    """A cross-reference fault found after parsing, with the key path it belongs to."""

    def __init__(self, *loc: str | int, message: str) -> None:
        super().__init__(message)
        self.loc = loc


class Assignment(Strict):
    mode: Literal["round_robin", "least_loaded"] = "round_robin"


class Leads(Strict):
    """Where client leads go, and when a lead nobody could take is raised again."""

    team: str = Field(default="main", min_length=1, max_length=64)
    escalate_after: timedelta = timedelta(minutes=15)  # of working time

    @field_validator("escalate_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value


class Alerts(Strict):
    keywords: tuple[str, ...] = ()
    vip_tags: tuple[str, ...] = ()


class Automations(Strict):
    repeat_sale_days: int = Field(default=0, ge=0)
    reminder_minutes: int = Field(default=0, ge=0)
    digest_hour: int | None = Field(default=None, ge=0, le=23)
    greeting: LongText | None = None



class Mail(Strict):
    """The e-mail channel (issue 15): whether the playbook's alert keywords are looked for in a
    letter's body too (always in its subject), whether a letter from an unknown address opens
    a lead, and the folder a letter is moved to once a rep has replied."""

    keywords_in_body: bool = False
    leads_from_unknown: bool = True
    answered_folder: str = Field(default="Answered", min_length=1, max_length=200)

    @field_validator("answered_folder")
    @classmethod
    def _folder(cls, value: str) -> str:
        if any(ord(c) < 32 or c in '"\\' for c in value):
            raise ValueError("a folder name without quotes, backslashes or control characters")
        return value


class Playbook(Strict):
    stages: tuple[StageSpec, ...] = Field(min_length=2)
    buttons: dict[str, ButtonSpec]
    reasons: dict[str, Label] = Field(default_factory=dict)
    ladders: dict[str, LadderSpec] = Field(default_factory=dict)
    task_kinds: dict[str, Label]
    working_hours: WorkingHours
    client_window: ClientWindow = ClientWindow()
    assignment: Assignment = Assignment()
    leads: Leads = Leads()
    alerts: Alerts = Alerts()
    automations: Automations = Automations()
    fields: tuple[FieldSpec, ...] = ()
    mail: Mail = Mail()

    @model_validator(mode="after")
    def _references(self) -> Playbook:
        stage_keys = [s.key for s in self.stages]
        if len(set(stage_keys)) != len(stage_keys):
            raise _At("stages", message="two stages share a key")
        if all(s.terminal for s in self.stages):
            raise _At("stages", message="at least one stage must be open (not terminal)")
        for index, stage in enumerate(self.stages):
            for name in stage.buttons:
                if name not in self.buttons:
                    raise _At("stages", index, "buttons", message=f"unknown button {name!r}")
            if stage.terminal and stage.buttons:
                raise _At("stages", index, "buttons", message="a terminal stage has no buttons")
        for key, button in self.buttons.items():
            for sub in button.submenu:
                if sub not in self.buttons or self.buttons[sub].submenu:
                    raise _At("buttons", key, "submenu", message=f"bad sub-button {sub!r}")
            if button.next_stage and button.next_stage not in stage_keys:
                raise _At(
                    "buttons", key, "next_stage", message=f"unknown stage {button.next_stage!r}"
                )
            if button.ladder and button.ladder not in self.ladders:
                raise _At("buttons", key, "ladder", message=f"unknown ladder {button.ladder!r}")
            for reason in button.reasons:
                if reason not in self.reasons:
                    raise _At("buttons", key, "reasons", message=f"unknown reason {reason!r}")
            if not (button.submenu or button.note) and button.task not in self.task_kinds:
                raise _At("buttons", key, "task", message=f"unknown task kind {button.task!r}")
        for key, ladder in self.ladders.items():
            target = self.stage(ladder.then) if ladder.then in stage_keys else None
            if target is None or target.terminal is None:
                raise _At("ladders", key, "then", message="must name a terminal stage")
        self._check_fields(stage_keys)
        return self

    def _check_fields(self, stage_keys: list[str]) -> None:
        seen: set[str] = set()
        for index, spec in enumerate(self.fields):
            # One key space for both kinds: `/find city:Kazan` and CSV columns name a field alone.
            if spec.key in seen:
                raise _At("fields", index, "key", message=f"two fields share the key {spec.key!r}")
            seen.add(spec.key)
            for stage in spec.required_in:
                if stage not in stage_keys:
                    raise _At("fields", index, "required_in", message=f"unknown stage {stage!r}")

    def field(self, key: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.key == key), None)

    def stage(self, key: str) -> StageSpec:
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(key)

    def ladder_offered(self, stage: str) -> str | None:
        """A ladder button the stage offers (directly or in a sub-menu), to number attempts by:
        the chat's card and the board count a deal's first task's attempts on it."""
        try:
            offered = self.stage(stage).buttons
        except KeyError:
            return None
        for key in offered:
            for candidate in (key, *self.buttons[key].submenu):
                if self.buttons[candidate].ladder:
                    return candidate
        return None

    @property
    def initial_stage(self) -> StageSpec:
        return next(s for s in self.stages if s.terminal is None)


class PlaybookError(Exception):
    """A playbook file that cannot be used; the message names file, line and key."""


def load_playbook(path: Path | None = None) -> Playbook:
    path = path or DEFAULT_PLAYBOOK
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11 puts the position only in the text: "Invalid value (at line 3, column 12)".
        at = re.search(r"\(at line (\d+), column \d+\)$", str(exc))
        where = f"{path}:{at[1]}" if at else str(path)
        raise PlaybookError(f"{where}: {exc}") from None
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        loc = [str(part) for part in (cause.loc if isinstance(cause, _At) else err["loc"])]
        line = _line_of(text, loc)
        where = f"{path}:{line}" if line else str(path)
        key = ".".join(loc) or "(top)"
        message = err["msg"].removeprefix("Value error, ")
        raise PlaybookError(f"{where}: {key}: {message}") from None


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line of a key path like ['buttons', 'busy', 'ladder'] or ['stages', '2']."""
    lines = text.splitlines()
    start = 0
    if len(loc) >= 2 and loc[1].isdigit():
        header = f"[[{loc[0]}]]"
        hits = [i for i, line in enumerate(lines) if line.strip() == header]
        if int(loc[1]) < len(hits):
            start = hits[int(loc[1])]
        rest = loc[2:]
    else:
        for depth in range(min(len(loc), 2), 0, -1):
            header = "[" + ".".join(loc[:depth]) + "]"
            found = [i for i, line in enumerate(lines) if line.strip() == header]
            if found:
                start = found[0]
                break
        else:
            depth = 0
        rest = loc[depth:]
    for name in rest[:1]:
        pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
        for i in range(start, len(lines)):
            if i > start and lines[i].lstrip().startswith("["):
                break
            if pattern.match(lines[i]):
                return i + 1
    return start + 1 if start or loc else None
