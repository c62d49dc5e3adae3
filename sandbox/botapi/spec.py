"""The Bot API schema (botapi_schema.json, made by make_botapi_schema.py), loaded once per
process, and request validation.

Every problem is a short "path: what" string; an empty list means Telegram would accept it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sandbox.botapi.make_schema import SCHEMA_PATH
from sandbox.botapi.markup import EntityError, visible_text

_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
# Pre-7.0 parameters Telegram still accepts but no longer documents; aiogram sends
# disable_web_page_preview when DefaultBotProperties(link_preview_is_disabled=...) is used.
_SUPERSEDED = {
    "disable_web_page_preview": "link_preview_options",
    "reply_to_message_id": "reply_parameters",
    "allow_sending_without_reply": "reply_parameters",
}
# Fields of InlineKeyboardButton that decorate it rather than say what a press does.
_BUTTON_DECORATIONS = frozenset({"text", "icon_custom_emoji_id", "style"})


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    name: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class Limit:
    low: int
    high: int
    in_bytes: bool
    after_entities: bool


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool
    limit: Limit | None
    required_unless: str | None


@dataclass(frozen=True)
class TypeDef:
    name: str
    fields: dict[str, Field]
    subtypes: tuple[str, ...]
    # (field, value) that tells this subtype apart, e.g. ("type", "chat") for BotCommandScopeChat.
    discriminator: tuple[str, str] | None


@dataclass(frozen=True)
class Method:
    name: str
    fields: dict[str, Field]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class Spec:
    version: str
    methods: dict[str, Method]  # keyed by lower-case name: Telegram ignores the case
    types: dict[str, TypeDef]

    def method(self, name: str) -> Method | None:
        return self.methods.get(name.lower())


def _field(name: str, raw: Mapping[str, Any]) -> Field:
    limit = raw.get("limit")
    return Field(
        name,
        tuple(raw["types"]),
        raw["required"],
        None if limit is None else Limit(
            limit["min"], limit["max"], limit["unit"] == "bytes", limit["after_entities"]
        ),
        raw.get("required_unless"),
    )


def _fields(raw: Mapping[str, Any]) -> dict[str, Field]:
    return {name: _field(name, f) for name, f in raw["fields"].items()}


@cache
def load_spec(path: Path = SCHEMA_PATH) -> Spec:
    data = json.loads(path.read_text(encoding="utf-8"))
    methods = {
        name.lower(): Method(name, _fields(raw), tuple(raw["returns"]))
        for name, raw in data["methods"].items()
    }
    types = {
        name: TypeDef(
            name,
            _fields(raw),
            tuple(raw.get("subtypes", ())),
            tuple(raw["discriminator"]) if "discriminator" in raw else None,
        )
        for name, raw in data["types"].items()
    }
    return Spec(data["version"], methods, types)


def decode_form(
    method: Method, form: Mapping[str, str], uploads: Mapping[str, Upload]
) -> tuple[dict[str, Any], list[str]]:
    """Turn form fields into typed values by their spec type, then validate the request."""
    params: dict[str, Any] = {}
    problems: list[str] = []
    for name, raw in form.items():
        spec_field = method.fields.get(name)
        if spec_field is None:
            problems.append(_unknown(name, "parameter"))
            continue
        try:
            value = _decode(raw, spec_field.types)
        except ValueError:
            problems.append(f"{name}: can't parse {' or '.join(spec_field.types)} from {raw!r}")
            continue
        attach = value.removeprefix("attach://") if isinstance(value, str) else ""
        if "InputFile" in spec_field.types and attach in uploads:
            value = uploads[attach]
        params[name] = value
    for name, upload in uploads.items():
        if name in method.fields:
            params[name] = upload
    return params, problems + check_request(method, params, uploads)


def _unknown(name: str, kind: str) -> str:
    superseded_by = _SUPERSEDED.get(name)
    hint = f" (undocumented since Bot API 7.0, use {superseded_by})" if superseded_by else ""
    return f"{name}: unknown {kind}{hint}"


def _decode(raw: str, types: tuple[str, ...]) -> Any:
    # Strings travel raw; everything else is JSON. Never json.loads a pure String field.
    if types == ("String",):
        return raw
    if "String" in types:
        try:
            value = json.loads(raw)
        except ValueError:
            return raw
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return value if is_int and "Integer" in types else raw
    return json.loads(raw)


def check_request(
    method: Method, params: Mapping[str, Any], uploads: Mapping[str, Upload]
) -> list[str]:
    checker = _Checker(load_spec(), uploads)
    checker.check_fields(params, method.fields, "")
    for name in uploads.keys() - method.fields.keys() - checker.attached:
        checker.problems.append(f"{name}: file part is not referenced by attach://")
    return checker.problems


@dataclass
class _Checker:
    spec: Spec
    uploads: Mapping[str, Upload]
    attached: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def check_fields(self, obj: Mapping[str, Any], fields: dict[str, Field], path: str) -> None:
        for name in obj.keys() - fields.keys():
            self.problems.append(f"{path}{_unknown(name, 'field')}")
        for spec_field in fields.values():
            where = f"{path}{spec_field.name}"
            if spec_field.name not in obj:
                unless = spec_field.required_unless
                if spec_field.required or (unless is not None and unless not in obj):
                    self.problems.append(f"{where}: required")
                continue
            value = obj[spec_field.name]
            self.check_value(value, spec_field.types, where)
            if spec_field.limit is not None and isinstance(value, str):
                self.check_limit(obj, spec_field, value, where)

    def check_limit(
        self, obj: Mapping[str, Any], spec_field: Field, value: str, where: str
    ) -> None:
        limit = spec_field.limit
        assert limit is not None
        name = spec_field.name
        if limit.after_entities:
            entities_key = "entities" if name == "text" else f"{name}_entities"
            mode_key = "parse_mode" if name in ("text", "caption") else f"{name}_parse_mode"
            if entities_key not in obj:
                try:
                    value = visible_text(value, obj.get(mode_key))
                except EntityError as error:
                    self.problems.append(f"{where}: can't parse entities: {error}")
                    return
            if limit.low and not value.strip():
                self.problems.append(f"{where}: is empty after entity parsing")
                return
        size = len(value.encode()) if limit.in_bytes else len(value)
        if not limit.low <= size <= limit.high:
            unit = "bytes" if limit.in_bytes else "characters"
            self.problems.append(f"{where}: {size} {unit}, allowed {limit.low}-{limit.high}")

    def check_value(self, value: Any, types: tuple[str, ...], path: str) -> None:
        candidates = self._expand(types)
        if isinstance(value, dict):
            candidates = self._by_discriminator(value, candidates, path)
            if not candidates:
                return
        outcomes: list[list[str]] = []
        for candidate in candidates:
            sub = _Checker(self.spec, self.uploads)
            sub.check_one(value, candidate, path)
            if not sub.problems:
                self.attached |= sub.attached
                return
            outcomes.append(sub.problems)
        # The candidate that came closest is the one the caller most likely meant.
        closest = min(outcomes, key=len)
        self.problems.extend(closest)

    def _expand(self, types: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for name in types:
            typedef = self.spec.types.get(name)
            out.extend(self._expand(typedef.subtypes) if typedef and typedef.subtypes else [name])
        return out

    def _by_discriminator(
        self, value: dict[str, Any], candidates: list[str], path: str
    ) -> list[str]:
        keyed = [
            (name, typedef.discriminator)
            for name in candidates
            if (typedef := self.spec.types.get(name)) and typedef.discriminator
        ]
        if not keyed:
            return candidates
        key = keyed[0][1][0]
        matching = [name for name, (k, v) in keyed if value.get(k) == v]
        if not matching:
            allowed = sorted(v for _, (_, v) in keyed)
            self.problems.append(f"{path}.{key}: {value.get(key)!r} is not one of {allowed}")
        return matching

    def check_one(self, value: Any, type_name: str, path: str) -> None:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                self.problems.append(f"{path}: expected {type_name}")
                return
            for index, item in enumerate(value):
                self.check_value(item, (type_name.removeprefix("Array of "),), f"{path}[{index}]")
            return
        scalar = _SCALARS.get(type_name)
        if scalar is not None:
            if not scalar(value):
                self.problems.append(f"{path}: expected {type_name}, got {value!r:.40}")
            elif isinstance(value, str) and value.startswith("attach://"):
                self.check_attach(value.removeprefix("attach://"), path)
            return
        if type_name == "InputFile":
            if isinstance(value, Upload):
                self.attached.add(value.name)
            elif isinstance(value, str) and value.startswith("attach://"):
                self.check_attach(value.removeprefix("attach://"), path)
            else:
                self.problems.append(f"{path}: expected an uploaded file")
            return
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected {type_name} object")
            return
        typedef = self.spec.types[type_name]
        if typedef.fields:  # field-less types (CallbackGame) take any object
            self.check_fields(value, typedef.fields, f"{path}.")
        rule = _TYPE_RULES.get(type_name)
        if rule is not None:
            self.problems.extend(f"{path}: {problem}" for problem in rule(value))

    def check_attach(self, name: str, path: str) -> None:
        if name in self.uploads:
            self.attached.add(name)
        else:
            self.problems.append(f"{path}: no file part named {name!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_SCALARS: dict[str, Callable[[Any], bool]] = {
    "String": lambda value: isinstance(value, str),
    "Integer": _is_int,
    "Float": lambda value: _is_int(value) or isinstance(value, float),
    "Boolean": lambda value: isinstance(value, bool),
}


def _inline_button(button: Mapping[str, Any]) -> list[str]:
    problems = _keyboard_button(button)
    actions = sorted(button.keys() - _BUTTON_DECORATIONS)
    if len(actions) != 1:
        problems.append(f"exactly one action field is needed, got {actions}")
    return problems


def _keyboard_button(button: Mapping[str, Any]) -> list[str]:
    text = button.get("text")
    return ["button text must be non-empty"] if isinstance(text, str) and not text else []


def _bot_command(command: Mapping[str, Any]) -> list[str]:
    name = command.get("command")
    if isinstance(name, str) and not _BOT_COMMAND.fullmatch(name):
        return [f"command {name!r} may hold only a-z, 0-9 and _"]
    return []


# Rules the descriptions state in prose that field types alone can't express.
_TYPE_RULES: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "InlineKeyboardButton": _inline_button,
    "KeyboardButton": _keyboard_button,
    "BotCommand": _bot_command,
}
