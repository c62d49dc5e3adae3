"""The board's API on the App's real web server: every route refuses whoever is not allowed,
changes nothing then and says nothing of a deal that is not the viewer's; and a rep's board,
moves and detail work through it. The routes are walked from the router itself, so a route
added later is covered."""

from __future__ import annotations

import json
from datetime import timedelta

from aiohttp import web

from board.api import API, add_board
from crm.deals import ContactDraft, quick_add
from storage.models import Deal, Task, TaskStatus, TimelineEvent
from tests.e2e.harness import Harness
from tests.e2e.miniapp import BoardClient, init_data
from tests.fakes import User

SECRET_CLIENT = "Zinaida Foreignova"


def _api_routes() -> list[tuple[str, str]]:
    """(method, path template) of every board API route, as add_board registers them."""
    probe = web.Application()
    add_board(probe, None, None, "", max_age=60, default_lang="ru")  # type: ignore[arg-type]
    found = []
    for route in probe.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith(API) and route.method != "HEAD":
            found.append((route.method, path))
    return found


async def _snapshot(deal_id: int) -> tuple[object, ...]:
    deal = await Deal.get(id=deal_id)
    tasks = await Task.filter(deal_id=deal_id).values_list("id", "status", "due_at", "assignee_id")
    events = await TimelineEvent.filter(deal_id=deal_id).count()
    return (deal.version, deal.stage, deal.status, deal.owner_id, sorted(tasks), events)  # type: ignore[attr-defined]


async def _foreign_deal(h: Harness) -> tuple[int, int, int]:
    other = await h.make_employee("rep", name="Other")
    added = await quick_add(
        h.running.crm, ContactDraft(name=SECRET_CLIENT, phones=("+74959990011",)),
        owner_id=other.employee.id, team=other.employee.team,
    )
    assert added.deal is not None
    task = await Task.get(deal_id=added.deal.id, status=TaskStatus.OPEN)
    return added.deal.id, task.id, added.deal.version


def _body(task: int, version: int, rep: int) -> dict[str, object]:
    return {"task": task, "version": version, "to": "paid", "button": "paid", "rep": rep,
            "reason": "price"}


async def test_every_route_refuses_strangers_and_foreign_deals(harness: Harness) -> None:
    h = harness
    port, token, now = h.running.web_port, h.api.token, h.clock.now()
    rep = await h.make_employee("rep", name="Ann", lang="en")
    client = h.user("Client")
    await h.say(client, "hello")  # a client of the bot, not an employee
    deal_id, task_id, version = await _foreign_deal(h)
    before = await _snapshot(deal_id)
    routes = _api_routes()
    assert {p for _, p in routes} >= {API + "board", API + "deal/{deal}/move"}

    strangers = {
        "no initData": None,
        "tampered": init_data(token, rep.user, now, tamper=True),
        "expired": init_data(token, rep.user, now - timedelta(hours=24, minutes=1)),
        "client": init_data(token, client, now),
        "nobody": init_data(token, User(777, "Nobody"), now),
        "other bot": init_data("1:other", rep.user, now),
    }
    for name, init in strangers.items():
        asker = BoardClient(port, init)
        for method, template in routes:
            path = template.replace("{deal}", str(deal_id))
            status, raw = await asker.call(method, path, _body(task_id, version, rep.employee.id))
            assert (status, raw) == (401, b""), (name, method, path, status, raw)

    own = BoardClient(port, init_data(token, rep.user, now))
    gone = str(2**31 - 1)  # no such deal: refused exactly as another's, so ids cannot be probed
    for method, template in routes:
        for deal in (str(deal_id), gone):
            path = template.replace("{deal}", deal) + "?since=0&stage=new"
            status, raw = await own.call(method, path, _body(task_id, version, rep.employee.id))
            assert SECRET_CLIENT.encode() not in raw and b"+7495999" not in raw, (path, raw)
            if "{deal}" in template:
                assert (status, json.loads(raw)) == (403, {"status": "refused"}), (path, raw)
            else:
                assert status == 200, (path, status, raw)
    assert await _snapshot(deal_id) == before


async def test_a_rep_drags_his_card_through_the_api(harness: Harness) -> None:
    h = harness
    rep = await h.make_employee("rep", name="Ann", lang="en")
    added = await quick_add(
        h.running.crm, ContactDraft(name="Boris", phones=("+74951112233",)),
        owner_id=rep.employee.id, team=rep.employee.team,
    )
    assert added.deal is not None
    own = BoardClient(h.running.web_port, init_data(h.api.token, rep.user, h.clock.now()))
    board = await own.json("GET", API + "board")
    assert board["labels"]["lang"] == "en"
    assert board["labels"]["stages"][0]["name"] == "New lead"
    [card] = board["columns"][0]["cards"]
    assert card["client"] == "Boris"
    path = f"{API}deal/{card['id']}/move"
    ask = {"task": card["task"], "version": card["version"], "to": "in_progress"}
    asked = await own.json("POST", path, ask)
    assert asked["status"] == "needs_time" and len(asked["slots"]) == 8
    done = await own.json("POST", path, {**ask, "when": asked["slots"][0]["at"]})
    assert done["status"] == "done" and done["card"]["stage"] == "in_progress"
    stale = await own.json("POST", path, {**ask, "to": "paid"})  # the card as it was before
    assert stale["status"] == "stale" and stale["card"]["stage"] == "in_progress"
    fresh = done["card"]
    paid = await own.json(
        "POST", path, {"task": fresh["task"], "version": fresh["version"], "to": "paid"}
    )
    assert paid["status"] == "done" and paid["card"]["stage"] == "paid"
    detail = await own.json("GET", f"{API}deal/{card['id']}")
    assert detail["contact"]["phones"] == ["+74951112233"] and detail["buttons"] == []
    status, raw = await own.call("POST", path, {"version": "x"})
    assert status == 400 and b"body" in raw
    status, _ = await own.call("GET", API + "board?overdue=maybe")
    assert status == 400
    changes = await own.json("GET", f"{API}changes?since={board['version']}")
    assert changes["changed"] is True
    top = str(await TimelineEvent.all().order_by("-id").first().values_list("id", flat=True))
    for version in (board["version"], changes["version"]):  # opaque: no event id shows
        assert not version.isdigit() and len(version) > 40
    guessed = await own.json("GET", f"{API}changes?since={top}")  # a raw id is not a version
    assert guessed["changed"] is True and guessed["version"] != top


async def test_a_supervisor_sees_the_funnel_and_gives_a_deal(harness: Harness) -> None:
    h = harness
    boss = await h.make_employee("supervisor", name="Boss", lang="ru")
    ann = await h.make_employee("rep", name="Ann")
    bob = await h.make_employee("rep", name="Bob")
    added = await quick_add(
        h.running.crm, ContactDraft(name="Boris", phones=("+74951112233",)),
        owner_id=ann.employee.id, team=ann.employee.team,
    )
    assert added.deal is not None
    h.clock.advance(timedelta(minutes=1))
    sup = BoardClient(h.running.web_port, init_data(h.api.token, boss.user, h.clock.now()))
    board = await sup.json("GET", API + "board")
    assert board["labels"]["lang"] == "ru" and board["labels"]["teams"] == ["main"]
    assert {r["name"] for r in board["labels"]["reps"]} == {"Ann", "Bob"}
    funnel = await sup.json("GET", API + "funnel")
    assert funnel["funnel"][0] == {"stage": "new", "entered": 1, "amount": 0, "conversion": None}
    status, _ = await sup.call("GET", API + "board?team=south")  # not his team
    assert status == 400
    detail = await sup.json("GET", f"{API}deal/{added.deal.id}")
    assert {r["name"] for r in detail["reps"]} == {"Ann", "Bob"}
    version = detail["card"]["version"]
    given = await sup.json(
        "POST", f"{API}deal/{added.deal.id}/give", {"version": version, "rep": bob.employee.id}
    )
    assert given["status"] == "done" and given["card"]["owner"] == bob.employee.id
    former = BoardClient(h.running.web_port, init_data(h.api.token, ann.user, h.clock.now()))
    status, raw = await former.call("GET", f"{API}deal/{added.deal.id}")
    assert (status, json.loads(raw)) == (403, {"status": "moved"})  # as the bot tells him
    await h.api.wait_for(lambda c: c.chat_id == bob.user.id and c.method == "sendMessage")
    again = await sup.json(
        "POST", f"{API}deal/{added.deal.id}/give", {"version": version, "rep": ann.employee.id}
    )
    assert again["status"] == "stale"  # given meanwhile: the fresh card, nothing changed


async def test_bad_ids_are_a_clear_400_and_change_nothing(harness: Harness) -> None:
    h = harness
    boss = await h.make_employee("supervisor", name="Boss", lang="en")
    deal_id, task_id, version = await _foreign_deal(h)
    before = await _snapshot(deal_id)
    sup = BoardClient(h.running.web_port, init_data(h.api.token, boss.user, h.clock.now()))
    huge, over = "9" * 30, str(2**31)
    asks: list[tuple[str, str, object]] = [
        (method, template.replace("{deal}", bad), _body(task_id, version, boss.employee.id))
        for method, template in _api_routes() if "{deal}" in template
        for bad in ("²", "%C2%B2", huge, over, "-1")
    ]
    asks += [
        ("GET", f"{API}column?stage=new&after={bad}", None) for bad in ("²", huge, over)
    ] + [
        ("GET", f"{API}board?rep={bad}", None) for bad in ("²", huge, over)
    ]
    for field in ("task", "version", "rep"):
        for bad_value in (2**31, 10**30, -1):
            bad_body = {**_body(task_id, version, boss.employee.id), field: bad_value}
            asks += [("POST", f"{API}deal/{deal_id}/{verb}", bad_body)
                     for verb in ("move", "press", "give")]
    for method, path, body in asks:
        status, raw = await sup.call(method, path, body)
        assert status == 400, (method, path, body, status, raw)
        assert set(json.loads(raw)) == {"error"}, raw
    assert await _snapshot(deal_id) == before
