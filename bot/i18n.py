"""Gettext for the bot: aiogram's I18n fed from every area's .po file, compiled in memory at start.

Each area (common, rep, client, admin, reports...) owns bot/locales/ru/LC_MESSAGES/<area>.po, so
nobody edits a shared catalogue and no compiled .mo is committed. English is the msgid itself:
no en catalogue exists, I18n falls back to the msgid for a locale it does not know.
"""

from __future__ import annotations

import contextlib
import gettext
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from config.settings import SUPPORTED_LANGS

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


class MergedPoI18n(I18n):
    """aiogram's I18n that reads <path>/<lang>/LC_MESSAGES/*.po instead of one compiled .mo."""

    @contextlib.contextmanager
    def context(self) -> Iterator[I18n]:
        # aiogram gives every subclass its own "current instance" variable, but its gettext
        # looks up I18n's: register under the base class.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for lang_dir in sorted(p for p in self.path.iterdir() if p.is_dir()):
            po_files = sorted((lang_dir / "LC_MESSAGES").glob("*.po"))
            if po_files:
                catalog = merge_po_files(lang_dir.name, po_files)
                translations[lang_dir.name] = compile_catalog(catalog)
        return translations


def create_i18n(default_locale: str = "ru", path: Path = LOCALES_DIR) -> I18n:
    return MergedPoI18n(path=path, default_locale=default_locale)


def pick_lang(*candidates: str | None, default: str) -> str:
    """The first candidate that is a supported language ("en-GB" counts as "en"), else default."""
    for code in candidates:
        lang = (code or "").split("-")[0].lower()
        if lang in SUPPORTED_LANGS:
            return lang
    return default


@contextlib.contextmanager
def speaking(i18n: I18n, lang: str) -> Iterator[None]:
    """`_()` in `lang` outside a handler (scheduler pushes, the notifier)."""
    with i18n.context(), i18n.use_locale(lang):
        yield
