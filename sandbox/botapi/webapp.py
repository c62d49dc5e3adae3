"""Telegram's part in opening a Mini App: the initData it hands the page, signed with the bot's
token as https://core.telegram.org/bots/webapps#validating-data-received-via-the-web-app says."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlencode

from sandbox.botapi.model import User


def signed_fields(token: str, user: User, auth_date: datetime) -> dict[str, str]:
    fields = {
        "auth_date": str(int(auth_date.timestamp())),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(
            {"id": user.id, "first_name": user.first_name, "language_code": user.language_code},
            separators=(",", ":"),
        ),
    }
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return {**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}


def init_data(token: str, user: User, auth_date: datetime) -> str:
    """The query string a Mini App finds in Telegram.WebApp.initData (or #tgWebAppData)."""
    return urlencode(signed_fields(token, user, auth_date))
