"""A stand-in for the Telegram Bot API server: the product's bot reaches it over real HTTP
(``NEXTSTEP_TELEGRAM_API`` or ``TelegramAPIServer.from_base(api.base_url)``).

Every request is validated against the schema (botapi_schema.json); a violation is kept in
``violations`` and answered with a 400 the way Telegram answers. What the bot did is kept in
``sent``. One server can serve several bots (``api.add_bot(token)`` gives another bot's view, with
its own identity, updates, chats, message ids and log). Like Telegram, a file_id is valid only for
the bot that saw the file: another bot must download it (``getFile``, then
``/file/bot<token>/<path>``) and upload the bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from sandbox.botapi.delivery import Delivery
from sandbox.botapi.journal import Journal
from sandbox.botapi.messages import Messages
from sandbox.botapi.model import (
    DEFAULT_TOKEN,
    FILE_DIR,
    ApiError,
    Call,
    Json,
    RateLimits,
    Violation,
    WebhookDelivery,
    chat_of,
    read_parts,
)
from sandbox.botapi.spec import Method, Upload, check_request, decode_form
from sandbox.botapi.users import Users


class BotAPI(Journal, Users, Messages, Delivery):
    """``async with BotAPI() as api:`` serves the Bot API on ``api.base_url``."""

    # -- lifecycle ---------------------------------------------------------------------------

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        rate_limits: RateLimits | None = None,
        bot_username: str = "nextstep_test_bot",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(token, rate_limits=rate_limits, bot_username=bot_username)
        self.host, self.port = host, port
        self._handlers: dict[str, Callable[[Json], Any]] = {
            "getMe": lambda _: self.me,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": partial(self._edit, "text"),
            "editMessageCaption": partial(self._edit, "caption"),
            "editMessageReplyMarkup": partial(self._edit, None),
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback,
            "sendChatAction": self._chat_action,
            "setMyCommands": self._set_commands,
            "getMyCommands": lambda params: self.commands.get(self._commands_key(params), []),
            "deleteMyCommands": self._delete_commands,
            "setChatMenuButton": self._set_menu_button,
            "getChatMenuButton": self._menu_button,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=50 * 1024 * 1024)  # Telegram's upload limit
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self.port)
        await self._site.start()
        self.base_url = f"http://{self.host}:{self._runner.addresses[0][1]}"
        self._client = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for bot in self._bots.values():
            bot._closing = True
            bot._wake_pollers()  # a held getUpdates would otherwise delay shutdown
            if bot._pusher is not None:
                bot._pusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bot._pusher
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def go_away(self) -> None:
        """Telegram becomes unreachable: the port refuses connections, open ones are cut."""
        assert self._runner is not None and self._site is not None, "enter the server first"
        port = self._runner.addresses[0][1]
        await self._site.stop()
        self._site = web.TCPSite(self._runner, self.host, port)  # for come_back()
        server = self._runner.server
        assert server is not None
        await server.shutdown(0.1)  # cancels held getUpdates: their updates stay queued

    async def come_back(self) -> None:
        """Telegram answers again, on the same port."""
        assert self._site is not None, "enter the server first"
        await self._site.start()

    def add_bot(self, token: str, *, bot_username: str = "nextstep_client_bot") -> BotAPI:
        """Serve another bot token on this server; returns that bot's view (the same API)."""
        assert self._client is not None, "enter the server first"
        if token in self._bots:
            raise ValueError("this token is served already")
        bot = BotAPI(token, rate_limits=self.rate_limits, bot_username=bot_username)
        bot.base_url, bot._client = self.base_url, self._client
        bot.violations = self.violations  # one list: a check of this server sees every bot's
        self._bots[token] = bot
        return bot

    @property
    def bots(self) -> list[BotAPI]:
        """Every bot this server serves, this one first."""
        return list(self._bots.values())

    def bot(self, token: str) -> BotAPI:
        """The view of a bot this server serves."""
        return self._bots[token]

    def _set_webhook(self, params: Json) -> bool:
        super()._set_webhook(params)
        if "allowed_updates" in params:
            self._allowed_updates = frozenset(params["allowed_updates"])
        if self.deliver_webhooks and self._pusher is None:
            self._pusher = asyncio.get_running_loop().create_task(self._push_to_webhook())
        return True

    async def _push_to_webhook(self) -> None:
        """Telegram's side of a webhook: each pending update in order, POSTed until the bot
        answers 2xx (a failure is tried again a second later), while the webhook is set."""
        try:
            while self.webhook is not None and not self._closing:
                ready = self._deliverable()
                if not ready:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._updates_arrived.wait(), 1.0)
                    continue
                try:
                    delivery = await self.post_update(self.webhook["url"], ready[0])
                    delivered = 200 <= delivery.status < 300
                except (aiohttp.ClientError, TimeoutError):
                    delivered = False
                if delivered:
                    self._updates = [u for u in self._updates if u is not ready[0]]
                else:
                    await asyncio.sleep(1.0)
        finally:
            self._pusher = None

    async def post_update(
        self,
        webhook_url: str,
        update: Json,
        secret_token: str | None = None,
        *,
        http_timeout: float = 10.0,
    ) -> WebhookDelivery:
        """POST an update to the bot's webhook like Telegram does; serve a method in the reply.

        ``secret_token`` defaults to the one the bot registered with setWebhook.
        """
        assert self._client is not None, "use BotAPI as an async context manager"
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        token = secret_token or (self.webhook or {}).get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        sent_at = time.perf_counter()
        async with self._client.post(
            webhook_url,
            json=update,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=http_timeout),
        ) as response:
            form: dict[str, str] = {}
            uploads: dict[str, Upload] = {}
            typed: Json | None = None
            if response.content_type == "multipart/form-data":
                form, uploads = await read_parts(
                    aiohttp.MultipartReader(response.headers, response.content)
                )
            elif response.content_type == "application/json":
                typed = await response.json()
            else:
                await response.read()
            replied_at = time.perf_counter()
            status = response.status
        method = form.pop("method", None) or (typed or {}).pop("method", None)
        reply = None
        if 200 <= status < 300 and method:
            reply = await self._serve(method, form, uploads, typed, via_webhook=True)
        return WebhookDelivery(update, status, sent_at, replied_at, reply)

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        bot = self._bots.get(request.match_info["token"])
        if bot is None:
            self.violations.append(Violation(name, "request with a wrong bot token"))
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        form: dict[str, str] = dict(request.query)
        uploads: dict[str, Upload] = {}
        typed: Json | None = None
        if request.content_type == "multipart/form-data":
            parts, uploads = await read_parts(await request.multipart())
            form.update(parts)
        elif request.content_type == "application/json":
            typed = {**form, **await request.json()}
        else:
            form.update((key, str(value)) for key, value in (await request.post()).items())
        call = await bot._serve(name, form, uploads, typed)
        if call.ok:
            return web.json_response({"ok": True, "result": call.result})
        body: Json = {"ok": False, "error_code": call.error_code, "description": call.description}
        if call.retry_after is not None:
            body["parameters"] = {"retry_after": call.retry_after}
        return web.json_response(body, status=call.error_code or 500)

    async def _serve(
        self,
        name: str,
        form: dict[str, str],
        uploads: dict[str, Upload],
        typed: Json | None,
        *,
        via_webhook: bool = False,
    ) -> Call:
        arrived = time.perf_counter()
        method = self.spec.method(name)
        if method is None:
            self.violations.append(Violation(name, "unknown method"))
            return await self._record(
                Call(name, {**form, **(typed or {})}, arrived, None, None, 404, "Not Found",
                     via_webhook=via_webhook)
            )
        if typed is None:
            params, problems = decode_form(method, form, uploads)
        else:
            params, problems = typed, check_request(method, typed, {})
        chat_id = chat_of(params.get("chat_id"))
        if problems:
            self.violations.extend(Violation(method.name, problem) for problem in problems)
            return await self._record(
                Call(method.name, params, arrived, chat_id, None, 400,
                     f"Bad Request: {problems[0]}", via_webhook=via_webhook)
            )
        try:
            self._check_faults(method, chat_id)
            result = await self._execute(method, params)
        except ApiError as error:
            if error.code == 429:
                self.served_429[method.name] += 1
            return await self._record(
                Call(method.name, params, arrived, chat_id, None, error.code, error.description,
                     error.retry_after, via_webhook)
            )
        return await self._record(
            Call(method.name, params, arrived, chat_id, result, via_webhook=via_webhook)
        )

    async def _execute(self, method: Method, params: Json) -> Any:
        if method.name == "getUpdates":
            return await self._get_updates(params)
        handler = self._handlers.get(method.name)
        if handler is not None:
            return handler(params)
        if method.returns[0] == "Message" and method.name.startswith("send"):
            return self._send(method, params)
        return True

    async def _download(self, request: web.Request) -> web.Response:
        """``GET /file/bot<token>/<file_path>``, the download URL getFile's path leads to."""
        bot = self._bots.get(request.match_info["token"])
        path = request.match_info["path"]
        content = bot._files.get(path.removeprefix(f"{FILE_DIR}/")) if bot else None
        if bot is None or not path.startswith(f"{FILE_DIR}/") or content is None:
            self.violations.append(Violation("file download", f"no file at {path!r}"))
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=content, content_type="application/octet-stream")
