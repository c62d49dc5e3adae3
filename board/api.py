"""The board's HTTP face: the page and its JSON API, on the bot's aiohttp server.

Thin as the handlers: read the request, call crm, render JSON. Every /board/api/ route is behind
`_authenticated`, which turns a request without a valid initData of an active employee into a
401 with an empty body before any route runs; a route added later is covered by being there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from board import render
from board.auth import Viewer, viewer_of
from board.version import seal, unseal
from crm import board as boards
from crm import board_actions as actions
from crm.context import Crm
from crm.ids import MAX_ID, parse_id
from crm.notices import Notifier
from crm.permissions import Refusal

STATIC = Path(__file__).with_name("static")
API = "/board/api/"


@dataclass(frozen=True)
class BoardConfig:
    crm: Crm
    notifier: Notifier
    token: str
    max_age: timedelta
    default_lang: str


CONFIG = web.AppKey("board", BoardConfig)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API):
        return await handler(request)
    config = request.app[CONFIG]
    viewer = await viewer_of(
        request, config.token, config.max_age, config.crm.clock, config.default_lang
    )
    if viewer is None:
        return web.Response(status=401)
    request["viewer"] = viewer
    return await handler(request)


def _viewer(request: web.Request) -> Viewer:
    viewer: Viewer = request["viewer"]
    return viewer


def _bad(what: str) -> web.Response:
    return web.json_response({"error": what}, status=400)


def _refused(refusal: Refusal | None) -> web.Response:
    """One answer for a deal that is gone and one that is someone else's, so ids cannot be
    probed. Only MOVED says more: deal_access gives it to the deal's former owner alone, who
    knew the deal, and the bot tells him the same."""
    status = "moved" if refusal == Refusal.MOVED else "refused"
    return web.json_response({"status": status}, status=403)


async def _filters(request: web.Request) -> list[Any] | web.Response:
    config = request.app[CONFIG]
    try:
        return await boards.board_filters(config.crm, _viewer(request).employee, request.query)
    except boards.FilterError as exc:
        return _bad(f"filter {exc}")


async def page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def to_page(_: web.Request) -> web.Response:
    """/board without the slash: the page's relative links (static/, api/) need it."""
    raise web.HTTPFound("/board/")


async def board_view(request: web.Request) -> web.Response:
    """The whole board: labels, the teams and reps to filter by, each column's first page."""
    crm = request.app[CONFIG].crm
    viewer = _viewer(request)
    employee = viewer.employee
    filters = await _filters(request)
    if isinstance(filters, web.Response):
        return filters
    loaded = await boards.load_board(crm, filters)
    teams = await boards.teams_for(employee)
    reps = await boards.reps_for(employee, request.query.get("team") or employee.team)
    zone = employee.tz or crm.playbook.working_hours.timezone
    body = render.board(loaded)
    body["version"] = seal(loaded.version, request.app[CONFIG].token)
    body["labels"] = render.labels(crm.playbook, viewer.lang, employee, zone, teams, reps)
    return web.json_response(body)


async def column_page(request: web.Request) -> web.Response:
    crm = request.app[CONFIG].crm
    stage = request.query.get("stage", "")
    raw_after = request.query.get("after", "")
    after = parse_id(raw_after) if raw_after else None
    if stage not in boards.open_stages(crm.playbook) or (raw_after and after is None):
        return _bad("stage or after")
    filters = await _filters(request)
    if isinstance(filters, web.Response):
        return filters
    cards, more = await boards.column(crm, stage, filters, after)
    return web.json_response({"cards": [render.card(c) for c in cards], "more": more})


async def changes(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    since = unseal(request.query.get("since", ""), config.token)
    if since is None:  # not a version of ours (an old server's, a forged one): read afresh
        version, changed = await boards.fresh_mark(config.crm), True
    else:
        version, changed = await boards.changes(config.crm, _viewer(request).employee, since)
    return web.json_response({"version": seal(version, config.token), "changed": changed})


async def funnel(request: web.Request) -> web.Response:
    crm = request.app[CONFIG].crm
    steps = await actions.board_funnel(crm, _viewer(request).employee, request.query.get("team"))
    return web.json_response({"funnel": render.funnel(steps)})


def _deal_id(request: web.Request) -> int | None:
    return parse_id(request.match_info.get("deal", ""))


async def deal_detail(request: web.Request) -> web.Response:
    deal_id = _deal_id(request)
    if deal_id is None:
        return _bad("deal")
    found = await actions.detail(request.app[CONFIG].crm, _viewer(request).employee, deal_id)
    if isinstance(found, Refusal):
        return _refused(found)
    return web.json_response(render.detail(found))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: int = Field(0, ge=0, le=MAX_ID)
    version: int = Field(ge=0, le=MAX_ID)
    to: str = ""
    button: str = ""
    when: datetime | None = None
    typed: str = ""
    reason: str | None = None
    note: str = ""
    rep: int = Field(0, ge=0, le=MAX_ID)


async def _body(request: web.Request) -> _Body | web.Response:
    try:
        body = _Body.model_validate_json(await request.read())
    except ValidationError:
        return _bad("body")
    if body.when is not None and body.when.tzinfo is None:
        return _bad("when needs a zone")
    return body


def _ask(deal_id: int, body: _Body) -> actions.Ask:
    when = body.when.astimezone(UTC) if body.when else None
    return actions.Ask(
        deal_id, body.task, body.version, when=when, typed=body.typed[:200], reason=body.reason,
        note=body.note[:4000],
    )


def _answer(result: actions.MoveResult) -> web.Response:
    if result.status == actions.MoveStatus.REFUSED:
        return _refused(result.refusal)
    return web.json_response(render.move(result))


_DealAction = Callable[[web.Request, int, _Body], Awaitable[web.Response]]


def _on_deal(action: _DealAction) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A POST on one deal: the action gets the deal's id from the path and the JSON body, or
    the request is answered 400 saying which of them is wrong."""
    async def handle(request: web.Request) -> web.Response:
        deal_id, body = _deal_id(request), await _body(request)
        if isinstance(body, web.Response):
            return body
        if deal_id is None:
            return _bad("deal")
        return await action(request, deal_id, body)
    return handle


@_on_deal
async def move(request: web.Request, deal_id: int, body: _Body) -> web.Response:
    crm = request.app[CONFIG].crm
    employee = _viewer(request).employee
    return _answer(await actions.move(crm, employee, _ask(deal_id, body), body.to))


@_on_deal
async def press(request: web.Request, deal_id: int, body: _Body) -> web.Response:
    crm = request.app[CONFIG].crm
    employee = _viewer(request).employee
    return _answer(await actions.press(crm, employee, _ask(deal_id, body), body.button))


@_on_deal
async def give(request: web.Request, deal_id: int, body: _Body) -> web.Response:
    config = request.app[CONFIG]
    result = await actions.give(
        config.crm, _viewer(request).employee, deal_id, body.version, body.rep, config.notifier
    )
    return _answer(result)


def add_board(
    app: web.Application, crm: Crm, notifier: Notifier, token: str, *, max_age: int,
    default_lang: str,
) -> None:
    """The board's page, static files and API on the bot's web server."""
    app[CONFIG] = BoardConfig(crm, notifier, token, timedelta(seconds=max_age), default_lang)
    app.middlewares.append(_authenticated)
    app.router.add_get("/board", to_page)
    app.router.add_get("/board/", page)
    app.router.add_static("/board/static/", STATIC)
    app.router.add_get(API + "board", board_view)
    app.router.add_get(API + "column", column_page)
    app.router.add_get(API + "changes", changes)
    app.router.add_get(API + "funnel", funnel)
    app.router.add_get(API + "deal/{deal}", deal_detail)
    app.router.add_post(API + "deal/{deal}/move", move)
    app.router.add_post(API + "deal/{deal}/press", press)
    app.router.add_post(API + "deal/{deal}/give", give)
