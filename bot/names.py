"""Keys as people read them, in one language: the playbook's stages, reasons and buttons, and the
column titles and deal statuses of CSV files (crm.exporter.Labels).

No aiogram at import: the command line's export passes the plain gettext of bot/catalogs.py and
starts in well under a second; the bot leaves the default, aiogram's, in the update's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from config.playbook import Playbook


def _aiogram_gettext(message: str) -> str:
    from aiogram.utils.i18n import gettext  # loaded already wherever the bot speaks

    return gettext(message)


@dataclass(frozen=True)
class Names:
    """Keys of the playbook as people read them, in one language."""

    playbook: Playbook
    lang: str
    gettext: Callable[[str], str] = field(default=_aiogram_gettext)

    def stage(self, key: str) -> str:
        spec = next((s for s in self.playbook.stages if s.key == key), None)
        return spec.name.get(self.lang) if spec else key

    def reason(self, key: str) -> str:
        _ = self.gettext
        label = self.playbook.reasons.get(key)
        return label.get(self.lang) if label else (key or _("no reason"))

    def button(self, key: str) -> str:
        spec = self.playbook.buttons.get(key)
        return spec.label.get(self.lang) if spec else key

    def source(self, key: str) -> str:
        _ = self.gettext
        return key or _("unknown")


@dataclass(frozen=True)
class CsvNames(Names):
    """Names plus the column titles and deal statuses of CSV files (crm.exporter.Labels)."""

    def column(self, key: str) -> str:
        _ = self.gettext
        return {
            "id": _("ID"),
            "name": _("Name"),
            "phone": _("Phone"),
            "email": _("Email"),
            "company": _("Company"),
            "city": _("City"),
            "tags": _("Tags"),
            "source": _("Source"),
            "owner": _("Owner"),
            "created": _("Created"),
            "closed": _("Closed"),
            "title": _("Deal"),
            "amount": _("Amount"),
            "stage": _("Stage"),
            "status": _("Status"),
            "lost reason": _("Lost reason"),
        }[key]

    def status(self, key: str) -> str:
        _ = self.gettext
        return {
            "open": _("Open"), "won": _("Won"), "lost": _("Lost"), "archived": _("Archived"),
        }.get(key, key)
