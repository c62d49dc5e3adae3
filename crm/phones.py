"""Phone numbers in E.164 and what they say about the client's time zone."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as phone_zones

DEFAULT_REGION = "RU"

# One-tap region buttons for a card whose zone the number does not tell (Russian mobiles span
# eleven zones). Keys go into callback data, so they stay short.
REGION_ZONES: dict[str, str] = {
    "kgd": "Europe/Kaliningrad",
    "msk": "Europe/Moscow",
    "sam": "Europe/Samara",
    "ekb": "Asia/Yekaterinburg",
    "oms": "Asia/Omsk",
    "nsk": "Asia/Novosibirsk",
    "irk": "Asia/Irkutsk",
    "yak": "Asia/Yakutsk",
    "vla": "Asia/Vladivostok",
    "mag": "Asia/Magadan",
    "kam": "Asia/Kamchatka",
}


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """E.164 for any local form ('8 495 …', '+7 (495) …', '7495…'), None if not a phone."""
    text = raw.strip()
    if not text or sum(ch.isdigit() for ch in text) < 6:
        return None
    # "7495…" without a plus is the international form typed without it; phonenumbers would
    # read it as a national number and fail, so give it the plus when it has a full length.
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith(("+", "8")) and len(digits) == 11 and digits.startswith("7"):
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def zone_for_phone(e164: str) -> str | None:
    """The client's zone when the number has exactly one (a Moscow landline), else None."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_zones.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zones[0] if len(zones) == 1 else None


def pretty_phone(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
