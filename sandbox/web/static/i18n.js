// The page's own words (the bot's come from the product's gettext catalogs).
const WORDS = {
  en: {
    clock: "Clock", speeds: {1: "real time", 60: "1 min = 1 s", 1440: "1 day = 1 min"}, roles: {admin: "admin", supervisor: "supervisor", rep: "rep", client: "client", new: "new"},
    pick: "Pick a person on the left: you write and press buttons as them.",
    placeholder: "Message", menu: "Menu", typing: "typing…", edited: "edited",
    shareContact: "Share my phone", download: "Download", contact: "Contact",
    phone: "Phone", dial: "Call", incoming: "A client calls", number: "Number",
    outcome: "What happens", talk: "Talk, s", sent: "Call sent to the SIP listener",
    outcomes: {answered: "Answered", busy: "Busy", no_answer: "No answer", unavailable: "Unavailable",
               hang_up: "Hangs up while ringing"},
    inOutcomes: {answered: "Answered", hang_up: "Missed"},
    now: "Product time", failed: "Failed",
    addPerson: "Add a person the bot does not know yet", newName: "Name", add: "Add",
    pickFirst: "Pick who opens the link first",
  },
  ru: {
    clock: "Часы", speeds: {1: "как есть", 60: "1 мин = 1 с", 1440: "1 день = 1 мин"}, roles: {admin: "админ", supervisor: "руководитель", rep: "менеджер", client: "клиент", new: "новый"},
    pick: "Выберите человека слева: вы пишете и нажимаете кнопки от его имени.",
    placeholder: "Сообщение", menu: "Меню", typing: "печатает…", edited: "изменено",
    shareContact: "Отправить мой номер", download: "Скачать", contact: "Контакт",
    phone: "Телефон", dial: "Позвонить", incoming: "Звонит клиент", number: "Номер",
    outcome: "Что происходит", talk: "Разговор, с", sent: "Звонок отправлен SIP-слушателю",
    outcomes: {answered: "Ответил", busy: "Занято", no_answer: "Не берёт трубку", unavailable: "Недоступен",
               hang_up: "Сбросил, пока звонило"},
    inOutcomes: {answered: "Ответил", hang_up: "Пропущен"},
    now: "Время продукта", failed: "Ошибка",
    addPerson: "Добавить человека, которого бот ещё не знает", newName: "Имя", add: "Добавить",
    pickFirst: "Сначала выберите, кто открывает ссылку",
  },
};
const LANG = (navigator.language || "en").toLowerCase().startsWith("ru") ? "ru" : "en";
const T = WORDS[LANG];
