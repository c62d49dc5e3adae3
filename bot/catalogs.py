"""The bot's message catalogues: every area's .po file of a language merged and compiled in memory.

Each area (common, rep, client, admin, reports...) owns bot/locales/ru/LC_MESSAGES/<area>.po, so
nobody edits a shared catalogue and no compiled .mo is committed. English is the msgid itself: no
en catalogue exists. Babel and the stdlib only: the bot feeds these to aiogram's I18n (bot/i18n.py),
the command line's export reads them through plain gettext without loading aiogram.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).with_name("locales")


class CatalogConflict(RuntimeError):
    """Two .po files translate the same English text differently."""


def merge_po_files(lang: str, po_files: Iterable[Path]) -> Catalog:
    merged = Catalog(locale=lang)
    origin: dict[object, Path] = {}
    for path in po_files:
        with path.open("rb") as fp:
            catalog = read_po(fp, locale=lang)
        for message in catalog:
            if not message.id or not message.string or message.fuzzy:
                continue
            known = merged.get(message.id, message.context)
            if known is not None and known.string != message.string:
                first = origin[message.id].name
                raise CatalogConflict(
                    f"{path.name} and {first} translate {message.id!r} differently"
                )
            merged[message.id] = message
            origin[message.id] = path
    return merged


def compile_catalog(catalog: Catalog) -> gettext.GNUTranslations:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translations(lang: str, path: Path = LOCALES_DIR) -> gettext.GNUTranslations | None:
    """`lang`'s .po files under `path`, merged and compiled; None when it has none (English)."""
    po_files = sorted((path / lang / "LC_MESSAGES").glob("*.po"))
    return compile_catalog(merge_po_files(lang, po_files)) if po_files else None
