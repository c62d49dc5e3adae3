"""Logging for every `nextstep` command: one line per event, key=value fields or JSON.

`NEXTSTEP_LOG_FORMAT=text` (the default) writes `ts=… level=info logger=… msg="…"` and then the
event's own fields (`extra=`), quoted where needed, so grep and a log shipper both read it;
`json` writes the same fields as one JSON object per line. Domain values are rendered by what
they mean: an enum by its value (its name if the value is not text or a number), a dataclass
as its fields, never a repr. Libraries' INFO chatter (matplotlib's font cache, Tortoise's
connects) is silenced unless -v asks for everything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal

LogFormat = Literal["text", "json"]
# Libraries that tell INFO about their own housekeeping; their warnings still show.
CHATTY = ("matplotlib", "PIL", "tortoise", "aiosqlite", "aerich")
# The attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}
_BARE = re.compile(r"^[^\s\"=\\]+$")


def plain(value: Any) -> Any:
    """A value as a log shows it: JSON types, enums by value, dataclasses as their fields."""
    if isinstance(value, enum.Enum):
        inner = value.value
        return inner if isinstance(inner, str | int | float) else value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _in_message(value: Any) -> Any:
    """An argument of the message itself: a dataclass reads `name=value …` there too."""
    shown = plain(value)
    if isinstance(shown, dict):
        return " ".join(f"{k}={_text(v)}" for k, v in shown.items())
    return shown


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The event as ordered fields: time, level, logger, message, then its own fields."""
    if isinstance(record.args, Mapping):
        args: Any = {k: _in_message(v) for k, v in record.args.items()}
    else:
        args = tuple(_in_message(a) for a in record.args or ())
    message = str(record.msg) % args if args else str(record.msg)
    out: dict[str, Any] = {
        "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": message,
    }
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
            out[key] = plain(value)
    if record.exc_info:
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    return out


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = "" if value is None else str(value)
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Quoting escapes newlines, so a traceback stays on its event's line.
        return " ".join(f"{key}={_text(value)}" for key, value in fields(record).items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(fields(record), ensure_ascii=False, default=str)


def setup_logging(log_format: LogFormat = "text", *, verbose: bool = False) -> None:
    """Route every logger to stderr in `log_format`; a CLI's stdout stays its output alone."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
