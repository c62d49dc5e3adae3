"""What users do: messages, commands, contacts, files and button presses as updates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.botapi.model import (
    Chat,
    Json,
    User,
    entities_key,
    without_reply,
)
from sandbox.botapi.state import BotState


class Users(BotState):
    """Updates as users make them: messages, commands, contacts, files, button presses."""

    # -- updates -----------------------------------------------------------------------------

    def push_update(self, update: Json) -> Json:
        """Queue an update for getUpdates; gives it the next update_id if it has none."""
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._wake_pollers()
        return update

    def message(
        self,
        from_user: User,
        text: str | None = None,
        *,
        chat: Chat | None = None,
        reply_to: int | None = None,
        contact: str | Mapping[str, Any] | None = None,
        photo: bool = False,
        entities: list[Json] | None = None,
        document: str | None = None,
        file_data: bytes | None = None,
    ) -> Json:
        """An update with a message from a user; ``contact`` as a phone shares his own card.

        ``photo`` or ``document`` (its file name) attach a file holding ``file_data``; the text
        becomes its caption.
        """
        chat_data = (chat or from_user.private_chat()).to_api()
        self._chats[chat_data["id"]] = chat_data
        message = self._new_message(chat_data, from_user.to_api())
        text_key = "caption" if photo or document else "text"
        if photo:
            message["photo"] = self._file("photo", None, file_data)
        if document is not None:
            message["document"] = self._file("document", None, file_data) | {
                "file_name": document
            }
        if text is not None:
            message[text_key] = text
        if entities:
            message[entities_key(text_key)] = entities
        if isinstance(contact, str):
            message["contact"] = {
                "phone_number": contact,
                "first_name": from_user.first_name,
                "user_id": from_user.id,
            }
        elif contact is not None:
            message["contact"] = dict(contact)
        if reply_to is not None:
            target = self.find_message(chat_data["id"], reply_to)
            if target is None:
                raise LookupError(f"no message {reply_to} in chat {chat_data['id']}")
            message["reply_to_message"] = without_reply(target)
        self._store(message, (text, None, entities))
        return {"update_id": next(self._update_ids), "message": message}

    def command(self, from_user: User, name: str, args: str = "", **kwargs: Any) -> Json:
        """``/name args`` with the bot_command entity a client adds."""
        text = f"/{name} {args}" if args else f"/{name}"
        entity = {"type": "bot_command", "offset": 0, "length": len(name) + 1}
        return self.message(from_user, text, entities=[entity], **kwargs)

    def callback(
        self,
        from_user: User,
        data: str,
        message: int | Mapping[str, Any],
        *,
        strict: bool = True,
    ) -> Json:
        """A button press on a message the bot sent (current state, edits applied).

        ``message`` is a message_id in the user's private chat or a Message dict. With ``strict``
        the data must be on one of its buttons; pass ``strict=False`` to forge a press.
        """
        if isinstance(message, int):
            chat_id, message_id = from_user.id, message
        else:
            chat_id, message_id = message["chat"]["id"], message["message_id"]
        current = self.find_message(chat_id, message_id)
        if current is None:
            raise LookupError(f"no message {message_id} in chat {chat_id}")
        if strict and data not in {b.get("callback_data") for b in self._buttons(current)}:
            raise LookupError(f"message {message_id} has no button with data {data!r}")
        query_id = f"{self.me['id']}{next(self._callback_ids):06d}"
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": from_user.to_api(),
            "message": current,
            "chat_instance": f"-{abs(chat_id) if isinstance(chat_id, int) else chat_id}",
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def press(self, from_user: User, message: int | Mapping[str, Any], button_text: str) -> Json:
        """A press of the inline button labelled ``button_text``."""
        chat_id = from_user.id if isinstance(message, int) else message["chat"]["id"]
        message_id = message if isinstance(message, int) else message["message_id"]
        current = self.find_message(chat_id, message_id) or {}
        for button in self._buttons(current):
            if button["text"] == button_text and "callback_data" in button:
                return self.callback(from_user, button["callback_data"], current)
        raise LookupError(f"message {message_id} has no callback button {button_text!r}")

    @staticmethod
    def _buttons(message: Json) -> list[Json]:
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

