"""Getting updates to the bot (long polling, webhooks) and the bot's own settings: commands,
the menu button, chats and files."""

from __future__ import annotations

import asyncio
import json

from sandbox.botapi.model import (
    CHAT_ACTIONS,
    FILE_DIR,
    OPT_IN_UPDATES,
    ApiError,
    Json,
)
from sandbox.botapi.state import BotState


class Delivery(BotState):
    """getUpdates and webhooks; the bot's commands, menu button, chats and files."""

    def _deliverable(self) -> list[Json]:
        def wanted(update: Json) -> bool:
            kind = next((key for key in update if key != "update_id"), "")
            if self._allowed_updates:
                return kind in self._allowed_updates
            return kind not in OPT_IN_UPDATES

        return [update for update in self._updates if wanted(update)]

    async def _get_updates(self, params: Json) -> list[Json]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self._allowed_updates = frozenset(params["allowed_updates"])
        offset = params.get("offset")
        if offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        elif offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poller += 1
        poller = self._poller
        self._wake_pollers()  # an older getUpdates still held is answered with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + params.get("timeout", 0)
        while not (ready := self._deliverable()) and not self._closing and poller == self._poller:
            try:
                await asyncio.wait_for(self._updates_arrived.wait(), deadline - loop.time())
            except TimeoutError:
                break
        if poller != self._poller:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return ready[: params.get("limit", 100)]

    # -- settings ----------------------------------------------------------------------------

    @staticmethod
    def _commands_key(params: Json) -> tuple[str, str]:
        scope = params.get("scope", {"type": "default"})
        return json.dumps(scope, sort_keys=True), params.get("language_code", "")

    def _set_commands(self, params: Json) -> bool:
        self.commands[self._commands_key(params)] = params["commands"]
        return True

    def _delete_commands(self, params: Json) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _set_webhook(self, params: Json) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {key: value for key, value in params.items() if key != "certificate"}
        return True

    def _delete_webhook(self, params: Json) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    def _webhook_info(self, _: Json) -> Json:
        webhook = self.webhook or {}
        info: Json = {
            "url": webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if "allowed_updates" in webhook:
            info["allowed_updates"] = webhook["allowed_updates"]
        return info

    def _get_chat(self, params: Json) -> Json:
        no_gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
             "gifts_from_channels"),
            False,
        )
        return self._chat(params["chat_id"]) | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": no_gifts,
        }

    def _get_file(self, params: Json) -> Json:
        file_id = params["file_id"]
        if file_id not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id, "file_unique_id": f"u-{file_id}",
            "file_size": len(self._files[file_id]), "file_path": f"{FILE_DIR}/{file_id}",
        }


    def _set_menu_button(self, params: Json) -> bool:
        self.menu_buttons[params.get("chat_id")] = params.get("menu_button", {"type": "default"})
        return True

    def _menu_button(self, params: Json) -> Json:
        chat = params.get("chat_id")
        return self.menu_buttons.get(chat) or self.menu_buttons.get(None) or {"type": "commands"}

    def _chat_action(self, params: Json) -> bool:
        if params["action"] not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self._chat(params["chat_id"])
        return True

    def commands_for(self, chat_id: int, lang: str) -> list[Json]:
        """The command menu a user sees in his private chat, resolved the way Telegram does:
        the narrowest scope first, and within it his language before the default."""
        scopes = ({"type": "chat", "chat_id": chat_id}, {"type": "all_private_chats"},
                  {"type": "default"})
        for scope in scopes:
            for code in (lang, ""):
                found = self.commands.get((json.dumps(scope, sort_keys=True), code))
                if found:
                    return found
        return []
