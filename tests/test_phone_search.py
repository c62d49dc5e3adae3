"""/find by any part of a phone number of 4 digits or more: the phone_part index answers, in the
viewer's scope, and every writer of numbers fills it (SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib
from pathlib import Path

from tortoise import connections
from tortoise.transactions import in_transaction

from crm.chat import ChatContent
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.importer import import_csv
from crm.leads import intake
from crm.phonebook import part_range, phone_parts
from crm.search import find_deals, phone_part_contacts
from crm.staff import TelegramUser
from storage.db import dialect
from storage.models import Contact, ContactPhone, Deal, Employee, PhonePart, Role
from tests.conftest import T0

MIGRATION = importlib.import_module("storage.migrations.models.5_20261204_phone_parts")
# Dropping phone_part drops the index migration 10 made; PostgreSQL's store is the session's.
CONTACT_INDEX = importlib.import_module("storage.migrations.models.10_20261205_phone_part_contact")

INDEX = "idx_phone_part_part_eabaed"


def test_a_number_has_every_suffix_of_four_digits_or_more() -> None:
    assert phone_parts("+74951234567") == [
        "74951234567", "4951234567", "951234567", "51234567", "1234567", "234567", "34567",
        "4567",
    ]


def test_the_range_of_a_part_typed() -> None:
    assert part_range("1234567") == ("1234567", "1234568")
    assert part_range(" 45-67 ") == ("4567", "4568")
    assert part_range("+7 (495)") == ("7495", "7496")
    assert part_range("4599") == ("4599", "46")  # 4599… and nothing from 46 on
    assert part_range("1909") == ("1909", "191")
    assert part_range("9999") == ("9999", None)  # nothing comes after the nines
    for not_a_part in ("456", "45-6", "", "4567a", "Анна 4567", "45.67", "+", "4567+"):
        assert part_range(not_a_part) is None, not_a_part


async def _rep(name: str, tg_id: int) -> Employee:
    return await Employee.create(name=name, role=Role.REP, team="main", tg_id=tg_id)


async def _deal(crm: Crm, name: str, phone: str, owner: Employee) -> Deal:
    added = await quick_add(
        crm, ContactDraft(name=name, phones=(phone,)), owner_id=owner.id, team=owner.team
    )
    assert added.deal is not None
    return added.deal


async def _found(query: str, viewer: Employee) -> list[int]:
    return sorted(d.id for d in await find_deals(query, viewer))


async def test_any_part_of_four_digits_or_more_finds_the_deal_in_the_viewers_scope(
    crm: Crm,
) -> None:
    ivan, petr = await _rep("Ivan", 901), await _rep("Petr", 902)
    admin = await Employee.create(name="Admin", role=Role.ADMIN, team="main", tg_id=903)
    anna = await _deal(crm, "Anna", "+74951234567", ivan)
    boris = await _deal(crm, "Boris", "+79169874567", petr)  # also ends in 4567
    nines = await _deal(crm, "Vera", "+79161119999", ivan)

    assert await _found("1234567", ivan) == [anna.id]
    assert await _found("45-67", ivan) == [anna.id]  # Boris is Petr's client
    assert await _found("45-67", petr) == [boris.id]
    assert await _found("45-67", admin) == [anna.id, boris.id]
    assert await _found("+7 495", ivan) == [anna.id]  # across the country code
    assert await _found("9512", ivan) == [anna.id]  # from the middle
    assert await _found("(495) 123", admin) == [anna.id]
    assert await _found("9999", ivan) == [nines.id]  # no upper bound
    assert await _found("+7 916", admin) == [boris.id, nines.id]
    assert await _found("4566", admin) == []
    assert await _found("456", admin) == []  # 3 digits are not a part
    # A whole number still finds its contact exactly, in any local form.
    assert await _found("8 (495) 123-45-67", ivan) == [anna.id]


async def test_quick_add_writes_the_parts_of_every_number(crm: Crm) -> None:
    ivan = await _rep("Ivan", 901)
    added = await quick_add(
        crm, ContactDraft(name="Anna", phones=("+74951234567", "+79161112233")),
        owner_id=ivan.id, team=ivan.team,
    )
    parts = await PhonePart.filter(contact_id=added.contact.id).values_list("part", flat=True)
    assert sorted(parts) == sorted(phone_parts("+74951234567") + phone_parts("+79161112233"))


async def test_a_phone_a_client_shares_gets_its_parts(crm: Crm) -> None:
    await _rep("Ivan", 901)
    anna = TelegramUser(id=5001, name="Anna", username="anna", lang="ru")
    shared = ChatContent(media_kind="contact")
    first = await intake(crm, anna, shared, shared_phone="+7 999 123-45-67")
    second = await intake(crm, anna, shared, shared_phone="+7 495 765-43-21")
    assert second.contact.id == first.contact.id
    parts = await PhonePart.filter(contact_id=first.contact.id).values_list("part", flat=True)
    assert sorted(parts) == sorted(phone_parts("+79991234567") + phone_parts("+74957654321"))


async def test_an_imported_file_gets_the_parts_of_new_and_merged_numbers(
    crm: Crm, tmp_path: Path
) -> None:
    ivan = await _rep("Ivan", 901)
    stored = await _deal(crm, "Stored", "+79990000001", ivan)
    path = tmp_path / "clients.csv"
    path.write_text(
        "Имя;Телефон;Сделка\n"
        "Анна;8 495 123-45-67;Бумага\n"
        "Stored;8 999 000-00-01, 8 916 765-43-21;\n",  # a merge adds a second number
        encoding="utf-8",
    )
    await import_csv(crm, path, owner=ivan)
    admin = await Employee.create(name="Admin", role=Role.ADMIN, team="main", tg_id=903)
    [anna] = await find_deals("23-45", admin)
    assert anna.contact.name == "Анна"
    assert await _found("765-43", admin) == [stored.id]
    merged = await PhonePart.filter(contact_id=stored.contact_id)  # type: ignore[attr-defined]
    assert sorted(p.part for p in merged) == sorted(
        phone_parts("+79990000001") + phone_parts("+79167654321")
    )


async def test_the_part_lookup_is_a_range_of_the_index(crm: Crm) -> None:
    ivan = await _rep("Ivan", 901)
    await _deal(crm, "Anna", "+74951234567", ivan)
    sql = phone_part_contacts("4567", "4568").sql(params_inline=True)
    conn = connections.get("default")
    if dialect(conn) == "postgres":
        # A handful of rows would be read whole; what matters is that the index serves the range.
        async with in_transaction() as tx:
            await tx.execute_query("SET LOCAL enable_seqscan = off")
            rows = await tx.execute_query_dict(f"EXPLAIN {sql}")
        plan = "\n".join(r["QUERY PLAN"] for r in rows)
        assert "Seq Scan on phone_part" not in plan, plan
    else:
        rows = await conn.execute_query_dict(f"EXPLAIN QUERY PLAN {sql}")
        plan = "\n".join(r["detail"] for r in rows)
        assert "SCAN phone_part" not in plan, plan
    assert INDEX in plan and "contact " not in plan, plan


async def test_digits_are_not_looked_up_in_names_but_a_name_with_digits_is(crm: Crm) -> None:
    ivan = await _rep("Ivan", 901)
    numbered = await _deal(crm, "Склад 4567", "+79990000001", ivan)
    assert await _found("4567", ivan) == []  # a part of no number
    assert await _found("Склад 4567", ivan) == [numbered.id]


async def test_the_migration_gives_the_numbers_stored_before_it_their_parts(db_url: str) -> None:
    conn = connections.get("default")
    await conn.execute_script(await MIGRATION.downgrade(conn))
    anna = await Contact.create(name="Anna", created_at=T0)
    await ContactPhone.create(contact=anna, e164="+74951234567")
    await ContactPhone.create(contact=anna, e164="+79161112233")

    async with in_transaction() as tx:  # as aerich runs it
        await tx.execute_script(await MIGRATION.upgrade(tx))
        await tx.execute_script(await CONTACT_INDEX.upgrade(tx))

    parts = await PhonePart.filter(contact_id=anna.id).values_list("part", flat=True)
    assert sorted(parts) == sorted(phone_parts("+74951234567") + phone_parts("+79161112233"))
