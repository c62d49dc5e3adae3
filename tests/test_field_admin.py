"""The admin's field edits (crm/field_admin.py) on SQLite and PostgreSQL: the table is seeded
from the playbook, edits reach crm.playbook, a rename keeps values, removal says how many hold."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from config.field_spec import FieldSpec
from config.playbook import Playbook, load_playbook
from crm import field_admin, fields
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.field_admin import FieldError, parse_new_field
from crm.pipeline import load_pipeline
from storage.models import DealField, Employee, FieldDef, Role

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("budget money", FieldError.FORMAT),
        ("Budget money deal Бюджет", None),  # keys are lower-cased
        ("1st money deal Бюджет", FieldError.BAD_KEY),
        ("budget cash deal Бюджет", FieldError.BAD_TYPE),
        ("budget money lead Бюджет", FieldError.BAD_OWNER),
        ("tier choice deal Тариф", FieldError.NO_OPTIONS),
        ("tier choice контакт Тариф: Базовый, Профи", None),
    ],
)
def test_a_new_field_as_typed(typed: str, error: FieldError | None) -> None:
    parsed = parse_new_field(typed)
    assert (parsed if isinstance(parsed, FieldError) else None) == error


def test_options_get_keys_and_labels() -> None:
    spec = parse_new_field("tier choice контакт Тариф: Базовый, Профи")
    assert isinstance(spec, FieldSpec) and spec.of == "contact"
    assert {k: o.ru for k, o in spec.options.items()} == {"o1": "Базовый", "o2": "Профи"}


async def test_edits_reach_the_playbook_and_keep_values(crm: Crm) -> None:
    await load_pipeline(crm)
    assert [r.key for r in await FieldDef.all().order_by("position")] == [
        "city", "product", "contract_end"
    ]
    rep = await Employee.create(name="Ivan", role=Role.REP, team="main", tg_id=901)
    added = await quick_add(crm, ContactDraft(name="Anna", phones=("+74951234567",)),
                            owner_id=rep.id, team="main")
    assert added.deal is not None
    await fields.set_options(crm.playbook.field("product"), added.deal.id, ["pro"])  # type: ignore[arg-type]

    budget = parse_new_field("budget money deal Бюджет")
    assert isinstance(budget, FieldSpec)
    assert await field_admin.add_field(crm, budget) is None
    assert await field_admin.add_field(crm, budget) == FieldError.TAKEN
    assert await field_admin.rename_field(crm, "product", "en", "Plan") is None
    assert await field_admin.move_field(crm, "budget", -1) is None
    pb = crm.playbook
    assert [f.key for f in pb.fields] == ["city", "product", "budget", "contract_end"]
    assert pb.field("product").label.en == "Plan"  # type: ignore[union-attr]
    held = {s.spec.key: s.values for s in await fields.deal_fields(pb, added.deal.id)}
    assert held["product"] == ("pro",)  # the rename kept the value

    assert await field_admin.holders(crm, "product") == 1
    assert await field_admin.remove_field(crm, "product") == 1
    assert crm.playbook.field("product") is None
    assert await DealField.all().count() == 0
    # A removed key is not seeded back from the file, nor reused.
    await load_pipeline(crm)
    assert crm.playbook.field("product") is None
    again = parse_new_field("product text deal Продукт")
    assert await field_admin.add_field(crm, again) == FieldError.TAKEN  # type: ignore[arg-type]


async def test_a_field_new_in_the_file_joins_at_the_next_start(crm: Crm) -> None:
    await load_pipeline(crm)
    assert await field_admin.remove_field(crm, "city") == 0
    data = crm.playbook.model_dump()
    data["fields"] = [*(f.model_dump() for f in load_playbook().fields), {
        "key": "seats", "of": "deal", "label": {"ru": "Места", "en": "Seats"}, "type": "number",
    }]
    crm.playbook = Playbook.model_validate(data)
    await load_pipeline(crm)
    # The new one at the end; the one the admin removed is not brought back.
    assert [f.key for f in crm.playbook.fields] == ["product", "contract_end", "seats"]
