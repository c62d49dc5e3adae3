"""Gettext for the bot: aiogram's I18n fed from every area's .po file (bot/catalogs.py), compiled
in memory at start. I18n falls back to the msgid for a locale it has no catalogue for (English).
"""

from __future__ import annotations

import contextlib
import gettext
from collections.abc import Iterator
from pathlib import Path

from aiogram.utils.i18n import I18n

from bot.catalogs import LOCALES_DIR, translations
from config.settings import SUPPORTED_LANGS


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
        found: dict[str, gettext.GNUTranslations] = {}
        for lang_dir in sorted(p for p in self.path.iterdir() if p.is_dir()):
            catalog = translations(lang_dir.name, self.path)
            if catalog is not None:
                found[lang_dir.name] = catalog
        return found


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
