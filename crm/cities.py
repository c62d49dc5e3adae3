"""Russian cities (and the regions people type instead) with their time zone.

Only places that lie in one zone are here: a region that spans several (Yakutia has three) is
left out, so its contacts keep the zone their phone tells, or none. Zones are the values of
crm.phones.REGION_ZONES, the zones the card's region buttons set, so an imported contact and a
tapped one land in the same place.
"""

from __future__ import annotations

import re

from crm.phones import REGION_ZONES

_CITIES: dict[str, tuple[str, ...]] = {
    "kgd": ("Калининград", "Калининградская область", "Советск", "Черняховск"),
    "msk": (
        "Москва", "Санкт-Петербург", "Питер", "СПб", "Нижний Новгород", "Казань", "Ростов-на-Дону",
        "Воронеж", "Краснодар", "Волгоград", "Ярославль", "Тула", "Рязань", "Тверь", "Иваново",
        "Владимир", "Калуга", "Брянск", "Смоленск", "Курск", "Орёл", "Белгород", "Липецк",
        "Тамбов", "Пенза", "Чебоксары", "Йошкар-Ола", "Киров", "Кострома", "Вологда",
        "Череповец", "Архангельск", "Мурманск", "Петрозаводск", "Великий Новгород", "Псков",
        "Сыктывкар", "Ставрополь", "Сочи", "Новороссийск", "Махачкала", "Грозный", "Владикавказ",
        "Нальчик", "Черкесск", "Майкоп", "Элиста", "Симферополь", "Севастополь", "Саранск",
        "Подольск", "Химки", "Балашиха", "Мытищи", "Королёв", "Люберцы", "Зеленоград",
        "Московская область", "Ленинградская область", "Краснодарский край",
        "Татарстан", "Набережные Челны",
    ),
    "sam": ("Самара", "Тольятти", "Саратов", "Ижевск", "Ульяновск", "Астрахань",
            "Самарская область", "Удмуртия"),
    "ekb": (
        "Екатеринбург", "Челябинск", "Пермь", "Уфа", "Тюмень", "Оренбург", "Курган",
        "Магнитогорск", "Нижний Тагил", "Сургут", "Нижневартовск", "Ханты-Мансийск",
        "Салехард", "Новый Уренгой", "Ноябрьск", "Стерлитамак", "Орск", "Тобольск",
        "Свердловская область", "Челябинская область", "Пермский край", "Башкортостан",
    ),
    "oms": ("Омск", "Омская область"),
    "nsk": (
        "Новосибирск", "Красноярск", "Томск", "Барнаул", "Кемерово", "Новокузнецк", "Абакан",
        "Кызыл", "Горно-Алтайск", "Бийск", "Норильск", "Новосибирская область",
        "Красноярский край", "Алтайский край", "Кузбасс",
    ),
    "irk": ("Иркутск", "Братск", "Ангарск", "Улан-Удэ", "Иркутская область", "Бурятия"),
    "yak": ("Якутск", "Чита", "Благовещенск", "Забайкальский край", "Амурская область"),
    "vla": (
        "Владивосток", "Хабаровск", "Комсомольск-на-Амуре", "Уссурийск", "Находка", "Биробиджан",
        "Приморский край", "Хабаровский край",
    ),
    "mag": ("Магадан", "Южно-Сахалинск", "Сахалин", "Магаданская область"),
    "kam": ("Петропавловск-Камчатский", "Камчатка", "Анадырь", "Чукотка"),
}
# The largest ones as English-speaking files spell them.
_CITIES_EN: dict[str, tuple[str, ...]] = {
    "kgd": ("Kaliningrad",),
    "msk": ("Moscow", "Saint Petersburg", "St Petersburg", "St. Petersburg", "Nizhny Novgorod",
            "Kazan", "Rostov-on-Don", "Voronezh", "Krasnodar", "Volgograd", "Sochi"),
    "sam": ("Samara", "Tolyatti", "Saratov", "Izhevsk", "Ulyanovsk"),
    "ekb": ("Yekaterinburg", "Ekaterinburg", "Chelyabinsk", "Perm", "Ufa", "Tyumen"),
    "oms": ("Omsk",),
    "nsk": ("Novosibirsk", "Krasnoyarsk", "Tomsk", "Barnaul", "Kemerovo"),
    "irk": ("Irkutsk", "Ulan-Ude"),
    "yak": ("Yakutsk", "Chita"),
    "vla": ("Vladivostok", "Khabarovsk"),
    "mag": ("Magadan", "Yuzhno-Sakhalinsk"),
    "kam": ("Petropavlovsk-Kamchatsky",),
}
_PREFIX = re.compile(r"^(г|город|гор)\b\.?\s*|\s+(г|город)\.?$")


def city_key(raw: str) -> str:
    """A city as typed ("г. Москва", "москва г", "Орел") in one comparable form."""
    text = " ".join(raw.lower().replace("ё", "е").replace("-", " ").replace(".", " ").split())
    return _PREFIX.sub("", text).strip()


CITY_ZONES: dict[str, str] = {
    city_key(city): REGION_ZONES[region]
    for table in (_CITIES, _CITIES_EN) for region, cities in table.items() for city in cities
}


def zone_for_city(raw: str) -> str | None:
    """The zone of a city or region we know, None for an unknown one."""
    return CITY_ZONES.get(city_key(raw))
