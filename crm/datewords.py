"""The words of crm.dateparse's grammar, Russian and English, in the forms reps type them.

Text reaches these tables lower-cased, with ё as е and the dot after a letter dropped ("дек." is
"дек", "p.m." is "pm"), so only those forms are listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import time


def alt(words: Iterable[str]) -> str:
    """A regex alternation of words; longest first so that a whole word wins over its prefix."""
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


def _forms(index: int, *words: str) -> dict[str, int]:
    return dict.fromkeys(words, index)


# Every case a weekday takes after в/во/на/к/до/с, plus the abbreviations reps use.
WEEKDAYS: dict[str, int] = {
    **_forms(0, "понедельник", "понедельника", "понедельнику", "понедельником", "понедельнике",
             "пн", "пнд", "пон", "monday", "mon"),
    **_forms(1, "вторник", "вторника", "вторнику", "вторником", "вторнике", "вт", "втр",
             "tuesday", "tue", "tues"),
    **_forms(2, "среда", "среду", "среды", "среде", "средой", "ср", "срд", "wednesday", "wed",
             "weds"),
    **_forms(3, "четверг", "четверга", "четвергу", "четвергом", "четверге", "чт", "чтв", "чет",
             "thursday", "thu", "thur", "thurs"),
    **_forms(4, "пятница", "пятницу", "пятницы", "пятнице", "пятницей", "пт", "птн", "пят",
             "friday", "fri"),
    **_forms(5, "суббота", "субботу", "субботы", "субботе", "субботой", "сб", "суб", "saturday",
             "sat"),
    **_forms(6, "воскресенье", "воскресенья", "воскресенью", "воскресеньем", "вс", "вск", "воскр",
             "sunday", "sun"),
}

# Month → number: the nominative, the genitive of "3 января", and the abbreviations.
MONTHS: dict[str, int] = {
    **_forms(1, "январь", "января", "янв", "january", "jan"),
    **_forms(2, "февраль", "февраля", "фев", "февр", "february", "feb"),
    **_forms(3, "март", "марта", "мар", "march", "mar"),
    **_forms(4, "апрель", "апреля", "апр", "april", "apr"),
    **_forms(5, "май", "мая", "may"),
    **_forms(6, "июнь", "июня", "июн", "june", "jun"),
    **_forms(7, "июль", "июля", "июл", "july", "jul"),
    **_forms(8, "август", "августа", "авг", "august", "aug"),
    **_forms(9, "сентябрь", "сентября", "сен", "сент", "september", "sep", "sept"),
    **_forms(10, "октябрь", "октября", "окт", "october", "oct"),
    **_forms(11, "ноябрь", "ноября", "ноя", "нояб", "november", "nov"),
    **_forms(12, "декабрь", "декабря", "дек", "december", "dec"),
}

NUMBER_WORDS: dict[str, float] = {
    **dict.fromkeys(("a", "an", "one", "один", "одну", "одна"), 1),
    **dict.fromkeys(("полтора", "полторы"), 1.5),
    **dict.fromkeys(("two", "два", "две", "пару", "пара", "couple of", "a couple of"), 2),
    **dict.fromkeys(("three", "три"), 3),
    **dict.fromkeys(("four", "четыре"), 4),
    **dict.fromkeys(("five", "пять"), 5),
    **dict.fromkeys(("ten", "десять"), 10),
}

# Elapsed-time units, in minutes.
CLOCK_UNITS: dict[str, int] = {
    **dict.fromkeys(("м", "мин", "минуту", "минуты", "минут", "m", "min", "mins", "minute",
                     "minutes"), 1),
    **dict.fromkeys(("ч", "час", "часа", "часов", "h", "hr", "hrs", "hour", "hours"), 60),
}
# Calendar units, in days: they keep the wall clock time across a DST change.
CALENDAR_UNITS: dict[str, int] = {
    **dict.fromkeys(("д", "дн", "день", "дня", "дней", "d", "day", "days"), 1),
    **dict.fromkeys(("нед", "неделю", "недели", "недель", "w", "wk", "week", "weeks"), 7),
}

# Meridiem words → is it the afternoon half.
MERIDIEM: dict[str, bool] = {
    **dict.fromkeys(("am", "утра", "ночи"), False),
    **dict.fromkeys(("pm", "дня", "вечера"), True),
}

DEFAULT_TIME = time(10, 0)
MORNING = time(10, 0)
BEFORE_LUNCH = time(11, 0)
NOON = time(12, 0)
LUNCH = time(13, 0)
AFTERNOON = time(14, 0)
END_OF_DAY = time(17, 0)
EVENING = time(18, 0)
MIDNIGHT = time(0, 0)

# Parts of the day by name, each matched as the whole time phrase.
NAMED_TIMES: dict[str, time] = {
    **dict.fromkeys(("утром", "с утра", "morning", "in the morning", "this morning"), MORNING),
    **dict.fromkeys(("до обеда", "перед обедом", "before lunch"), BEFORE_LUNCH),
    **dict.fromkeys(("полдень", "в полдень", "noon", "at noon", "midday", "at midday"), NOON),
    **dict.fromkeys(("в обед", "к обеду", "на обед", "at lunch", "lunchtime", "at lunchtime"),
                    LUNCH),
    **dict.fromkeys(("днем", "после обеда", "afternoon", "in the afternoon", "this afternoon",
                     "after lunch"), AFTERNOON),
    **dict.fromkeys(("в конце дня", "к концу дня", "до конца дня", "конец дня", "end of day",
                     "by end of day", "at the end of the day", "by the end of the day", "eod",
                     "by eod", "end of the day"), END_OF_DAY),
    **dict.fromkeys(("вечером", "вечер", "evening", "in the evening", "this evening", "tonight"),
                    EVENING),
    **dict.fromkeys(("полночь", "в полночь", "midnight", "at midnight"), MIDNIGHT),
}

TODAY = ("сегодня", "today")
TOMORROW = ("завтра", "tomorrow", "tmrw", "tmr", "tomorow")
DAY_AFTER = ("послезавтра", "day after tomorrow", "the day after tomorrow")
NEXT_WEEK = ("на следующей неделе", "на след неделе", "next week")
