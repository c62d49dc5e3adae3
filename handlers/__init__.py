"""aiogram routers, thin: read the update, call crm, render. Each module exposes `router`."""

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.utils.magic_filter import MagicFilter


def employee_router(name: str, who: MagicFilter = F.employee) -> Router:
    """A router whose messages and buttons are handled only for employees (the middleware puts
    `employee` in the handler data for them; clients and strangers go by), or only for those of
    them `who` picks (`F.employee.role == Role.ADMIN`)."""
    router = Router(name=name)
    router.message.filter(MagicData(who))
    router.callback_query.filter(MagicData(who))
    return router
