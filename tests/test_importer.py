"""CSV import with messy real-world files, and CSV export (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path

import pytest

from bot.i18n import create_i18n, speaking
from bot.report_csv import CsvNames
from config.playbook import load_playbook
from crm.context import Crm
from crm.csvread import UnreadableFile
from crm.csvwrite import FORMATS
from crm.deals import ContactDraft, find_or_create_contact
from crm.exporter import export_csv
from crm.importer import Duplicates, UnknownAssignee, assignee, import_csv
from crm.importrows import BadField, BadRow, parse_csv
from storage.fields import values_of
from storage.models import (
    Contact,
    ContactPhone,
    ContactTag,
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Role,
    Task,
    TaskStatus,
    TimelineEvent,
)
from tests.test_settings_and_cli import nextstep

DATA = Path(__file__).parent / "data"
I18N = create_i18n()


async def _export(crm: Crm, what: str, lang: str = "ru", **kw: object) -> str:
    with speaking(I18N, lang):
        return "".join([
            part async for part in export_csv(
                crm, what, CsvNames(crm.playbook, lang), FORMATS[lang], **kw  # type: ignore[arg-type]
            )
        ])


async def _contact_by_phone(e164: str) -> Contact:
    phone = await ContactPhone.get(e164=e164)
    return await Contact.get(id=phone.contact_id)  # type: ignore[attr-defined]


async def test_russian_excel_file_bom_semicolons_8_prefix_duplicates_and_bad_rows(
    crm: Crm,
) -> None:
    report = await import_csv(crm, DATA / "ru_excel_bom_semicolon.csv")
    assert report.bad == [
        BadRow(7, "no phone and no email"),
        BadRow(8, "invalid phone '12345'"),
        BadRow(9, "broken quotes"),
        BadRow(13, "invalid amount 'abc'"),
    ]
    # Анна twice (8 999… and 8999…), Вера and Глеб share a phone: 4 contacts, 2 merges.
    assert (report.imported, report.merged, report.skipped) == (4, 2, 0)
    assert await Contact.all().count() == 4
    anna = await _contact_by_phone("+79991234567")
    assert (anna.name, anna.email, anna.company) == ("Анна Петрова", "anna@example.ru",
                                                     "ООО Ромашка")
    assert anna.tags == ["vip", "опт"]
    assert await values_of("contact", [anna.id]) == {anna.id: {"city": ["Новосибирск"]}}
    assert anna.tz == "Asia/Novosibirsk"  # from the city: a mobile number tells no zone
    # Indexed for /find as they are written.
    assert sorted(await ContactTag.filter(contact_id=anna.id).values_list("tag", flat=True)) == [
        "vip",
        "опт",
    ]
    boris = await _contact_by_phone("+74951234567")
    assert await ContactPhone.filter(contact_id=boris.id).count() == 2
    assert boris.tz == "Europe/Moscow"  # from the Moscow landline
    vera = await _contact_by_phone("+79123456789")
    assert (vera.email, vera.company) == ("vera@example.ru", 'ООО "Вектор"')
    assert await Contact.exists(email="dina@example.ru")
    # Deals: both of Анна's (different titles) and Вера's closed one.
    assert report.deals == 3
    deals = {d.title: d for d in await Deal.all()}
    paper = deals["Поставка бумаги"]
    assert (paper.amount, paper.stage, paper.status) == (1250050, "invoice_sent", DealStatus.OPEN)
    assert deals["Поставка картриджей"].contact_id == anna.id  # type: ignore[attr-defined]
    assert deals["Поставка картриджей"].stage == "new"
    paid = deals["Сделка закрыта"]
    assert paid.status == DealStatus.WON and paid.closed_at is not None
    # One open task per open deal, none for the closed one; each deal has its CREATED event.
    open_tasks = await Task.filter(status=TaskStatus.OPEN).values_list("deal_id", flat=True)
    assert sorted(open_tasks) == sorted([paper.id, deals["Поставка картриджей"].id])  # type: ignore[type-var]
    assert await TimelineEvent.filter(kind=EventKind.CREATED).count() == 3


async def test_reimport_merges_everything_and_adds_no_deals(crm: Crm) -> None:
    await import_csv(crm, DATA / "ru_excel_bom_semicolon.csv")
    again = await import_csv(crm, DATA / "ru_excel_bom_semicolon.csv")
    assert (again.imported, again.merged, again.deals) == (0, 6, 0)
    assert await Contact.all().count() == 4 and await Deal.all().count() == 3


async def test_skip_mode_leaves_duplicates_alone(crm: Crm) -> None:
    await find_or_create_contact(crm, ContactDraft(name="Old", phones=("+79991234567",)))
    report = await import_csv(crm, DATA / "ru_excel_bom_semicolon.csv",
                              duplicates=Duplicates.SKIP)
    # Анна twice against the store, Глеб against Вера earlier in the file.
    assert (report.imported, report.merged, report.skipped) == (3, 0, 3)
    old = await _contact_by_phone("+79991234567")
    assert old.name == "Old" and old.email is None
    assert not await Deal.filter(contact_id=old.id).exists()


async def test_english_comma_file_with_quotes_multiline_cells_and_a_stored_duplicate(
    crm: Crm,
) -> None:
    stored, _ = await find_or_create_contact(
        crm, ContactDraft(name="Stored Client", phones=("+79999998877",))
    )
    rep = await Employee.create(name="Rep", role=Role.REP, team="north")
    report = await import_csv(crm, DATA / "en_comma.csv", owner=rep)
    assert report.bad == [BadRow(7, "unknown stage 'Nowhere'")]
    assert (report.imported, report.merged) == (3, 1)
    smith = await _contact_by_phone("+79992223344")
    assert (smith.name, smith.company, smith.source) == ("Smith, John", "Acme, Inc.", "expo")
    assert smith.tags == ["b2b", "wholesale"] and smith.owner_id == rep.id  # type: ignore[attr-defined]
    deal = await Deal.get(contact_id=smith.id)
    assert (deal.amount, deal.stage, deal.owner_id, deal.team) == (150000, "in_progress", rep.id,  # type: ignore[attr-defined]
                                                                  "north")
    task = await Task.get(deal_id=deal.id)
    assert task.assignee_id == rep.id  # type: ignore[attr-defined]
    merged = await Contact.get(id=stored.id)
    assert (merged.company, merged.tags) == ("Late Co", ["new"])
    multi = await _contact_by_phone("+79994445566")
    assert multi.company == "Line one\nline two"


async def test_tab_separated_windows_1251(crm: Crm) -> None:
    report = await import_csv(crm, DATA / "tab_cp1251.csv")
    assert (report.imported, report.merged, report.bad) == (1, 1, [])
    contact = await _contact_by_phone("+74957654321")
    assert (contact.name, contact.source) == ("Жанна", "сайт")


def test_a_file_without_phone_or_email_columns_is_refused() -> None:
    with pytest.raises(UnreadableFile, match="no phone or email column"):
        parse_csv("Имя;Город\nAnna;Omsk\n".encode(), load_playbook())
    with pytest.raises(UnreadableFile, match="empty"):
        parse_csv(b"\xef\xbb\xbf\r\n\r\n", load_playbook())


async def test_export_round_trips_through_import(crm: Crm, tmp_path: Path) -> None:
    await import_csv(crm, DATA / "ru_excel_bom_semicolon.csv")
    for what, rows in (("contacts", 4), ("deals", 3)):
        text = await _export(crm, what, page=2)
        assert text.startswith("\ufeff")
        table = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
        assert len(table) == rows + 1
    deals = await _export(crm, "deals")
    assert "12500,50" in deals and "Поставка бумаги" in deals
    path = tmp_path / "deals.csv"
    path.write_text(deals, encoding="utf-8")
    again = await import_csv(crm, path)
    assert (again.imported, again.deals, again.bad) == (0, 0, [])


async def test_a_hundred_thousand_rows(crm: Crm, tmp_path: Path) -> None:
    rows = ["name;phone;email;title;amount"]
    rows += [
        f"Client {n};8 9{n:09d};c{n}@example.com;Deal {n};{n % 5000},50"
        for n in range(100_000)
    ]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    seen: list[int] = []
    started = time.perf_counter()
    report = await import_csv(crm, path, progress=lambda done, total: seen.append(done))
    print(f"\n100,000-row import: {time.perf_counter() - started:.1f} s")
    assert (report.imported, report.deals, report.bad) == (100_000, 100_000, [])
    assert seen[-1] == 100_000 and len(seen) == 50
    assert await Contact.all().count() == 100_000
    assert await Task.filter(status=TaskStatus.OPEN, assignee_id=None).count() == 100_000


async def test_a_bad_email_is_a_bad_field_and_the_row_still_goes_in(
    crm: Crm, tmp_path: Path
) -> None:
    path = tmp_path / "emails.csv"
    path.write_text(
        "name;phone;email\n"
        "Anna;8 999 123-45-67, 12345;anna@\n"
        "Bob;;bob@\n"
        "Cleo;8 912 345-67-89;cleo@example.ru\n",
        encoding="utf-8",
    )
    report = await import_csv(crm, path)
    assert report.bad == [BadRow(3, "invalid email 'bob@'")]  # nothing usable left in it
    assert report.bad_fields == [
        BadField(2, "invalid phone '12345'"), BadField(2, "invalid email 'anna@'"),
    ]
    assert report.imported == 2
    anna = await _contact_by_phone("+79991234567")
    assert (anna.name, anna.email) == ("Anna", None)


async def test_a_city_sets_the_zone_when_it_has_one(crm: Crm, tmp_path: Path) -> None:
    stored, _ = await find_or_create_contact(
        crm, ContactDraft(name="Stored", phones=("+79990000001",))
    )
    assert stored.tz is None
    path = tmp_path / "cities.csv"
    path.write_text(
        "Имя;Телефон;Город\n"
        "Владивосток;8 999 000-00-02;г. Владивосток\n"
        "Виртуальный;+7 495 123-45-67;Екатеринбург\n"  # a Moscow number, a client in the Urals
        "Якутия;8 999 000-00-03;Якутия\n"  # three zones: none is guessed
        "Stored;8 999 000-00-01;Хабаровск\n",  # a merge fills the zone the contact lacked
        encoding="utf-8",
    )
    await import_csv(crm, path)
    zones = {c.name: c.tz for c in await Contact.all()}
    assert zones == {
        "Stored": "Asia/Vladivostok", "Владивосток": "Asia/Vladivostok",
        "Виртуальный": "Asia/Yekaterinburg", "Якутия": None,
    }


async def test_imported_deals_get_a_title(crm: Crm, tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(
        "name;company;phone;email;amount\n"
        "Anna;;8 999 123-45-67;;100\n"
        ";Acme;8 999 123-45-68;;200\n"
        ";;;nobody@example.com;300\n",
        encoding="utf-8",
    )
    report = await import_csv(crm, path)
    assert report.deals == 3
    titles = await Deal.all().order_by("amount").values_list("title", flat=True)
    assert titles == ["Anna", "Acme", "nobody@example.com"]
    again = await import_csv(crm, path)
    assert again.deals == 0


async def test_export_neutralises_formulas_and_round_trips_them(
    crm: Crm, tmp_path: Path
) -> None:
    evil = '=HYPERLINK("http://evil","x")'
    path = tmp_path / "evil.csv"
    path.write_text(
        f'name;phone;company;tags;title;amount\n"{evil.replace(chr(34), chr(34) * 2)}";'
        "+7 999 123-45-67;@corp;-vip;+deal;-5\n",
        encoding="utf-8",
    )
    report = await import_csv(crm, path)
    assert report.bad == []
    contacts = await _export(crm, "contacts")
    row = list(csv.reader(io.StringIO(contacts[1:]), delimiter=";"))[1]
    assert row[1:5] == ["'" + evil, "+79991234567", "", "'@corp"]  # our E.164 phone stays as is
    assert row[6] == "'-vip"
    deal = list(csv.reader(io.StringIO(await _export(crm, "deals")), delimiter=";"))[1]
    assert (deal[1], deal[6]) == ("'+deal", "-5,00")  # text neutralised, a number stays one
    back = tmp_path / "back.csv"
    back.write_text(contacts, encoding="utf-8")
    await Contact.all().delete()
    await import_csv(crm, back)
    contact = await _contact_by_phone("+79991234567")
    assert (contact.name, contact.company, contact.tags) == (evil, "@corp", ["-vip"])


async def test_export_speaks_the_users_language_and_the_department_zone(crm: Crm) -> None:
    await import_csv(crm, DATA / "ru_excel_bom_semicolon.csv")
    deal = await Deal.get(title="Сделка закрыта")
    await Deal.filter(id=deal.id).update(status="lost", lost_reason="price", stage="refused")
    ru = list(csv.reader(io.StringIO((await _export(crm, "deals"))[1:]), delimiter=";"))
    assert ru[0] == [
        "ID", "Сделка", "Имя", "Телефон", "Почта", "Компания", "Сумма", "Этап", "Статус",
        "Причина отказа", "Источник", "Теги", "Ответственный", "Создано (Europe/Moscow)",
        "Закрыто (Europe/Moscow)", "Продукт", "Конец договора", "Город",  # the custom fields
    ]
    paper = next(r for r in ru if r[1] == "Поставка бумаги")
    assert (paper[6], paper[7], paper[8], paper[13]) == ("12500,50", "Счёт выставлен", "Открыта",
                                                         "2026-11-25 10:00")  # T0 in Moscow
    lost = next(r for r in ru if r[1] == "Сделка закрыта")
    assert (lost[7], lost[8], lost[9]) == ("Отказ", "Проиграна", "Дорого")
    en_text = await _export(crm, "deals", "en", bom=False)
    assert not en_text.startswith("\ufeff")
    en = list(csv.reader(io.StringIO(en_text)))
    assert en[0][6:10] == ["Amount", "Stage", "Status", "Lost reason"]
    paper = next(r for r in en if r[1] == "Поставка бумаги")
    assert (paper[6], paper[7], paper[8]) == ("12500.50", "Invoice sent", "Open")


async def test_import_owner_and_team_take_the_deals(crm: Crm) -> None:
    rita = await Employee.create(name="Rita", username="rita", role=Role.REP, team="north")
    await Employee.create(name="Ivan", role=Role.REP, team="south")
    for ref in (str(rita.id), "@Rita", "rita"):
        owner, team = await assignee(ref, None)
        assert owner is not None and (owner.id, team) == (rita.id, "north")
    assert await assignee(None, "south") == (None, "south")
    assert await assignee(None, None) == (None, "main")
    for owner_ref, team_ref, message in (
        ("Nobody", None, "no such active employee"),
        ("Rita", "south", "is in team 'north'"),
        (None, "west", "no active employee is in it"),
    ):
        with pytest.raises(UnknownAssignee, match=message):
            await assignee(owner_ref, team_ref)


async def test_the_commands_refuse_bad_bytes_in_one_line_and_write_both_formats(
    db_url: str, tmp_path: Path
) -> None:
    env = {"NEXTSTEP_DATABASE_URL": db_url}
    bad = tmp_path / "bad.csv"
    bad.write_bytes("Имя;Телефон\nАнна;8 999 123-45-67\n".encode("cp1251") + b"\x98\n")
    code, out, err = await nextstep("import", str(bad), cwd=tmp_path, **env)
    assert (code, out) == (2, "")
    assert err == f"nextstep: {bad}: line 3: byte 0x98 is neither UTF-8 nor Windows-1251\n"

    await Employee.create(name="Rita", username="rita", role=Role.REP, team="north")
    good = tmp_path / "good.csv"
    good.write_text("name;phone;email;title\n=cmd;8 999 123-45-67;anna@;Paper\n",
                    encoding="utf-8")
    code, out, err = await nextstep("import", str(good), "--owner", "@rita", cwd=tmp_path, **env)
    assert code == 0, err
    assert "  line 2: invalid email 'anna@', the row went in without it" in out.splitlines()
    assert await Deal.filter(team="north", owner__username="rita").count() == 1

    saved = tmp_path / "contacts.csv"
    # Three commands that only read: at once, not one process start after another.
    exported, exported_to_file, report = await asyncio.gather(
        nextstep("export", "--locale", "en", cwd=tmp_path, **env),
        nextstep("export", "contacts", "-o", str(saved), cwd=tmp_path, **env),
        nextstep("report", "--csv", "--locale", "en", cwd=tmp_path, **env),
    )
    code, out, err = exported
    assert code == 0, err
    lines = out.splitlines()  # stdout: no BOM
    assert lines[0].startswith("ID,Deal,Name,Phone,") and ",'=cmd,+79991234567," in lines[1]
    code, out, err = exported_to_file
    assert code == 0, err
    assert saved.read_text(encoding="utf-8").startswith("\ufeffID;Имя;Телефон;Почта;")
    code, out, err = report
    assert code == 0, err
    assert out.splitlines()[0] == 'Stage,Entered,"Amount, ₽",Conversion'
