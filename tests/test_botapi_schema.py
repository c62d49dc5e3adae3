"""The Bot API schema the fake validates against: the generator turns the scraped description
into it rule by rule and byte for byte the same each time, and the carried file is its output."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from sandbox.botapi.make_schema import SCHEMA_PATH, compact, dump, main
from sandbox.botapi.spec import Limit, load_spec

# A few entries of telegram-bot-api-spec's api.json, cut down, each showing one rule.
DESCRIPTION: dict[str, Any] = {
    "version": "Bot API 99.1",
    "release_date": "January 1, 2099",
    "changelog": "https://core.telegram.org/bots/api-changelog#january-1-2099",
    "methods": {
        "sendMessage": {
            "name": "sendMessage", "href": "#sendmessage", "description": ["Sends."],
            "returns": ["Message"],
            "fields": [
                {"name": "chat_id", "types": ["Integer", "String"], "required": True,
                 "description": "Unique identifier for the target chat"},
                {"name": "text", "types": ["String"], "required": True,
                 "description": "Text of the message to be sent, 1-4096 characters after "
                                "entities parsing"},
            ],
        },
        "getMe": {"name": "getMe", "href": "#getme", "description": ["Me."], "returns": ["User"]},
        "sendPhoto": {
            "name": "sendPhoto", "href": "#sendphoto", "description": ["Photo."],
            "returns": ["Message"],
            "fields": [
                {"name": "photo", "types": ["InputFile", "String"], "required": False,
                 "description": "Photo to send. Required if media_id is not specified"},
            ],
        },
    },
    "types": {
        "BotCommandScope": {
            "name": "BotCommandScope", "href": "#botcommandscope", "description": ["Scopes."],
            "subtypes": ["BotCommandScopeDefault", "BotCommandScopeChat"],
        },
        "BotCommandScopeChat": {
            "name": "BotCommandScopeChat", "href": "#botcommandscopechat", "description": ["."],
            "subtype_of": ["BotCommandScope"],
            "fields": [
                {"name": "type", "types": ["String"], "required": True,
                 "description": "Scope type, must be chat"},
                {"name": "chat_id", "types": ["Integer", "String"], "required": True,
                 "description": "Unique identifier for the target chat"},
            ],
        },
        "BotCommand": {
            "name": "BotCommand", "href": "#botcommand", "description": ["A command."],
            "fields": [
                {"name": "command", "types": ["String"], "required": True,
                 "description": "Text of the command; 1-32 characters."},
                {"name": "data", "types": ["String"], "required": False,
                 "description": "Data, 1-64 bytes"},
            ],
        },
        "CallbackGame": {"name": "CallbackGame", "href": "#callbackgame", "description": ["."]},
    },
}


def test_the_generator_keeps_what_the_fake_checks_and_drops_the_prose() -> None:
    schema = compact(DESCRIPTION, "ab" * 32)
    assert schema["version"] == "Bot API 99.1" and schema["release_date"] == "January 1, 2099"
    assert schema["source"].endswith("sha256 " + "ab" * 32)
    assert schema["methods"] == {
        "sendMessage": {"returns": ["Message"], "fields": {
            "chat_id": {"types": ["Integer", "String"], "required": True},
            "text": {"types": ["String"], "required": True, "limit": {
                "min": 1, "max": 4096, "unit": "characters", "after_entities": True}},
        }},
        "getMe": {"returns": ["User"], "fields": {}},
        "sendPhoto": {"returns": ["Message"], "fields": {
            "photo": {"types": ["InputFile", "String"], "required": False,
                      "required_unless": "media_id"},
        }},
    }
    assert schema["types"] == {
        "BotCommandScope": {
            "fields": {}, "subtypes": ["BotCommandScopeDefault", "BotCommandScopeChat"]},
        "BotCommandScopeChat": {"fields": {
            "type": {"types": ["String"], "required": True},
            "chat_id": {"types": ["Integer", "String"], "required": True},
        }, "discriminator": ["type", "chat"]},
        "BotCommand": {"fields": {
            "command": {"types": ["String"], "required": True, "limit": {
                "min": 1, "max": 32, "unit": "characters", "after_entities": False}},
            "data": {"types": ["String"], "required": False, "limit": {
                "min": 1, "max": 64, "unit": "bytes", "after_entities": False}},
        }},
        "CallbackGame": {"fields": {}},
    }


def test_the_generator_writes_the_same_bytes_every_time_and_the_fake_reads_them(
    tmp_path: Path,
) -> None:
    source = tmp_path / "api.json"
    source.write_text(json.dumps(DESCRIPTION), encoding="utf-8")
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    main([str(source), "-o", str(first)])
    main([str(source), "-o", str(second)])
    assert first.read_bytes() == second.read_bytes()
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    assert json.loads(first.read_text()) == compact(DESCRIPTION, sha)

    spec = load_spec(first)
    assert spec.version == "Bot API 99.1"
    send = spec.method("SENDMESSAGE")  # Telegram ignores the case of a method name
    assert send is not None and send.returns == ("Message",)
    assert send.fields["text"].limit == Limit(1, 4096, in_bytes=False, after_entities=True)
    photo = spec.method("sendPhoto")
    assert photo is not None and photo.fields["photo"].required_unless == "media_id"
    assert spec.types["BotCommandScopeChat"].discriminator == ("type", "chat")
    assert spec.types["BotCommand"].fields["data"].limit == Limit(1, 64, True, False)


def _named(types: tuple[str, ...]) -> set[str]:
    return {re.sub(r"^(Array of )+", "", t) for t in types}  # arrays nest: keyboards


def test_the_carried_schema_is_the_generators_output_and_whole() -> None:
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    raw = json.loads(text)
    assert dump(raw) == text  # written by the generator, not edited by hand
    assert re.fullmatch(r"Bot API \d+\.\d+", raw["version"])
    assert re.fullmatch(r".+ api\.json, sha256 [0-9a-f]{64}", raw["source"])

    spec = load_spec()
    assert spec.version == raw["version"]
    assert len(spec.methods) >= 180 and len(spec.types) >= 350
    # Every type a field or a method's result names is described, so nothing validates loosely.
    known = set(spec.types) | {"String", "Integer", "Float", "Boolean", "InputFile"}
    for method in spec.methods.values():
        assert _named(method.returns) <= known, method.name
        for field in method.fields.values():
            assert _named(field.types) <= known, (method.name, field.name)
    for typedef in spec.types.values():
        assert _named(typedef.subtypes) <= known, typedef.name  # RichText: or an array of it
        for field in typedef.fields.values():
            assert _named(field.types) <= known, (typedef.name, field.name)

    # What the bot leans on most, as the Bot API page states it.
    send = spec.method("sendMessage")
    assert send is not None and send.fields["chat_id"].required
    assert send.fields["text"].limit == Limit(1, 4096, in_bytes=False, after_entities=True)
    answer = spec.method("answerCallbackQuery")
    assert answer is not None and answer.fields["text"].limit == Limit(0, 200, False, False)
    button = spec.types["InlineKeyboardButton"].fields["callback_data"]
    assert button.limit == Limit(1, 64, in_bytes=True, after_entities=False)
    assert spec.types["BotCommandScopeChat"].discriminator == ("type", "chat")
