"""Who is asking: the Telegram initData every board request carries, checked with aiogram's
safe_parse_webapp_init_data against the bot's token, no older than the configured age, and the
Telegram user found among the active employees. Anything else is a 401 with an empty body: a
stranger learns nothing, not even why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiogram.utils.web_app import safe_parse_webapp_init_data
from aiohttp import web

from config.settings import SUPPORTED_LANGS
from crm.clock import Clock
from storage.models import Employee
from storage.targets import active_employee_by_tg

SCHEME = "tma "  # Authorization: tma <initData>, as Telegram's Mini App docs write it
# A phone's clock a little ahead of the server's still opens the board.
SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Viewer:
    employee: Employee
    lang: str


async def viewer_of(
    request: web.Request, token: str, max_age: timedelta, clock: Clock, default_lang: str
) -> Viewer | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith(SCHEME):
        return None
    try:
        data = safe_parse_webapp_init_data(token, header[len(SCHEME):])
    except ValueError:  # a bad signature, or signed fields that do not parse
        return None
    age = clock.now() - data.auth_date
    if data.user is None or age > max_age or age < -SKEW:
        return None
    employee = await active_employee_by_tg(data.user.id)
    if employee is None:
        return None
    code = (data.user.language_code or "").split("-")[0]
    lang = code if code in SUPPORTED_LANGS else employee.lang or default_lang
    return Viewer(employee, lang)
