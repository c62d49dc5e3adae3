"""What the dataset derives inside the database from its deals with INSERT … SELECT: tasks,
timeline events, calls and custom field values, in PostgreSQL's or SQLite's SQL."""

from __future__ import annotations

from datetime import datetime

from bench.dataset_rows import sqlite_text


class Dialect:
    """The few expressions that differ between PostgreSQL and SQLite in the derived inserts."""

    def __init__(self, postgres: bool, now: datetime) -> None:
        self.postgres = postgres
        self.now = f"'{sqlite_text(now)}'::timestamptz" if postgres else f"'{sqlite_text(now)}'"

    def plus_minutes(self, moment: str, minutes: str) -> str:
        if self.postgres:
            return f"({moment} + ({minutes}) * interval '1 minute')"
        return f"strftime('%Y-%m-%d %H:%M:%S+00:00', {moment}, printf('%+d minutes', {minutes}))"

    def json(self, text: str) -> str:
        return f"({text})::jsonb" if self.postgres else text


CREATED_DATA = """'{"stage": "new", "source": "' || d.source || '"}'"""
OUTCOME_DATA = """'{"button": "' || t.outcome || '", "source": "bot"}'"""
STAGE_DATA = """'{"from": "new", "to": "' || d.stage || '"}'"""


# Custom fields of the default playbook: four deals in five have a product (basic twice as
# often as pro or custom), half the contacts a city; values as crm.fields stores them.
FIELD_INSERTS = [
    """INSERT INTO deal_field (deal_id, key, value, folded)
       SELECT d.id, 'product', v.value, v.value
       FROM deal d JOIN (SELECT 0 AS r, 'basic' AS value UNION ALL SELECT 1, 'pro'
                         UNION ALL SELECT 2, 'basic' UNION ALL SELECT 3, 'custom') v
         ON v.r = d.id % 5""",
    """INSERT INTO contact_field (contact_id, key, value, folded)
       SELECT c.id, 'city', v.value, v.folded
       FROM contact c JOIN (SELECT 1 AS r, 'Москва' AS value, 'москва' AS folded
                            UNION ALL SELECT 3, 'Казань', 'казань'
                            UNION ALL SELECT 5, 'Новосибирск', 'новосибирск'
                            UNION ALL SELECT 7, 'Екатеринбург', 'екатеринбург'
                            UNION ALL SELECT 9, 'Омск', 'омск') v
         ON v.r = c.id % 10""",
]


def derived_inserts(d: Dialect) -> list[str]:
    due = d.plus_minutes(d.now, "(d.id % (16 * 1440)) * 7919 % (16 * 1440) - 2 * 1440")
    open_due = f"CASE WHEN d.owner_id IS NULL THEN d.created_at ELSE {due} END"
    return [
        *FIELD_INSERTS,
        # One open task per open deal; overdue ones have been pushed already.
        f"""INSERT INTO task (deal_id, kind, status, due_at, team, attempt, planned_by, created_at,
                              assignee_id, pushed_at)
            SELECT d.id,
                   CASE WHEN d.owner_id IS NULL THEN 'lead'
                        WHEN d.stage = 'invoice_sent' THEN 'payment_check' ELSE 'call' END,
                   'open', {open_due}, d.team, d.no_answer_count,
                   CASE d.stage WHEN 'in_progress' THEN 'call_back'
                                WHEN 'invoice_sent' THEN 'invoice_sent' END,
                   d.stage_changed_at, d.owner_id,
                   CASE WHEN {open_due} <= {d.now} THEN {open_due} END
            FROM deal d WHERE d.status = 'open'""",
        # The done task behind every deal that was ever worked.
        """INSERT INTO task (deal_id, kind, status, due_at, team, attempt, created_at, closed_at,
                              outcome, assignee_id, closed_by_id, pushed_at)
            SELECT d.id, 'call', 'done', d.created_at, d.team,
                   CASE WHEN d.status = 'archived' THEN 5 ELSE d.no_answer_count END,
                   d.created_at, d.stage_changed_at,
                   CASE d.stage WHEN 'in_progress' THEN 'call_back'
                                WHEN 'invoice_sent' THEN 'invoice_sent' WHEN 'paid' THEN 'paid'
                                WHEN 'refused' THEN 'refused' ELSE 'no_pickup' END,
                   d.owner_id, d.owner_id, d.created_at
            FROM deal d WHERE d.stage <> 'new' OR d.no_answer_count > 0""",
        f"""INSERT INTO timeline_event (deal_id, kind, text, data, at, actor_id)
            SELECT d.id, 'created', '',
                   {d.json(CREATED_DATA)},
                   d.created_at, NULL
            FROM deal d""",
        f"""INSERT INTO timeline_event (deal_id, kind, text, data, at, actor_id)
            SELECT t.deal_id, 'outcome', '',
                   {d.json(OUTCOME_DATA)},
                   t.closed_at, t.closed_by_id
            FROM task t WHERE t.status = 'done'""",
        f"""INSERT INTO timeline_event (deal_id, kind, text, data, at, actor_id)
            SELECT d.id, 'stage', '',
                   {d.json(STAGE_DATA)},
                   d.stage_changed_at, d.owner_id
            FROM deal d WHERE d.stage <> 'new'""",
        f"""INSERT INTO "call" (call_id, direction, agent_id, remote, remote_e164, contact_id,
                              deal_id, disposition, sip_code, started_at, answered_at, ended_at,
                              talk_seconds)
            SELECT 'bench-' || t.id, 'out', t.assignee_id, p.e164, p.e164, p.contact_id, t.deal_id,
                   CASE WHEN t.outcome = 'no_pickup' THEN 'no_answer' ELSE 'answered' END,
                   CASE WHEN t.outcome = 'no_pickup' THEN 487 ELSE 200 END,
                   {d.plus_minutes("t.closed_at", "-1 - t.id % 9")},
                   CASE WHEN t.outcome = 'no_pickup' THEN NULL
                        ELSE {d.plus_minutes("t.closed_at", "-1 - t.id % 9")} END,
                   t.closed_at,
                   CASE WHEN t.outcome = 'no_pickup' THEN 0 ELSE 60 * (1 + t.id % 9) END
            FROM task t JOIN contact_phone p ON p.contact_id = t.deal_id
            WHERE t.status = 'done' AND t.id % 3 = 0""",
    ]
