"""Every text a user can be shown has its Russian: the msgids are read from the source with
babel's extractor (the same `_`, `gettext`, `ngettext` and `__` calls the bot translates at run
time), and each must be in the merged ru catalogue with a translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from bot.catalogs import LOCALES_DIR, merge_po_files

ROOT = Path(__file__).resolve().parents[1]
SURFACES = ("bot", "handlers")  # where texts for people are rendered (crm says what, not how)
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "__": None, "lazy_gettext": None}


def _msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in SURFACES:
        for filename, line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            for msgid in message if isinstance(message, tuple) else (message,):
                if msgid:
                    found.setdefault(msgid, f"{folder}/{filename}:{line}")
    return found


def test_the_extractor_sees_the_texts() -> None:
    found = _msgids()
    assert len(found) > 200  # a broken extraction would pass the test below with nothing
    assert "Not your deal" in found


def test_every_user_facing_text_has_its_russian() -> None:
    ru = merge_po_files("ru", sorted((LOCALES_DIR / "ru" / "LC_MESSAGES").glob("*.po")))
    missing = [
        f"{where}: {msgid!r}" for msgid, where in sorted(_msgids().items(), key=lambda i: i[1])
        if ru.get(msgid) is None or not ru.get(msgid).string  # type: ignore[union-attr]
    ]
    assert not missing, "no Russian for:\n" + "\n".join(missing)
