"""/pipeline end to end: the admin's edits reach the reps' next cards and survive a restart."""

from __future__ import annotations

from bot.callbacks import PipelineAction
from config.playbook import load_playbook
from crm import pipeline
from crm.context import Crm
from storage.models import Deal, Stage
from tests.e2e.harness import Exchange, Harness, Json, Staff


def labels(message: Json) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


async def test_admin_edits_the_pipeline_and_reps_see_it(harness: Harness) -> None:
    admin = await harness.make_employee("admin", name="Olga")
    rep = await harness.make_employee("rep", name="Ivan")
    rep_card = (await harness.say(rep.user, "Анна +7 495 123-45-67")).last
    deal = await Deal.get()

    # A rep cannot open the editor: his /pipeline is not an admin command.
    refused = await harness.say(rep.user, "/pipeline")
    assert not any("Воронка" in m.get("text", "") for m in refused.to(rep.user.id))

    overview = await harness.say(admin.user, "/pipeline")
    assert "1. 🟦 Новый лид" in overview.text
    listing = overview.last
    # Add a stage: key, then name; it goes before the terminal stages.
    await harness.press_text(admin.user, listing, "➕ Добавить этап")
    await harness.say(admin.user, "meeting")
    added = await harness.say(admin.user, "Встреча")
    assert "4. ⬛ Встреча" in added.text
    listing = added.last

    # Rename the first stage (ru), move the new one up, recolour it.
    first = await harness.press_text(admin.user, listing, "🟦 Новый лид")
    await harness.press_text(admin.user, first.last, "✏️ Название (RU)")
    renamed = await harness.say(admin.user, "Входящий")
    assert "1. 🟦 Входящий" in renamed.text
    listing = renamed.last
    meeting = await harness.press_text(admin.user, listing, "⬛ Встреча")
    up = await harness.press_text(admin.user, meeting.last, "⬆️ Выше")
    assert "3. ⬛ Встреча" in up.text
    meeting = await harness.press_text(admin.user, up.last, "⬛ Встреча")
    palette = await harness.press_text(admin.user, meeting.last, "🎨 Цвет")
    await harness.press_text(admin.user, palette.last, "🟩")
    assert (await Stage.get(key="meeting")).color == "#3FB950"

    # Rename a button label.
    listing = (await harness.say(admin.user, "/pipeline")).last
    labels_menu = await harness.press_text(admin.user, listing, "🏷 Названия кнопок")
    paid = await harness.press_text(admin.user, labels_menu.last, "Оплачено")
    await harness.press_text(admin.user, paid.last, "Русское название")
    await harness.say(admin.user, "Деньги пришли")

    # The rep's next card shows the new stage name and label.
    fresh = await harness.say(rep.user, "/next")
    assert "Этап: Входящий" in fresh.text
    assert "Деньги пришли" in labels(fresh.last) and "Оплачено" not in labels(fresh.last)

    # Remove the first stage: its deal moves to the chosen one.
    listing = (await harness.say(admin.user, "/pipeline")).last
    stage = await harness.press_text(admin.user, listing, "🟦 Входящий")
    targets = await harness.press_text(admin.user, stage.last, "🗑 Удалить")
    removed = await harness.press_text(admin.user, targets.last, "→ Встреча")
    assert "Этап удалён, перенесено сделок: 1" in removed.text
    assert (await Deal.get(id=deal.id)).stage == "meeting"
    assert not await Stage.exists(key="new")

    # Everything survives a restart.
    await harness.restart()
    again = await harness.say(rep.user, "/next")
    assert "Этап: Встреча" in again.text and "Деньги пришли" in labels(again.last)
    assert rep_card["message_id"] != again.last["message_id"]


async def test_an_edit_through_another_worker_reaches_cards_after_a_tick(
    harness: Harness,
) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    await harness.say(rep.user, "Анна +7 495 123-45-67")
    # Another worker process over the same database: a Crm of its own makes the edit.
    other = Crm(load_playbook(), harness.clock)
    await pipeline.load_pipeline(other)
    await pipeline.rename_stage(other, "new", "ru", "Входящий")
    await pipeline.set_button_label(other, "paid", "ru", "Деньги пришли")

    await harness.tick()  # this App's clock runs its "pipeline" job
    fresh = await harness.say(rep.user, "/next")
    assert "Этап: Входящий" in fresh.text
    assert "Деньги пришли" in labels(fresh.last) and "Оплачено" not in labels(fresh.last)


async def open_removal(harness: Harness, admin: Staff, name: str) -> Exchange:
    """/pipeline, the stage called `name`, then 🗑 Remove."""
    listing = (await harness.say(admin.user, "/pipeline")).last
    button = next(text for text in labels(listing) if text.endswith(name))
    stage = await harness.press_text(admin.user, listing, button)
    return await harness.press_text(admin.user, stage.last, "🗑 Удалить")


async def test_a_stage_the_playbook_leads_to_is_not_removed(harness: Harness) -> None:
    admin = await harness.make_employee("admin", name="Olga")
    # The admin is told why instead of being offered where to move the deals.
    refused = await open_removal(harness, admin, "В работе")
    assert "кнопка «Перезвонить» переводит сделки на этот этап" in refused.text
    assert not any(label.startswith("→") for label in labels(refused.last))
    archive = await open_removal(harness, admin, "Архив")
    assert "после последней попытки «Занято», «Недоступен», «Не берёт трубку»" in archive.text

    # A removal pressed anyway (from a target list sent before, say) is refused the same way.
    stage, new = await Stage.get(key="in_progress"), await Stage.get(key="new")
    data = PipelineAction(action="removeto", stage=stage.id, arg=str(new.id)).pack()
    forced = await harness.deliver(
        harness.api.callback(admin.user, data, refused.last, strict=False)
    )
    assert forced.answer is not None and forced.answer.params["text"] == "Этот этап удалить нельзя"
    assert await Stage.exists(key="in_progress")
