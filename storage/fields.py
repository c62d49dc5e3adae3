"""The custom field tables: one row per value of a contact's or a deal's field.

crm/fields.py normalises values and folds them before they get here; lookups match `folded`
through the (key, folded, owner) indexes, never a scan of every deal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from storage.db import dialect, reading_connection
from storage.models import ContactField, DealField

Owner = Literal["contact", "deal"]
FOLDED_CHARS = 200  # `folded` is a VARCHAR(200): an index key, long texts match by their start


@dataclass(frozen=True)
class Stored:
    """One value as stored: `value` to show and export, `folded` to match, `number` to sum."""

    value: str
    folded: str
    number: float | None = None


@dataclass(frozen=True)
class OwnedValue:
    owner: Owner
    key: str
    value: str


_MODELS: dict[Owner, type[ContactField] | type[DealField]] = {
    "contact": ContactField, "deal": DealField,
}


def _column(owner: Owner) -> str:
    return f"{owner}_id"


def _rows(owner: Owner, owner_id: int, key: str, values: Iterable[Stored]) -> list[object]:
    model = _MODELS[owner]
    return [
        model(**{_column(owner): owner_id}, key=key, value=v.value, folded=v.folded,
              number=v.number)
        for v in values
    ]


async def replace(owner: Owner, owner_id: int, key: str, values: Sequence[Stored]) -> None:
    """The owner's `key` holds `values` now (none: the field is cleared)."""
    model = _MODELS[owner]
    async with in_transaction():
        await model.filter(**{_column(owner): owner_id}, key=key).delete()
        if values:
            await model.bulk_create(_rows(owner, owner_id, key, values))  # type: ignore[arg-type]


async def insert_many(owner: Owner, values: Mapping[int, Mapping[str, Sequence[Stored]]]) -> None:
    """Values of owners just inserted (an import's chunk, in its transaction)."""
    rows = [
        row
        for owner_id, fields in values.items()
        for key, stored in fields.items()
        for row in _rows(owner, owner_id, key, stored)
    ]
    if rows:
        await _MODELS[owner].bulk_create(rows)  # type: ignore[arg-type]


async def values_of(owner: Owner, owner_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    """Owner id -> key -> values in the order written."""
    found: dict[int, dict[str, list[str]]] = {}
    if not owner_ids:
        return found
    rows = await (
        _MODELS[owner].filter(**{f"{_column(owner)}__in": list(owner_ids)})
        .order_by("id")
        .values_list(_column(owner), "key", "value")
    )
    for owner_id, key, value in rows:
        found.setdefault(int(owner_id), {}).setdefault(str(key), []).append(str(value))
    return found


_OF_DEAL = {
    "sqlite": """SELECT 'deal' AS owner, key, value, id FROM deal_field WHERE deal_id = ?1
                 UNION ALL
                 SELECT 'contact', key, value, id FROM contact_field
                 WHERE contact_id = (SELECT contact_id FROM deal WHERE id = ?1)
                 ORDER BY 1, 4""",
    "postgres": """SELECT 'deal' AS owner, key, value, id FROM deal_field WHERE deal_id = $1
                   UNION ALL
                   SELECT 'contact', key, value, id FROM contact_field
                   WHERE contact_id = (SELECT contact_id FROM deal WHERE id = $1)
                   ORDER BY 1, 4""",
}


async def values_of_deal(deal_id: int) -> list[OwnedValue]:
    """The deal's values and its contact's, in one round trip (the card reads them on a press)."""
    conn = reading_connection()
    rows = await conn.execute_query_dict(_OF_DEAL[dialect(conn)], [deal_id])
    return [OwnedValue(r["owner"], r["key"], r["value"]) for r in rows]


# The newest owners holding one value: a backward range of the (key, folded, owner) index, read
# at most {limit} rows deep whatever the value (none, or one deal in five). One such range per
# value, merged: an IN list of values would make the database sort every holder.
_NEWEST = {
    "deal": "SELECT id FROM (SELECT deal_id AS id FROM deal_field WHERE key = {key}"
            " AND folded = {value} ORDER BY deal_id DESC LIMIT {limit}) AS v{n}",
    "contact": "SELECT id FROM (SELECT contact_id AS id FROM contact_field WHERE key = {key}"
               " AND folded = {value} ORDER BY contact_id DESC LIMIT {limit}) AS v{n}",
}
# A contact's deals: those of its newest holders (contact ids grow with time as deal ids do).
_DEALS_OF = """SELECT d.id AS id FROM ({holders}) AS h JOIN deal d ON d.contact_id = h.id
               ORDER BY d.id DESC LIMIT {limit}"""


async def deal_ids_with(owner: Owner, key: str, folded: Sequence[str], limit: int) -> list[int]:
    """The newest deals whose field `key` (or whose contact's) holds one of `folded`."""
    conn = reading_connection()
    pg = dialect(conn) == "postgres"
    params: list[object] = [key, limit]
    parts = []
    for n, value in enumerate(folded):
        params.append(value)
        mark = f"${len(params)}" if pg else f"?{len(params)}"
        key_mark, limit_mark = ("$1", "$2") if pg else ("?1", "?2")
        parts.append(_NEWEST[owner].format(key=key_mark, value=mark, limit=limit_mark, n=n))
    holders = " UNION ALL ".join(parts)
    limit_mark = "$2" if pg else "?2"
    if owner == "deal":
        sql = f"SELECT id FROM ({holders}) AS u ORDER BY id DESC LIMIT {limit_mark}"
    else:
        sql = _DEALS_OF.format(holders=holders, limit=limit_mark)
    rows = await conn.execute_query_dict(sql, params)
    return list(dict.fromkeys(int(r["id"]) for r in rows))


@dataclass(frozen=True)
class FieldHolds:
    """A board filter (storage/board.py's DealFilter): the deal, or its contact, holds one of
    the folded values of `key`. Checked per deal through the field table's owner index, as the
    board's tag filter is."""

    owner: Owner
    key: str
    folded: tuple[str, ...]

    def where(self) -> tuple[str, tuple[object, ...]]:
        marks = ", ".join("?" for _ in self.folded) or "NULL"
        if self.owner == "deal":
            sql = "EXISTS (SELECT 1 FROM deal_field f WHERE f.deal_id = d.id"
        else:
            sql = "EXISTS (SELECT 1 FROM contact_field f WHERE f.contact_id = d.contact_id"
        return f"{sql} AND f.key = ? AND f.folded IN ({marks}))", (self.key, *self.folded)


def deals_where(owner: Owner, key: str, folded: Sequence[str]) -> Q:
    """A filter of Deal querysets: the deal (or its contact) has `key` in `folded`. The board
    adds it to its own query; the subquery runs on the (key, folded, owner) index."""
    if owner == "deal":
        ids = DealField.filter(key=key, folded__in=list(folded)).values("deal_id")
        return Q(id__in=Subquery(ids))
    contacts = ContactField.filter(key=key, folded__in=list(folded)).values("contact_id")
    return Q(contact_id__in=Subquery(contacts))


async def holders(owner: Owner, key: str) -> int:
    """How many contacts or deals hold a value of `key`."""
    conn = reading_connection()
    mark = "$1" if dialect(conn) == "postgres" else "?"
    rows = await conn.execute_query_dict(
        f"SELECT COUNT(DISTINCT {_column(owner)}) AS n FROM {owner}_field WHERE key = {mark}", [key]
    )
    return int(rows[0]["n"])


async def remove_key(owner: Owner, key: str) -> int:
    return int(await _MODELS[owner].filter(key=key).delete())
