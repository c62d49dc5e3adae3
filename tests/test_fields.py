"""Custom fields: typed values per type (unit and property tests), then the store on SQLite and
PostgreSQL: set and read, the required-to-enter-stage check on a press, /find key:value and the
board's filter through the index."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.field_spec import FieldSpec
from config.playbook import Playbook, load_playbook
from config.values import Label
from crm import fields, reports
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Press, Status, apply_outcome
from crm.fields import Invalid, Problem
from crm.importrows import BadField, parse_csv
from crm.search import find_deals
from storage.models import ContactField, Deal, DealField, Employee, Role, Task, TaskStatus
from tests.conftest import FakeClock
from tests.test_settings_and_cli import nextstep

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def _spec(type_: str, **extra: object) -> FieldSpec:
    options = {"basic": Label(ru="Базовый", en="Basic"), "pro": Label(ru="Профи", en="Pro")}
    return FieldSpec.model_validate(
        {"key": "f", "of": "deal", "label": {"ru": "Поле", "en": "Field"}, "type": type_,
         **({"options": options} if type_ in ("choice", "multi") else {}), **extra}
    )


@pytest.mark.parametrize(
    ("type_", "typed", "stored"),
    [
        ("text", "  Казань ", "Казань"),
        ("number", "1 500,5", "1500.5"),
        ("number", "-3", "-3"),
        ("money", "1 500,50 ₽", "150050"),
        ("money", "1,500.00", "150000"),
        ("date", "25.12.2026", "2026-12-25"),
        ("date", "01.02.2020", "2020-02-01"),  # a past full date is a date, not a failure
        ("date", "2027-03-01", "2027-03-01"),
        ("date", "завтра", "2026-11-26"),  # the parser of times
        ("date", "через 2 недели", "2026-12-09"),
        ("phone", "8 (916) 123-45-67", "+79161234567"),
        ("email", " Anna@Example.RU ", "anna@example.ru"),
        ("url", "example.ru/price", "https://example.ru/price"),
        ("choice", "профи", "pro"),
        ("choice", "Basic", "basic"),
        ("choice", "pro", "pro"),
    ],
)
def test_typed_values_are_normalised(type_: str, typed: str, stored: str) -> None:
    values = fields.parse(_spec(type_), typed, NOW)
    assert not isinstance(values, Invalid)
    assert [v.value for v in values] == [stored]


def test_multi_choice_keeps_each_option_once() -> None:
    values = fields.parse(_spec("multi"), "Pro, basic, профи", NOW)
    assert not isinstance(values, Invalid) and [v.value for v in values] == ["pro", "basic"]


@pytest.mark.parametrize(
    ("type_", "typed", "problem"),
    [
        ("number", "двенадцать", Problem.NUMBER),
        ("money", "12 рублей 50", Problem.MONEY),
        ("date", "когда-нибудь", Problem.DATE),
        ("date", "31.02.2027", Problem.DATE),
        ("phone", "12", Problem.PHONE),
        ("email", "anna@", Problem.EMAIL),
        ("url", "not a url", Problem.URL),
        ("choice", "gold", Problem.CHOICE),
        ("multi", "pro, gold", Problem.CHOICE),
        ("text", "x" * 1001, Problem.TOO_LONG),
    ],
)
def test_bad_values_say_what_is_wrong(type_: str, typed: str, problem: Problem) -> None:
    assert fields.parse(_spec(type_), typed, NOW) == Invalid(problem, typed)


@given(st.text(max_size=40))
def test_a_text_value_folds_within_the_index_width(text: str) -> None:
    values = fields.parse(_spec("text"), text, NOW)
    assert isinstance(values, list)
    for v in values:
        assert v.folded == fields.fold(v.value) and len(v.folded) <= 200


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_money_shown_reads_back_as_stored(minor: int) -> None:
    spec = _spec("money")
    values = fields.parse(spec, fields.shown(spec, [str(minor)], "ru"), NOW)
    assert not isinstance(values, Invalid) and values[0].value == str(minor)


def test_shown_values() -> None:
    assert fields.shown(_spec("money"), ["150050"], "ru") == "1 500,50"
    assert fields.shown(_spec("date"), ["2026-12-25"], "en") == "25.12.2026"
    assert fields.shown(_spec("multi"), ["pro", "basic"], "ru") == "Профи, Базовый"
    assert fields.shown(_spec("multi"), ["pro"], "en") == "Pro"


def test_field_query_names_a_field_by_key_or_label() -> None:
    pb = load_playbook()
    query = fields.field_query(pb, "Город: Казань", NOW)
    assert query is not None and (query.spec.key, query.folded) == ("city", ("казань",))
    query = fields.field_query(pb, "product:Профи", NOW)
    assert query is not None and query.folded == ("pro",)
    assert fields.field_query(pb, "Anna", NOW) is None
    assert fields.field_query(pb, "weather:sunny", NOW) is None


# --- the store ---------------------------------------------------------------------------------


def _requiring(pb: Playbook, stage: str) -> Playbook:
    data = pb.model_dump()
    for f in data["fields"]:
        if f["key"] in ("product", "city"):
            f["required_in"] = [stage]
    return Playbook.model_validate(data)


async def _deal(crm: Crm, rep: Employee, name: str, phone: str) -> Deal:
    added = await quick_add(crm, ContactDraft(name=name, phones=(phone,)), owner_id=rep.id,
                            team="main")
    assert added.deal is not None
    return added.deal


async def _rep(tg_id: int = 901) -> Employee:
    return await Employee.create(name="Ivan", role=Role.REP, team="main", tg_id=tg_id)


async def test_values_of_a_deal_and_its_contact(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep, "Anna", "+74951234567")
    pb = crm.playbook
    assert await fields.set_field(pb.field("city"), deal.id, "Казань", NOW) != []  # type: ignore[arg-type]
    await fields.set_options(pb.field("product"), deal.id, ["pro", "gold"])  # type: ignore[arg-type]
    shown = {s.spec.key: s.values for s in await fields.deal_fields(pb, deal.id)}
    assert shown == {"city": ("Казань",), "product": ("pro",), "contract_end": ()}
    assert await ContactField.filter(contact_id=deal.contact_id).count() == 1  # type: ignore[attr-defined]
    # Cleared by an empty value; a bad one changes nothing.
    assert isinstance(await fields.set_field(pb.field("contract_end"), deal.id, "x", NOW), Invalid)  # type: ignore[arg-type]
    await fields.set_field(pb.field("city"), deal.id, " ", NOW)  # type: ignore[arg-type]
    assert await ContactField.all().count() == 0
    assert await DealField.filter(deal_id=deal.id).values_list("value", flat=True) == ["pro"]


async def test_a_press_into_a_stage_asks_for_its_required_fields(db_url: str) -> None:
    crm = Crm(_requiring(load_playbook(), "paid"), FakeClock(datetime(2026, 11, 25, 7, tzinfo=UTC)))
    rep = await _rep()
    deal = await _deal(crm, rep, "Anna", "+74951234567")
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    assert [f.key for f in await fields.missing_for_stage(crm.playbook, deal.id, "paid")] == [
        "city", "product"
    ]
    out = await apply_outcome(crm, Press(task.id, "paid", rep))
    assert out.status == Status.NEEDS_FIELDS
    assert (await Deal.get(id=deal.id)).stage == "new"  # nothing written
    # A press that stays in the stage is not asked.
    assert (await apply_outcome(crm, Press(task.id, "busy", rep))).status == Status.DONE
    await fields.set_field(crm.playbook.field("city"), deal.id, "Казань", NOW)  # type: ignore[arg-type]
    await fields.set_options(crm.playbook.field("product"), deal.id, ["basic"])  # type: ignore[arg-type]
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    out = await apply_outcome(crm, Press(task.id, "paid", rep))
    assert out.status == Status.DONE and (await Deal.get(id=deal.id)).stage == "paid"


async def test_find_and_filter_by_field(crm: Crm) -> None:
    rep = await _rep()
    anna = await _deal(crm, rep, "Anna", "+74951234567")
    boris = await _deal(crm, rep, "Boris", "+74951234568")
    pb = crm.playbook
    await fields.set_field(pb.field("city"), anna.id, "Казань", NOW)  # type: ignore[arg-type]
    await fields.set_field(pb.field("city"), boris.id, "Москва", NOW)  # type: ignore[arg-type]
    await fields.set_options(pb.field("product"), boris.id, ["pro"])  # type: ignore[arg-type]
    found = await find_deals("city:казань", rep, crm=crm)
    assert [d.id for d in found] == [anna.id]
    assert [d.id for d in await find_deals("Продукт: Профи", rep, crm=crm)] == [boris.id]
    assert await find_deals("product:basic", rep, crm=crm) == []
    where = fields.deals_filter(pb, {"product": ["pro", "basic"], "city": ["Москва"]}, NOW)
    assert await Deal.filter(where).values_list("id", flat=True) == [boris.id]
    assert await Deal.filter(fields.deals_filter(pb, {"nope": ["x"]}, NOW)).count() == 0


def test_csv_columns_map_to_fields_by_key_or_label_and_bad_values_say_why() -> None:
    data = (
        "Телефон;Product;Конец договора;Город;seats\n"
        "+7 916 111-22-33;Профи;25.12.2026;Казань;3\n"
        "+7 916 111-22-34;gold;31.02.2026;;\n"
    ).encode()
    parsed = parse_csv(data, load_playbook(), NOW)
    assert parsed.ignored_columns == ["seats"]
    good, bad = parsed.rows
    assert {k: [v.value for v in vs] for k, vs in good.fields.items()} == {"city": ["Казань"]}
    assert good.deal is not None and {
        k: [v.value for v in vs] for k, vs in good.deal.fields.items()
    } == {"product": ["pro"], "contract_end": ["2026-12-25"]}
    assert bad.deal is None and bad.fields == {}  # its values are left out, the row goes in
    assert parsed.bad_fields == [
        BadField(3, "product: 'gold' is not one of basic, pro, custom"),
        BadField(3, "contract_end: '31.02.2026' is not a date like 25.12.2026"),
    ]


async def test_funnel_and_sources_grouped_by_a_choice_field(crm: Crm) -> None:
    rep = await _rep()
    deals = [await _deal(crm, rep, f"C{i}", f"+7495123456{i}") for i in range(3)]
    product = crm.playbook.field("product")
    await fields.set_options(product, deals[0].id, ["pro"])  # type: ignore[arg-type]
    await fields.set_options(product, deals[1].id, ["pro"])  # type: ignore[arg-type]
    await fields.set_options(product, deals[2].id, ["basic"])  # type: ignore[arg-type]
    task = await Task.get(deal_id=deals[0].id, status=TaskStatus.OPEN)
    assert (await apply_outcome(crm, Press(task.id, "paid", rep))).status == Status.DONE
    now = crm.now()
    period = reports.Period(now - timedelta(days=1), now + timedelta(days=1))
    by_sources = await reports.grouped(crm, period, "product", reports.sources)
    assert [(o, [(r.deals, r.won) for r in rows]) for o, rows in by_sources] == [
        ("basic", [(1, 0)]), ("pro", [(2, 1)]), ("custom", [])
    ]
    funnels = dict(await reports.grouped(crm, period, "product", reports.funnel))
    entered = {o: {s.stage: s.entered for s in rows} for o, rows in funnels.items()}
    assert (entered["pro"]["new"], entered["pro"]["paid"]) == (2, 1)
    assert (entered["basic"]["new"], entered["basic"]["paid"]) == (1, 0)
    assert entered["custom"]["new"] == 0
    # A text field cannot group.
    with pytest.raises(reports.NotAChoiceField):
        await reports.grouped(crm, period, "city", reports.sources)


async def test_report_by_a_field_on_the_command_line(crm: Crm, db_url: str, tmp_path: Path) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep, "Anna", "+74951234567")
    await fields.set_options(crm.playbook.field("product"), deal.id, ["pro"])  # type: ignore[arg-type]
    env = {"NEXTSTEP_DATABASE_URL": db_url}
    # Three commands that only read: at once, not one process start after another.
    by_product, by_city, reps_by_product = await asyncio.gather(
        nextstep("report", "sources", "--by", "product", "--locale", "en", cwd=tmp_path, **env),
        nextstep("report", "sources", "--by", "city", cwd=tmp_path, **env),
        nextstep("report", "reps", "--by", "product", cwd=tmp_path, **env),
    )
    code, out, err = by_product
    assert code == 0, err
    assert [line for line in out.splitlines() if line.startswith("==")] == [
        "== Product: Basic ==", "== Product: Pro ==", "== Product: Custom =="
    ]
    code, _, err = by_city
    assert code == 2 and "not a choice field" in err and "product" in err
    code, _, err = reps_by_product
    assert code == 2 and "--by works with: funnel, sources" in err
