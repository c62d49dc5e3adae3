"""The bot's messages: send, copy, forward, edit, delete, answer a button press."""

from __future__ import annotations

import time
from typing import Any

from sandbox.botapi.markup import visible_text
from sandbox.botapi.model import (
    CONTENT_KEYS,
    NOT_MODIFIED,
    ApiError,
    ChatKey,
    Json,
    chat_of,
    entities_key,
    without_reply,
)
from sandbox.botapi.spec import Method
from sandbox.botapi.state import BotState


class Messages(BotState):
    """The methods that make, change or remove the bot's messages."""

    def _shown(self, params: Json, field_name: str) -> Json:
        """The text or caption as Telegram returns it: markup parsed away."""
        key = entities_key(field_name)
        if field_name not in params:
            return {}
        if key in params:
            return {field_name: params[field_name], key: params[key]}
        return {field_name: visible_text(params[field_name], params.get("parse_mode"))}

    @staticmethod
    def _source(params: Json, field_name: str) -> tuple[Any, ...]:
        return (
            params.get(field_name),
            params.get("parse_mode"),
            params.get(entities_key(field_name)),
        )

    def _reply(self, chat: ChatKey, params: Json) -> Json:
        reply = params.get("reply_parameters")
        if reply is None:
            return {}
        target_chat = self._key(chat_of(reply.get("chat_id")) or chat)
        target = self.find_message(target_chat, reply["message_id"])
        if target is not None:
            return {"reply_to_message": without_reply(target)}
        if reply.get("allow_sending_without_reply"):
            return {}
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _send(self, method: Method, params: Json) -> Json:
        chat = self._chat(params["chat_id"])
        reply = self._reply(chat["id"], params)
        message = self._new_message(chat, self.me)
        message |= self._shown(params, "text") | self._shown(params, "caption") | reply
        for name, spec_field in method.fields.items():
            if name in params and name != "thumbnail" and "InputFile" in spec_field.types:
                message[name] = self._file(name, params[name])
        if method.name == "sendContact":
            message["contact"] = {
                key: params[key] for key in ("phone_number", "first_name", "last_name")
                if key in params
            }
        if method.name == "sendLocation":
            message["location"] = {k: params[k] for k in ("latitude", "longitude")}
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:  # only inline keyboards come back
            message["reply_markup"] = markup
        text_field = "text" if "text" in params else "caption"
        return self._store(message, self._source(params, text_field))

    def _send_media_group(self, params: Json) -> list[Json]:
        chat = self._chat(params["chat_id"])
        reply = self._reply(chat["id"], params)
        group_id = str(next(self._file_ids))
        sent = []
        for item in params["media"]:
            message = self._new_message(chat, self.me) | reply
            message |= self._shown(item, "caption") | {"media_group_id": group_id}
            message[item["type"]] = self._file(item["type"], item["media"])
            sent.append(self._store(message, self._source(item, "caption")))
        return sent

    def _copy(self, params: Json, missing: str) -> tuple[Json, Json]:
        source = self.find_message(self._key(params["from_chat_id"]), params["message_id"])
        if source is None:
            raise ApiError(400, f"Bad Request: message to {missing} not found")
        chat = self._chat(params["chat_id"])
        reply = self._reply(chat["id"], params)
        message = self._new_message(chat, self.me) | reply
        message |= {key: value for key, value in source.items() if key in CONTENT_KEYS}
        return source, message

    def _copy_message(self, params: Json) -> Json:
        _, message = self._copy(params, "copy")
        message |= self._shown(params, "caption")
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        field_name = "text" if "text" in message else "caption"
        entities = message.get(entities_key(field_name))
        self._store(message, (message.get(field_name), None, entities))
        return {"message_id": message["message_id"]}

    def _forward_message(self, params: Json) -> Json:
        source, message = self._copy(params, "forward")
        message["forward_origin"] = {
            "type": "user", "sender_user": source["from"], "date": source["date"]
        }
        field_name = "text" if "text" in message else "caption"
        return self._store(message, (message.get(field_name), None, None))

    def _edit(self, field_name: str | None, params: Json) -> Json | bool:
        if "inline_message_id" in params:
            return True
        chat = self._key(params["chat_id"])
        message = self.find_message(chat, params["message_id"])
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.me["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        old_source = self._sources[(chat, message["message_id"])]
        source = old_source
        edited = {key: value for key, value in message.items() if key != "reply_markup"}
        if field_name is not None:
            if (field_name == "text") != ("text" in message):
                raise ApiError(400, f"Bad Request: there is no {field_name} in the message to edit")
            edited.pop(field_name, None)
            edited.pop(entities_key(field_name), None)
            edited |= self._shown(params, field_name)
            source = self._source(params, field_name)
        if "reply_markup" in params:
            edited["reply_markup"] = params["reply_markup"]
        if source == old_source and edited.get("reply_markup") == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        edited["edit_date"] = int(time.time())
        return self._store(edited, source)

    def _delete_message(self, params: Json) -> bool:
        history = self._history.get(self._key(params["chat_id"]), {})
        if history.pop(params["message_id"], None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _answer_callback(self, params: Json) -> bool:
        query_id = params["callback_query_id"]
        if query_id not in self._open_callbacks:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_callbacks.discard(query_id)
        return True

