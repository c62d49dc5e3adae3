"""What the bot did (the log of calls, waiting for one) and what the world does to it: injected
faults, blocked users, Telegram's flood limits."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

from sandbox.botapi.model import (
    ERROR_DESCRIPTIONS,
    ApiError,
    Call,
    ChatKey,
    RateLimits,
    Violation,
)
from sandbox.botapi.spec import Method
from sandbox.botapi.state import BotState


class Journal(BotState):
    """The log of calls and waiting on it; faults, blocked users and flood limits."""

    # -- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        n: int = 1,
        error_code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``n`` calls of ``method`` with an error (after validation)."""
        name = self._method(method).name
        if error_code == 429:
            error = ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        else:
            error = ApiError(error_code, description or ERROR_DESCRIPTIONS[error_code])
        self._faults.setdefault(name, deque()).extend([error] * n)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: calls aimed at his chat get 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def take_violations(self) -> list[Violation]:
        """Return and forget the violations, for tests that provoke them on purpose."""
        taken = list(self.violations)
        self.violations.clear()  # in place: the bots of one server share the list
        return taken

    # -- what the bot did --------------------------------------------------------------------

    def calls(self, method: str | None = None, *, include_failed: bool = False) -> list[Call]:
        """Calls of ``method`` (any when None) in arrival order of their answers."""
        return [
            call
            for call in self.sent
            if (method is None or call.method.lower() == method.lower())
            and (call.ok or include_failed)
        ]

    async def wait_for(
        self,
        what: str | Callable[[Call], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        since: int = 0,
    ) -> Call:
        """First call in ``sent[since:]`` that is a successful ``what`` or satisfies it."""
        predicate: Callable[[Call], bool]
        if isinstance(what, str):
            name = what.lower()
            predicate = lambda call: call.ok and call.method.lower() == name  # noqa: E731
        else:
            predicate = what

        def found() -> Call | None:
            return next((call for call in self.sent[since:] if predicate(call)), None)

        await self._wait(lambda: found() is not None, timeout, f"a call matching {what!r}")
        call = found()
        assert call is not None
        return call

    async def wait_count(
        self, method: str, n: int, *, timeout: float = 5.0  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until ``method`` succeeded at least ``n`` times; return those calls."""
        await self._wait(lambda: len(self.calls(method)) >= n, timeout, f"{n} x {method}")
        return self.calls(method)

    async def _wait(self, ready: Callable[[], bool], seconds: float, what: str) -> None:
        async with self._log_changed:
            try:
                async with asyncio.timeout(seconds):
                    await self._log_changed.wait_for(ready)
            except TimeoutError:
                seen = ", ".join(f"{c.method}({c.error_code or 'ok'})" for c in self.sent[-10:])
                raise AssertionError(f"no {what} within {seconds}s; last calls: {seen}") from None

    def _check_faults(self, method: Method, chat_id: ChatKey | None) -> None:
        if queued := self._faults.get(method.name):
            raise queued.popleft()
        if chat_id is not None and self._key(chat_id) in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        sends_message = method.returns[0] in ("Message", "MessageId", "Array of Message")
        if self.strict_chats and sends_message and isinstance(chat_id, int) and chat_id > 0 and (
            chat_id not in self._chats
        ):
            raise ApiError(400, "Bad Request: chat not found")
        if self.rate_limits and chat_id is not None and sends_message:
            self._throttle(self.rate_limits, self._key(chat_id))

    def _throttle(self, limits: RateLimits, chat: ChatKey) -> None:
        now = time.perf_counter()

        def recent(times: deque[float], window: float) -> int:
            while times and times[0] <= now - window:
                times.popleft()
            return len(times)

        group = isinstance(chat, int) and chat < 0
        window, limit = (60.0, limits.per_group_per_minute) if group else (
            1.0, limits.per_chat_per_second)
        chat_times = self._chat_sends.setdefault(chat, deque())
        if recent(self._sends, 1.0) >= limits.per_bot_per_second:
            raise ApiError(429, "Too Many Requests: retry after 1", 1)
        if recent(chat_times, window) >= limit:
            retry_after = max(1, math.ceil(chat_times[0] + window - now))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        self._sends.append(now)
        chat_times.append(now)

