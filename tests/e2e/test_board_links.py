"""The ways into the board from the chat: with NEXTSTEP_WEB_APP_URL set, the menu button of each
employee's chat, a Board web_app button under /help and on cards; without it, none of them."""

from __future__ import annotations

from typing import Any

from crm.deals import ContactDraft, quick_add
from tests.e2e.conftest import HarnessFactory

URL = "https://crm.example.com/board/"


def _web_apps(buttons: list[dict[str, Any]]) -> list[str]:
    return [b["web_app"]["url"] for b in buttons if "web_app" in b]


async def test_menu_help_and_cards_open_the_board(make_harness: HarnessFactory) -> None:
    async with make_harness(web_app_url=URL) as h:
        rep = await h.make_employee("rep", name="Ann", lang="en")
        menus = h.api.calls("setChatMenuButton")
        # The leader may set an employee's menu again when it takes over: the call is idempotent.
        assert {(c.params["chat_id"], c.params["menu_button"]["web_app"]["url"]) for c in menus} \
            == {(rep.user.id, URL)}
        helped = await h.say(rep.user, "/help")
        assert _web_apps(helped.buttons) == [URL]
        assert "Board" in str(helped.buttons)
        await quick_add(
            h.running.crm, ContactDraft(name="Boris", phones=("+74951112233",)),
            owner_id=rep.employee.id, team=rep.employee.team,
        )
        card = await h.say(rep.user, "/next")
        assert _web_apps(card.buttons) == [URL]


async def test_without_the_url_there_is_no_board_button(make_harness: HarnessFactory) -> None:
    async with make_harness() as h:
        rep = await h.make_employee("rep", name="Ann", lang="ru")
        assert not h.api.calls("setChatMenuButton")
        helped = await h.say(rep.user, "/help")
        assert _web_apps(helped.buttons) == []
