"""The dataset's contacts, phones (and their parts for /find) and deals as rows, a chunk of ids
at a time, from a seed: the same seed gives the same rows (bench/dataset.py has the shape)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from crm.phonebook import phone_parts

TEAMS = ("north", "south", "east", "west")
SOURCES = ("site", "call", "telegram", "referral", "ads", "repeat")
ZONES = (
    "Europe/Moscow",
    "Europe/Moscow",
    "Europe/Moscow",
    "Asia/Yekaterinburg",
    "Asia/Novosibirsk",
    None,
)
FIRST = ("Anna", "Ivan", "Olga", "Petr", "Maria", "Sergey", "Elena", "Dmitry", "Irina", "Pavel")
LAST = (
    "Ivanova",
    "Petrov",
    "Smirnova",
    "Kuznetsov",
    "Popova",
    "Sokolov",
    "Lebedeva",
    "Kozlov",
    "Novikova",
    "Morozov",
    "Volkova",
    "Orlov",
)
LOST_REASONS = ("price", "competitor", "no_need", "other")
# (stage, status, weight): the pipeline as it stands after a year of work.
STATES = (
    ("new", "open", 20),
    ("in_progress", "open", 26),
    ("invoice_sent", "open", 16),
    ("paid", "won", 14),
    ("refused", "lost", 14),
    ("archive", "archived", 10),
)
CHUNK = 100_000
DAY = 86_400


def sqlite_text(moment: datetime) -> str:
    """A UTC moment as Tortoise writes it into SQLite."""
    return str(moment)


class Rows:
    """Contacts, phones and deals, generated in chunks of ids."""

    def __init__(
        self,
        deals: int,
        reps: Sequence[int],
        rep_teams: Sequence[str],
        now: datetime,
        seed: int,
        as_text: bool,
    ) -> None:
        self.deals = deals
        self.queue_from = deals - deals // 20 + 1
        self.reps = reps
        self.rep_teams = dict(zip(reps, rep_teams, strict=True))
        self.now = now
        self.rng = random.Random(seed)
        self.ts: Callable[[datetime], Any] = sqlite_text if as_text else (lambda d: d)
        self.flag: Callable[[bool], Any] = int if as_text else bool

    def chunks(self) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
        """(contacts, phones, phone parts, deals) a chunk of ids at a time."""
        for start in range(1, self.deals + 1, CHUNK):
            yield self._chunk(start, min(start + CHUNK, self.deals + 1))

    def _chunk(self, start: int, stop: int) -> tuple[list[tuple[Any, ...]], ...]:
        rng, now, ts, flag = self.rng, self.now, self.ts, self.flag
        n = stop - start
        states = rng.choices(STATES, weights=[w for *_, w in STATES], k=n)
        owners = rng.choices(self.reps, k=n)
        amounts = rng.choices((0, 990_00, 4_900_00, 15_000_00, 49_000_00, 250_000_00), k=n)
        sources = rng.choices(SOURCES, k=n)
        zones = rng.choices(ZONES, k=n)
        jitter = [rng.random() for _ in range(n)]
        contacts, phones, deals = [], [], []
        span = 365 * DAY
        for k, i in enumerate(range(start, stop)):
            queued = i >= self.queue_from
            if queued:  # the newest leads: last week, nobody's yet
                created = now - timedelta(
                    seconds=int(
                        7
                        * DAY
                        * (self.deals - i + jitter[k])
                        / max(1, self.deals - self.queue_from + 1)
                    )
                )
                stage, status, owner = "new", "open", None
                team = TEAMS[i % len(TEAMS)]
            else:
                created = now - timedelta(
                    seconds=int(span * (1 - i / self.deals) + 3600 * jitter[k] + 7 * DAY)
                )
                stage, status, _ = states[k]
                owner = owners[k]
                team = self.rep_teams[owner]
            age = (now - created).total_seconds()
            changed = (
                created if stage == "new" else created + timedelta(seconds=int(age * jitter[k] / 2))
            )
            closed = changed if status != "open" else None
            name = f"{FIRST[i % 10]} {LAST[i * 7 % 12]}"
            phone = f"+79{i * 7919 % 1_000_000_000:09d}"
            contacts.append(
                (
                    i,
                    name,
                    "" if i % 4 else f"OOO Client {i}",
                    f"c{i}@example.com" if i % 5 == 0 else None,
                    10_000_000 + i if i % 7 == 0 else None,
                    None,
                    "RU",
                    zones[k],
                    sources[k],
                    "[]",
                    ts(closed) if closed and status == "won" else None,
                    flag(False),
                    ts(created),
                    owner,
                )
            )
            phones.append((i, i, phone))
            deals.append(
                (
                    i,
                    i,
                    name,
                    amounts[k],
                    stage,
                    status,
                    rng.choice(LOST_REASONS) if status == "lost" else None,
                    None,
                    sources[k],
                    "[]",
                    5 if status == "archived" else (i % 4 if stage == "new" and not queued else 0),
                    owner,
                    team,
                    2 if stage != "new" else 1,
                    ts(created),
                    ts(changed),
                    ts(closed) if closed else None,
                )
            )
        parts = [(c, part) for _, c, e164 in phones for part in phone_parts(e164)]
        return contacts, phones, parts, deals


CONTACT_COLUMNS = (
    "id",
    "name",
    "company",
    "email",
    "tg_user_id",
    "tg_username",
    "region",
    "tz",
    "source",
    "tags",
    "last_purchase_at",
    "stopped",
    "created_at",
    "owner_id",
)
PHONE_COLUMNS = ("id", "contact_id", "e164")
PART_COLUMNS = ("contact_id", "part")
DEAL_COLUMNS = (
    "id",
    "contact_id",
    "title",
    "amount",
    "stage",
    "status",
    "lost_reason",
    "lost_note",
    "source",
    "tags",
    "no_answer_count",
    "owner_id",
    "team",
    "version",
    "created_at",
    "stage_changed_at",
    "closed_at",
)
