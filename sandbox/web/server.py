"""The demo's web chat: aiohttp handlers over the Bot API stand-in and the simulated phone.

A person on the page is a Telegram user: what he types becomes an update the real bot polls,
what the bot sends is read back from the stand-in. The page learns of changes by server-sent
events (a chat changed, the bot is typing, a button press was answered) and refetches.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.app import App
from crm.clock import ScaledClock
from sandbox.botapi import BotAPI, Call, User
from sandbox.botapi.webapp import init_data
from sandbox.phone import Call as PhoneCall
from sandbox.phone import Outcome, place_call
from sandbox.seed import CLIENTS, CONTACTS, NEWCOMERS, TEAM, Person
from sandbox.web.render import render_message
from storage.models import Contact, Employee

STATIC = Path(__file__).with_name("static")
Json = dict[str, Any]
_CHANGES = ("send", "edit", "copy", "forward", "delete")
# The clock's speeds: real time, the ladder's minutes as seconds, a working day in a minute or so
# (the whole ladder, 5 min to archive, in about two).
SPEEDS = (1, 60, 1440)
# People added on the page (someone who opens an invite, say) get Telegram ids from here on.
FIRST_NEW_ID = 9001
LANGS = ("ru", "en")


class ChatServer:
    def __init__(self, api: BotAPI, app: App, clock: ScaledClock) -> None:
        self.api, self.app, self.clock = api, app, clock
        self.people = {p.tg_id: p for p in (*TEAM, *CLIENTS, *NEWCOMERS)}
        self.keyboards: dict[int, Json] = {}  # the reply keyboard each chat shows
        self._queries: dict[str, int] = {}  # callback query id -> the chat it came from
        self._listeners: set[asyncio.Queue[Json]] = set()
        self._runner: web.AppRunner | None = None
        self._store: contextvars.Context | None = None  # see use_store
        self.url = ""
        api.observers.append(self._on_call)

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/api/state", self._state)
        app.router.add_post("/api/people", self._add_person)
        app.router.add_get("/api/events", self._events)
        app.router.add_get("/api/chat/{tg}", self._chat)
        app.router.add_post("/api/chat/{tg}/send", self._send)
        app.router.add_post("/api/chat/{tg}/press", self._press)
        app.router.add_post("/api/chat/{tg}/contact", self._contact)
        app.router.add_post("/api/chat/{tg}/webapp", self._web_app)
        app.router.add_get("/api/file/{file_id}", self._file)
        app.router.add_post("/api/clock", self._set_clock)
        app.router.add_post("/api/phone", self._phone)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = self._runner.addresses[0]
        self.url = f"http://{host}:{bound[1]}"

    def use_store(self) -> None:
        """Call once the store is open. The page serves from before (a taken --listen fails
        before a file is made), so its handlers read the store in the context it opened in."""
        self._store = contextvars.copy_context()

    async def stop(self) -> None:
        for queue in self._listeners:
            queue.put_nowait({"type": "bye"})
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what the bot did --------------------------------------------------------------------

    def _on_call(self, call: Call) -> None:
        if not call.ok:
            return
        params, chat = call.params, call.chat_id
        name = call.method
        if name == "answerCallbackQuery":
            chat = self._queries.pop(params["callback_query_id"], None)
            if chat is not None and params.get("text"):
                self._emit({"type": "answer", "chat": chat, "text": params["text"],
                            "alert": bool(params.get("show_alert"))})
        elif name == "sendChatAction":
            self._emit({"type": "typing", "chat": chat})
        elif name.startswith(_CHANGES) or name.endswith("Message"):
            markup = params.get("reply_markup") or {}
            if isinstance(chat, int) and "keyboard" in markup:
                self.keyboards[chat] = markup
            elif isinstance(chat, int) and "remove_keyboard" in markup:
                self.keyboards.pop(chat, None)
            self._emit({"type": "chat", "chat": chat})

    def _emit(self, event: Json) -> None:
        for queue in self._listeners:
            queue.put_nowait(event)

    # -- HTTP --------------------------------------------------------------------------------

    async def _index(self, _: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    def _clock_state(self) -> Json:
        return {"now": self.clock.now().isoformat(), "speed": self.clock.speed,
                "speeds": SPEEDS}

    @staticmethod
    def _person_json(p: Person) -> Json:
        return {"id": p.tg_id, "name": p.name, "role": p.role, "lang": p.lang, "ext": p.sip_ext,
                "phone": p.phone, "company": p.company}

    async def _state(self, _: web.Request) -> web.Response:
        people = [self._person_json(p) for p in self.people.values()]
        numbers = [{"name": n, "phone": ph, "company": c} for n, ph, c in CONTACTS]
        numbers += [{"name": p.name, "phone": p.phone, "company": p.company}
                    for p in CLIENTS if p.phone]
        return web.json_response({
            "people": people, "numbers": numbers, "clock": self._clock_state(),
            "bot": {"name": self.api.me["first_name"], "username": self.api.me["username"]},
        })

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        })
        await response.prepare(request)
        queue: asyncio.Queue[Json] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            await response.write(b": hello\n\n")
            async for event in _until_bye(queue):
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._listeners.discard(queue)
        return response

    async def _add_person(self, request: web.Request) -> web.Response:
        """A Telegram user the demo did not know: a new rep about to open his invite, say."""
        body = await self._body(request)
        name = " ".join(str(body.get("name", "")).split())
        lang = body.get("lang")
        if not name or len(name) > 64:
            raise web.HTTPBadRequest(text="a name of 1 to 64 characters is expected")
        if lang not in LANGS:
            raise web.HTTPBadRequest(text=f"lang is one of {LANGS}")
        tg_id = max(FIRST_NEW_ID - 1, *self.people) + 1
        person = Person(tg_id, name, "new", lang=lang)
        self.people[tg_id] = person
        return web.json_response(self._person_json(person))

    def _person(self, request: web.Request) -> Person:
        tg = request.match_info["tg"]
        person = self.people.get(int(tg)) if tg.isdigit() else None
        if person is None:
            raise web.HTTPNotFound(text="no such person in the demo")
        return person

    @staticmethod
    def _user(person: Person) -> User:
        first, _, last = person.name.partition(" ")
        return User(person.tg_id, first, language_code=person.lang, last_name=last or None)

    async def _known(self, person: Person) -> Person:
        """One added on the page is "new" until the bot knows him; from then on he is what he
        became: the employee his invite made (his role and extension) or a client who wrote."""
        if person.role != "new" or self._store is None:
            return person
        known = await asyncio.create_task(_became(person), context=self._store.copy())
        self.people[person.tg_id] = known
        return known

    async def _chat(self, request: web.Request) -> web.Response:
        person = await self._known(self._person(request))
        chat = person.tg_id
        messages = [render_message(self.api, m) for m in self.api.history(chat)]
        return web.json_response({
            "person": self._person_json(person),
            "messages": messages, "keyboard": self.keyboards.get(chat),
            "commands": self.api.commands_for(chat, person.lang),
            "menu_button": self.api.menu_buttons.get(chat) or self.api.menu_buttons.get(None),
        })

    async def _body(self, request: web.Request) -> Json:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="a JSON body is expected") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="a JSON object is expected")
        return body

    async def _send(self, request: web.Request) -> web.Response:
        person, body = self._person(request), await self._body(request)
        text = str(body.get("text", "")).strip()
        if not text:
            raise web.HTTPBadRequest(text="the message is empty")
        user = self._user(person)
        if text.startswith("/") and len(text) > 1:
            name, _, args = text[1:].partition(" ")
            update = self.api.command(user, name, args)
        else:
            update = self.api.message(user, text)
        self.api.push_update(update)
        self._emit({"type": "chat", "chat": person.tg_id})
        return web.json_response({"ok": True})

    async def _press(self, request: web.Request) -> web.Response:
        person, body = self._person(request), await self._body(request)
        try:
            update = self.api.callback(self._user(person), str(body["data"]),
                                       int(body["message_id"]))
        except (KeyError, ValueError, LookupError) as exc:
            raise web.HTTPBadRequest(text=f"no such button: {exc}") from None
        self._queries[update["callback_query"]["id"]] = person.tg_id
        self.api.push_update(update)
        return web.json_response({"ok": True})

    async def _contact(self, request: web.Request) -> web.Response:
        person = self._person(request)
        phone = person.phone or f"+7999{person.tg_id:07d}"
        update = self.api.message(self._user(person), contact=phone)
        self.api.push_update(update)
        self._emit({"type": "chat", "chat": person.tg_id})
        return web.json_response({"ok": True})

    async def _web_app(self, request: web.Request) -> web.Response:
        """Open a Mini App as this person: its URL with the initData Telegram would sign."""
        person, body = self._person(request), await self._body(request)
        url = str(body.get("url", ""))
        if not url.startswith(("http://", "https://")):
            raise web.HTTPBadRequest(text="a Mini App's http(s) URL is expected")
        signed = init_data(self.api.token, self._user(person), self.clock.now())
        return web.json_response({"url": f"{url}#tgWebAppData={quote(signed)}"})

    async def _file(self, request: web.Request) -> web.Response:
        try:
            content = self.api.file_content(request.match_info["file_id"])
        except KeyError:
            raise web.HTTPNotFound(text="no such file") from None
        name = request.query.get("name", "")
        headers = {"Content-Disposition": f'attachment; filename="{name}"'} if name else {}
        kind = "image/png" if content[:4] == b"\x89PNG" else "application/octet-stream"
        return web.Response(body=content, content_type=kind, headers=headers)

    async def _set_clock(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        speed = body.get("speed")
        if speed not in SPEEDS:
            raise web.HTTPBadRequest(text=f"speed is one of {SPEEDS}")
        self.clock.speed = speed
        state = self._clock_state()
        self._emit({"type": "clock", **state})
        return web.json_response(state)

    async def _phone(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        agent_id = body.get("agent")
        agent = self.people.get(agent_id) if isinstance(agent_id, int) else None
        number = str(body.get("number", "")).strip()
        if agent is None or not agent.sip_ext:
            raise web.HTTPBadRequest(text="pick an agent with an extension")
        if not number:
            raise web.HTTPBadRequest(text="pick a number")
        try:
            outcome = Outcome(str(body.get("outcome")))
            talk = int(body.get("talk", 30))
        except (TypeError, ValueError):
            raise web.HTTPBadRequest(text="unknown outcome or talk time") from None
        inbound = body.get("direction") == "in"
        caller, callee = (number, agent.sip_ext) if inbound else (agent.sip_ext, number)
        listener = self.app.listener
        if listener is None:
            raise web.HTTPServiceUnavailable(text="the SIP listener is not running")
        await place_call(PhoneCall(caller, callee, outcome, talk), listener.address,
                         self.clock.now())
        return web.json_response({"ok": True})


async def _became(person: Person) -> Person:
    employee = await Employee.get_or_none(tg_id=person.tg_id)
    if employee is not None:
        return replace(person, role=str(employee.role), sip_ext=employee.sip_ext)
    if await Contact.exists(tg_user_id=person.tg_id):
        return replace(person, role="client")
    return person


async def _until_bye(queue: asyncio.Queue[Json]) -> AsyncIterator[Json]:
    """The queue's events until "bye", with a ping when it was quiet for 15 s."""
    while True:
        try:
            event = await asyncio.wait_for(queue.get(), 15)
        except TimeoutError:
            event = {"type": "ping"}
        if event["type"] == "bye":
            return
        yield event
