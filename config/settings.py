"""All settings in one place: environment variables with the NEXTSTEP_ prefix, or a .env file."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.mail import parse_mailboxes, parse_smtp

# A bot token is "<bot id>:<url-safe characters>"; anything else is a typo worth stopping on.
# The lengths are Telegram's to change, so only the shape is checked: Telegram judges the rest.
TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
# The languages the bot speaks (bot/locales); here, below bot/ and crm/, so both can check a choice.
SUPPORTED_LANGS = ("ru", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEXTSTEP_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: str = ""
    client_bot_token: str = ""
    # The team the client bot's leads go to; empty: the playbook's [leads] team.
    client_bot_team: str = Field(default="", max_length=64)
    database_url: str = "sqlite://nextstep.sqlite3"
    telegram_api: str = "https://api.telegram.org"
    webhook_url: str = ""
    webhook_secret: str = ""
    web_listen: str = "127.0.0.1:8080"
    sip_listen: str = ""
    sip_allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    hep_auth_key: str = ""
    hep_capture_ids: list[int] = Field(default_factory=list)
    # Captured calls handled at once, each holding a store connection: below Tortoise's default
    # PostgreSQL pool of 5 so a flood of calls leaves one for the bot; raise with ?maxsize=.
    sip_handlers: int = Field(default=4, ge=1)
    playbook: Path | None = None
    redis_url: str = ""
    timezone: str = "Europe/Moscow"
    locale: str = "ru"
    bot_username: str = "nextstep_bot"
    # Logs: one line per event, key=value fields (text) or a JSON object (json).
    log_format: Literal["text", "json"] = "text"

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("locale")
    @classmethod
    def _locale_supported(cls, value: str) -> str:
        if value not in SUPPORTED_LANGS:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGS)}")
        return value

    @field_validator("sip_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("sip_listen", "web_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            split_host_port(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _db_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "asyncpg://", "postgresql://")):
            raise ValueError("must start with sqlite:// or postgres://")
        return value

    # The pipeline board (Telegram Mini App): the https URL Telegram opens it at (this server's
    # /board/ behind your https proxy; the menu and Board buttons appear only when it is set) and
    # how old, in seconds, the initData a board request carries may be.
    web_app_url: str = ""
    board_max_age: int = Field(default=86_400, ge=60)

    @field_validator("web_app_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError("must start with https:// (Telegram opens Mini Apps over https only)")
        return value

    # -- e-mail (issue 15): the mailboxes watched and the server replies go out through
    # (config/mail.py reads them).
    imap: str = ""
    smtp: str = ""

    @field_validator("imap")
    @classmethod
    def _mailboxes(cls, value: str) -> str:
        parse_mailboxes(value)
        return value

    @field_validator("smtp")
    @classmethod
    def _smtp_server(cls, value: str) -> str:
        parse_smtp(value)
        return value


def known_zone(value: str) -> str:
    """The IANA zone name itself, if this machine's zone database knows it."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def split_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


class SettingsError(Exception):
    """A bad setting, with one line that names it."""


def check_bot_tokens(settings: Settings) -> None:
    """Only for the commands that talk to Telegram: the tokens set have a token's shape."""
    for name in ("bot_token", "client_bot_token"):
        if (value := getattr(settings, name)) and not TOKEN_RE.match(value):
            raise SettingsError(
                f"bad setting NEXTSTEP_{name.upper()}: does not look like a bot token "
                "(expected 123456:ABC..., as @BotFather gave it)"
            )


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "NEXTSTEP_" + str(err["loc"][0]).upper() if err["loc"] else "settings"
        message = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"bad setting {name}: {message}") from None
