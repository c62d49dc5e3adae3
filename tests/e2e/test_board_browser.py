"""The board in headless Debian Chromium (playwright, no browser download): opened with a signed
initData in the URL's hash (telegram.org is blocked, as offline), a card dragged with the mouse
from New lead to In progress with a time, then to Paid; the invariant holds after each. A
screenshot at 360 px wide is left in test-artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import BrowserContext, CDPSession, Page, Route, async_playwright

from crm.deals import ContactDraft, quick_add
from crm.engine import Press, Status, apply_outcome
from storage.models import Deal, DealStatus, Task, TaskStatus
from tests.e2e.harness import Harness
from tests.e2e.miniapp import init_data

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["desktop"])
async def browser(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[BrowserContext]:
    """Chromium on a fresh profile (playwright's persistent context is its --user-data-dir): a
    desktop with a mouse, or a 360-px phone with a touch screen."""
    phone = request.param == "phone"
    async with async_playwright() as p:
        launched = await p.chromium.launch_persistent_context(
            tmp_path / "chromium", executable_path=CHROMIUM, timeout=TIMEOUT_MS,
            headless=True, has_touch=phone,
            viewport={"width": 360, "height": 740} if phone else {"width": 1100, "height": 800},
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _offline(route: Route) -> None:
    await route.abort()


async def _drag(page: Page, deal_id: int, target: str) -> None:
    card = page.locator(f'.column .card[data-deal="{deal_id}"]')
    box, goal = await card.bounding_box(), await page.locator(target).bounding_box()
    assert box and goal
    await page.mouse.move(box["x"] + 20, box["y"] + 10)
    await page.mouse.down()
    await page.mouse.move(box["x"] + 40, box["y"] + 30, steps=4)
    await page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 40, steps=10)
    await page.mouse.up()


async def _invariant(deal_id: int, status: DealStatus) -> None:
    deal = await Deal.get(id=deal_id)
    assert deal.status == status
    open_tasks = await Task.filter(deal_id=deal_id, status=TaskStatus.OPEN).count()
    assert open_tasks == (1 if status == DealStatus.OPEN else 0)


async def test_drag_a_card_to_in_progress_then_paid(
    harness: Harness, browser: BrowserContext
) -> None:
    h = harness
    rep = await h.make_employee("rep", name="Ann", lang="en")
    added = await quick_add(
        h.running.crm, ContactDraft(name="Boris Board", phones=("+74951112233",)),
        owner_id=rep.employee.id, team=rep.employee.team,
    )
    assert added.deal is not None
    deal_id = added.deal.id
    elsewhere = await quick_add(
        h.running.crm, ContactDraft(name="Paid Elsewhere", phones=("+74951112255",)),
        owner_id=rep.employee.id, team=rep.employee.team,
    )
    assert elsewhere.deal is not None
    init = init_data(h.api.token, rep.user, h.clock.now())

    page = await browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.route("https://telegram.org/**", _offline)
    url = f"http://127.0.0.1:{h.running.web_port}/board/#tgWebAppData={quote(init)}"
    await page.goto(url + "&tgWebAppVersion=8.0")
    await page.locator(f'.column[data-stage="new"] .card[data-deal="{deal_id}"]').wait_for()
    assert await page.locator('.column[data-stage="new"] h2').inner_text() == "New lead"
    # Pressed in the chat meanwhile: the open board shows it within a few seconds.
    task = await Task.get(deal_id=elsewhere.deal.id, status=TaskStatus.OPEN)
    paid = await apply_outcome(h.running.crm, Press(task.id, "paid", rep.employee))
    assert paid.status == Status.DONE
    gone = page.locator(f'.card[data-deal="{elsewhere.deal.id}"]')
    await gone.wait_for(state="detached", timeout=8_000)

    await _drag(page, deal_id, '.column[data-stage="in_progress"]')
    await page.locator("#sheet .slot").first.click()
    await page.locator(f'.column[data-stage="in_progress"] .card[data-deal="{deal_id}"]').wait_for()
    await _invariant(deal_id, DealStatus.OPEN)
    assert (await Deal.get(id=deal_id)).stage == "in_progress"

    # A tap opens the detail: the contact, the stage's outcomes, the timeline.
    await page.locator(f'.card[data-deal="{deal_id}"]').click()
    await page.locator("#sheet .timeline li").first.wait_for()
    assert "+74951112233" in await page.locator("#sheet-body").inner_text()
    await page.get_by_role("button", name="Cancel").click()
    await page.locator("#sheet").wait_for(state="hidden")

    await page.set_viewport_size({"width": 360, "height": 740})
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "board-360.png"))
    await page.set_viewport_size({"width": 1100, "height": 800})

    await _drag(page, deal_id, '.drop[data-stage="paid"]')
    await page.locator(f'.card[data-deal="{deal_id}"]').wait_for(state="detached")
    await _invariant(deal_id, DealStatus.WON)
    assert (await Deal.get(id=deal_id)).stage == "paid"


async def _touch(cdp: CDPSession, kind: str, x: float, y: float) -> None:
    points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
    await cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})


@pytest.mark.parametrize("browser", ["phone"], indirect=True)
async def test_a_long_press_drags_a_card_to_refused_on_a_phone(
    harness: Harness, browser: BrowserContext
) -> None:
    h = harness
    rep = await h.make_employee("rep", name="Ann", lang="ru")
    added = await quick_add(
        h.running.crm, ContactDraft(name="Vera Touch", phones=("+74951112244",)),
        owner_id=rep.employee.id, team=rep.employee.team,
    )
    assert added.deal is not None
    deal_id = added.deal.id
    init = init_data(h.api.token, rep.user, h.clock.now())
    page = await browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.route("https://telegram.org/**", _offline)
    url = f"http://127.0.0.1:{h.running.web_port}/board/#tgWebAppData={quote(init)}"
    await page.goto(url)
    card = page.locator(f'.card[data-deal="{deal_id}"]')
    await card.wait_for()
    assert await page.locator('.column[data-stage="new"] h2').inner_text() == "Новый лид"

    box = await card.bounding_box()
    goal = await page.locator('.drop[data-stage="refused"]').bounding_box()
    assert box and goal
    x, y = box["x"] + 30, box["y"] + 15
    cdp = await page.context.new_cdp_session(page)
    await _touch(cdp, "touchStart", x, y)
    await page.wait_for_timeout(600)  # the long press
    await page.locator(".ghost").wait_for()
    for step in range(1, 11):
        tx = x + (goal["x"] + goal["width"] / 2 - x) * step / 10
        ty = y + (goal["y"] + goal["height"] / 2 - y) * step / 10
        await _touch(cdp, "touchMove", tx, ty)
    await _touch(cdp, "touchEnd", 0, 0)
    await page.get_by_role("button", name="Дорого").click()
    await card.wait_for(state="detached")
    await _invariant(deal_id, DealStatus.LOST)
    assert (await Deal.get(id=deal_id)).lost_reason == "price"
