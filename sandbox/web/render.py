"""A message of the stand-in as the page draws it: who sent it, its text (the HTML the bot sent,
for the page to show with Telegram's few tags), media, a contact and the inline keyboard."""

from __future__ import annotations

from typing import Any

from sandbox.botapi import BotAPI

Json = dict[str, Any]


def render_message(api: BotAPI, message: Json) -> Json:
    chat, message_id = message["chat"]["id"], message["message_id"]
    text_key = "text" if "text" in message else "caption"
    source, parse_mode, _ = api.source(chat, message_id)
    out: Json = {
        "id": message_id,
        "out": message["from"]["id"] != api.me["id"],  # sent by the person on the page
        "date": message["date"],
        "edited": "edit_date" in message,
        "text": message.get(text_key, ""),
    }
    if parse_mode == "HTML" and isinstance(source, str):
        out["html"] = source
    if photo := message.get("photo"):
        out["photo"] = photo[-1]["file_id"]
    if document := message.get("document"):
        out["document"] = {"file_id": document["file_id"],
                           "name": document.get("file_name", "file")}
    if contact := message.get("contact"):
        out["contact"] = {"phone": contact.get("phone_number", ""),
                          "name": contact.get("first_name", "")}
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    out["buttons"] = [
        [{"text": b["text"], "data": b.get("callback_data"), "url": b.get("url"),
          "web_app": b.get("web_app", {}).get("url")} for b in row]
        for row in rows
    ]
    return out
