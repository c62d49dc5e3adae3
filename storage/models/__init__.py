"""The shared store: Tortoise models of the pipeline, one submodule per topic.

Tortoise registers this one module (storage/db.py, the aerich migrations), so every model is
named here, and the code imports them from here.

Money is kept in integer minor units (kopecks): Tortoise stores Decimal as text on SQLite, so sums
would run in floating point there. Times are aware UTC.
"""

from storage.models.contacts import Contact, ContactEmail, ContactPhone, PhonePart
from storage.models.conversations import Call, ChatMessage
from storage.models.custom_fields import ContactField, DealField, FieldDef
from storage.models.deals import Deal, DealStatus, EventKind, Task, TaskStatus, TimelineEvent
from storage.models.leases import Lease
from storage.models.mail import Letter, Mailbox
from storage.models.pipeline import ButtonLabel, Stage
from storage.models.staff import Employee, Invite, Role
from storage.models.tags import ContactTag, DealTag

__all__ = [
    "ButtonLabel",
    "Call",
    "ChatMessage",
    "Contact",
    "ContactEmail",
    "ContactField",
    "ContactPhone",
    "ContactTag",
    "Deal",
    "DealField",
    "DealStatus",
    "DealTag",
    "Employee",
    "EventKind",
    "FieldDef",
    "Invite",
    "Lease",
    "Letter",
    "Mailbox",
    "PhonePart",
    "Role",
    "Stage",
    "Task",
    "TaskStatus",
    "TimelineEvent",
]
