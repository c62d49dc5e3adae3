"""`nextstep settings`: every NEXTSTEP_ variable, its value in effect and where it came from.

The sources are pydantic-settings' own, read the way Settings reads them: the environment
wins over .env, which wins over the default. What would let someone in (tokens, secrets, keys,
a password in a URL) is masked.
"""

from __future__ import annotations

import argparse
import json
import re
from urllib.parse import urlsplit, urlunsplit

from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource

from config.settings import Settings

MASK = "****"
SECRET_WORDS = ("token", "secret", "key", "password")
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/@\"]*:)[^\s@\"]+@")


async def main(args: argparse.Namespace, settings: Settings) -> int:
    for name, value, source in describe(settings):
        print(f"NEXTSTEP_{name.upper()}={value}  ({source})")
    return 0


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(field, value as shown, source) for every setting, in the order Settings declares them."""
    from_env = EnvSettingsSource(Settings)()
    from_dotenv = DotEnvSettingsSource(Settings)()
    env_file = settings.model_config.get("env_file")
    rows = []
    for name in Settings.model_fields:
        if name in from_env:
            source = "environment"
        elif name in from_dotenv:
            source = str(env_file)
        else:
            source = "default"
        rows.append((name, shown(name, getattr(settings, name)), source))
    return rows


def shown(name: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value)
    text = str(value)
    if text and any(word in name for word in SECRET_WORDS):
        return MASK
    # Several URLs in one value (NEXTSTEP_IMAP): every password masked, not just a first one.
    return _URL_PASSWORD.sub(rf"\1{MASK}@", _without_password(text))


def _without_password(text: str) -> str:
    """A URL's password masked (postgres://u:pw@host/db, redis://:pw@host); other text as is."""
    parts = urlsplit(text)
    if not parts.scheme or parts.password is None:
        return text
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}{port}"))
