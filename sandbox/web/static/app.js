// The demo's chat: people on the left, the chosen person's private chat with the bot on the
// right, live through server-sent events. Plain DOM, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {people: [], numbers: [], current: null, unread: {}, clock: null, clockAt: 0, bot: null};

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// Telegram's HTML: these tags only; everything else becomes its text.
const TAGS = new Set(["B", "STRONG", "I", "EM", "U", "INS", "S", "STRIKE", "DEL", "A", "CODE",
  "PRE", "BLOCKQUOTE", "TG-SPOILER", "SPAN", "BR"]);

function safeHtml(html) {
  const source = new DOMParser().parseFromString(`<div>${html.replace(/\n/g, "<br>")}</div>`,
    "text/html").body.firstChild;
  const copy = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.textContent);
    if (node.nodeType !== Node.ELEMENT_NODE) return document.createTextNode("");
    const out = TAGS.has(node.tagName) ? document.createElement(node.tagName) : document.createDocumentFragment();
    if (node.tagName === "A" && /^(https?:|tg:)/.test(node.getAttribute("href") || "")) {
      out.setAttribute("href", node.getAttribute("href"));
      out.setAttribute("target", "_blank");
      out.setAttribute("rel", "noopener");
      out.addEventListener("click", (event) => {
        if (startPayload(out.href) === null) return;
        event.preventDefault();
        openLink(out.href);
      });
    }
    if (node.tagName === "TG-SPOILER" || (node.tagName === "SPAN" && node.classList.contains("tg-spoiler"))) {
      out.className = "spoiler";
    }
    for (const child of node.childNodes) out.append(copy(child));
    return out;
  };
  const fragment = document.createDocumentFragment();
  for (const child of source.childNodes) fragment.append(copy(child));
  return fragment;
}

// -- links to the bot ---------------------------------------------------------------------------

// The payload of a deep link to this bot (t.me/<bot>?start=<payload>, or tg://resolve), else null:
// Telegram opens the bot's chat and sends "/start <payload>" for the user.
function startPayload(href) {
  let url;
  try { url = new URL(href); } catch { return null; }
  const bot = state.bot ? state.bot.username.toLowerCase() : "";
  const web = ["https:", "http:"].includes(url.protocol) && ["t.me", "telegram.me"].includes(url.hostname);
  const username = web ? url.pathname.replace(/^\/|\/$/g, "")
    : url.protocol === "tg:" && url.hostname === "resolve" ? url.searchParams.get("domain") || "" : "";
  const payload = url.searchParams.get("start");
  if (!bot || username.toLowerCase() !== bot || payload === null) return null;
  return /^[A-Za-z0-9_-]{1,64}$/.test(payload) ? payload : null;
}

// Follow a link as the person on the page: one to this bot opens his chat with it and starts it.
async function openLink(href) {
  const payload = startPayload(href);
  if (payload === null) { window.open(href, "_blank", "noopener"); return; }
  if (!state.current) { toast(T.pickFirst); return; }
  $("app").className = "in-chat";
  await send(`/start ${payload}`);
}

// Someone the demo does not know yet (a new rep with an invite): a name and a Telegram language.
async function addPerson(event) {
  event.preventDefault();
  const form = $("new-person");
  const data = new FormData(form);
  try {
    const person = await api("/api/people", {name: data.get("name"), lang: data.get("lang")});
    state.people.push(person);
    form.reset();
    form.hidden = true;
    await choose(person);
  } catch (error) {
    toast(`${T.failed}: ${error.message}`);
  }
}

// -- people -----------------------------------------------------------------------------------

function renderPeople() {
  const list = $("people-list");
  list.replaceChildren();
  for (const person of state.people) {
    const unread = state.unread[person.id] || 0;
    const item = el("li", {
      class: `person${state.current && state.current.id === person.id ? " active" : ""}`,
      "data-id": person.id, onclick: () => choose(person),
    },
    el("span", {class: "avatar"}, person.name[0]),
    el("span", {class: "name"}, person.name,
      el("small", {}, person.company || (person.ext ? `ext ${person.ext}` : ""))),
    el("span", {class: `role role-${person.role}`}, T.roles[person.role]));
    if (unread) item.append(el("span", {class: "badge"}, String(unread)));
    list.append(item);
  }
}

async function choose(person) {
  state.current = person;
  state.unread[person.id] = 0;
  $("app").className = "in-chat";
  $("chat-title").textContent = person.name;
  $("chat-status").textContent = `${T.roles[person.role]} · ${person.lang}`;
  $("phone-toggle").hidden = !person.ext;
  $("phone").hidden = true;
  renderPhone(person);
  renderPeople();
  $("messages").replaceChildren();
  await loadChat();
  $("text").focus();
}

// -- the chat ---------------------------------------------------------------------------------

async function loadChat() {
  const person = state.current;
  if (!person) return;
  const chat = await api(`/api/chat/${person.id}`);
  if (state.current !== person) return;
  refreshPerson(person, chat.person);
  renderMessages(chat.messages);
  renderKeyboard(chat.keyboard);
  renderCommands(chat.commands);
  const menu = chat.menu_button;
  const appMenu = $("app-menu");
  appMenu.hidden = !(menu && menu.type === "web_app");
  if (!appMenu.hidden) {
    appMenu.textContent = menu.text;
    appMenu.onclick = () => openWebApp(menu.web_app.url, menu.text);
  }
}

// Someone added on the page is "new" until the bot knows him: then his label is what he became.
function refreshPerson(person, known) {
  if (known.role === person.role && known.ext === person.ext) return;
  Object.assign(person, known);
  $("chat-status").textContent = `${T.roles[person.role]} · ${person.lang}`;
  $("phone-toggle").hidden = !person.ext;
  renderPhone(person);
  renderPeople();
}

// A Mini App opens in a panel over the chat, with the initData Telegram would give it.
async function openWebApp(url, title) {
  const opened = await api(`/api/chat/${state.current.id}/webapp`, {url});
  $("webapp-title").textContent = title;
  $("webapp-frame").src = opened.url;
  $("webapp").hidden = false;
}

function renderMessages(messages) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const keep = new Set(messages.map((m) => `m-${m.id}`));
  for (const node of [...box.children]) if (!keep.has(node.id)) node.remove();
  let previous = null;
  let added = false;
  for (const message of messages) {
    const id = `m-${message.id}`;
    const signature = JSON.stringify(message);
    let node = document.getElementById(id);
    if (!node || node.dataset.signature !== signature) {
      const fresh = renderMessage(message);
      fresh.dataset.signature = signature;
      if (node) node.replaceWith(fresh); else added = true;
      node = fresh;
    }
    if (previous ? previous.nextSibling !== node : box.firstChild !== node) {
      if (previous) previous.after(node); else box.prepend(node);
    }
    previous = node;
  }
  if (atBottom || added) box.scrollTop = box.scrollHeight;
}

function renderMessage(message) {
  const bubble = el("div", {class: "bubble"});
  if (message.photo) {
    bubble.append(el("img", {class: "photo", src: `/api/file/${encodeURIComponent(message.photo)}`, alt: ""}));
  }
  if (message.document) {
    const href = `/api/file/${encodeURIComponent(message.document.file_id)}?name=${encodeURIComponent(message.document.name)}`;
    bubble.append(el("a", {class: "document", href, download: message.document.name},
      el("span", {class: "doc-icon"}, "\u{1F4C4}"), `${message.document.name}`));
  }
  if (message.contact) {
    bubble.append(el("div", {class: "contact"}, `\u{1F464} ${T.contact}: ${message.contact.name} ${message.contact.phone}`));
  }
  const text = el("div", {class: "text"});
  if (message.html) text.append(safeHtml(message.html)); else text.textContent = message.text;
  if (message.text || message.html) bubble.append(text);
  const time = new Date(message.date * 1000).toLocaleTimeString(LANG, {hour: "2-digit", minute: "2-digit"});
  bubble.append(el("div", {class: "meta"}, message.edited ? `${T.edited} ${time}` : time));
  const wrap = el("div", {id: `m-${message.id}`, class: `message ${message.out ? "mine" : "bot"}`}, bubble);
  if (message.buttons.length) {
    const keyboard = el("div", {class: "inline-keyboard"});
    for (const row of message.buttons) {
      const line = el("div", {class: "row"});
      for (const button of row) {
        line.append(el("button", {
          class: "inline", type: "button",
          onclick: () => button.web_app ? openWebApp(button.web_app, button.text)
            : button.url ? openLink(button.url) : press(message.id, button.data),
        }, button.text));
      }
      keyboard.append(line);
    }
    wrap.append(keyboard);
  }
  return wrap;
}

function renderKeyboard(markup) {
  const box = $("reply-keyboard");
  box.replaceChildren();
  if (!markup || !markup.keyboard) return;
  for (const row of markup.keyboard) {
    const line = el("div", {class: "row"});
    for (const raw of row) {
      const button = typeof raw === "string" ? {text: raw} : raw;
      line.append(el("button", {
        type: "button", class: "reply",
        onclick: () => button.request_contact ? shareContact() : send(button.text),
      }, button.text));
    }
    box.append(line);
  }
}

function renderCommands(commands) {
  const list = $("commands");
  list.replaceChildren();
  $("menu").hidden = !commands.length;
  for (const command of commands) {
    list.append(el("li", {onclick: () => { list.hidden = true; send(`/${command.command}`); }},
      el("b", {}, `/${command.command}`), " ", command.description));
  }
}

async function send(text) {
  if (!state.current || !text.trim()) return;
  await api(`/api/chat/${state.current.id}/send`, {text});
}

async function press(messageId, data) {
  await api(`/api/chat/${state.current.id}/press`, {message_id: messageId, data});
}

async function shareContact() {
  await api(`/api/chat/${state.current.id}/contact`, {});
}

// -- answers, typing, the clock -----------------------------------------------------------------

function toast(text) {
  const node = el("div", {class: "toast"}, text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 3500);
}

function alertBox(text) {
  $("alert-text").textContent = text;
  $("alert").hidden = false;
}

let typingTimer = null;
function typing() {
  $("chat-status").textContent = T.typing;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => {
    const person = state.current;
    if (person) $("chat-status").textContent = `${T.roles[person.role]} · ${person.lang}`;
  }, 5000);
}

function setClock(clock) {
  state.clock = clock;
  state.clockAt = Date.now();
  const select = $("speed");
  if (!select.options.length) {
    for (const speed of clock.speeds) select.append(el("option", {value: String(speed)}, T.speeds[speed] || `${speed}x`));
  }
  select.value = String(clock.speed);
}

function tick() {
  if (!state.clock) return;
  const now = new Date(Date.parse(state.clock.now) + (Date.now() - state.clockAt) * state.clock.speed);
  $("now").textContent = `${T.now}: ${now.toLocaleString(LANG, {weekday: "short", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "Europe/Moscow"})}`;
}

// -- the phone --------------------------------------------------------------------------------

function select(name, options) {
  return el("select", {name}, ...options.map(([value, label]) => el("option", {value}, label)));
}

function renderPhone(person) {
  const panel = $("phone");
  panel.replaceChildren();
  if (!person.ext) return;
  const numbers = state.numbers.map((n) => [n.phone, `${n.name} · ${n.phone}`]);
  const outbound = el("form", {class: "phone-form", "data-direction": "out"},
    el("b", {}, `${T.phone} · ext ${person.ext}`),
    el("label", {}, T.number, select("number", numbers)),
    el("label", {}, T.outcome, select("outcome", Object.entries(T.outcomes))),
    el("label", {}, T.talk, el("input", {name: "talk", type: "number", min: "1", max: "50", value: "30"})),
    el("button", {type: "submit", class: "dial"}, T.dial));
  const inbound = el("form", {class: "phone-form", "data-direction": "in"},
    el("b", {}, T.incoming),
    el("label", {}, T.number, select("number", numbers)),
    el("label", {}, T.outcome, select("outcome", Object.entries(T.inOutcomes))),
    el("button", {type: "submit", class: "dial"}, T.dial));
  for (const form of [outbound, inbound]) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        await api("/api/phone", {
          agent: person.id, number: data.get("number"), outcome: data.get("outcome"),
          talk: Number(data.get("talk") || 30), direction: form.dataset.direction,
        });
        toast(T.sent);
      } catch (error) {
        toast(`${T.failed}: ${error.message}`);
      }
    });
  }
  panel.append(outbound, inbound);
}

// -- start ------------------------------------------------------------------------------------

function listen() {
  const events = new EventSource("/api/events");
  events.onmessage = (message) => {
    const event = JSON.parse(message.data);
    const mine = state.current && event.chat === state.current.id;
    if (event.type === "chat") {
      if (mine) loadChat();
      else if (state.people.some((p) => p.id === event.chat)) {
        state.unread[event.chat] = (state.unread[event.chat] || 0) + 1;
        renderPeople();
      }
    } else if (event.type === "typing" && mine) typing();
    else if (event.type === "answer" && mine) (event.alert ? alertBox : toast)(event.text);
    else if (event.type === "clock") setClock(event);
  };
}

async function start() {
  document.documentElement.lang = LANG;
  $("speed-label").textContent = T.clock;
  $("text").placeholder = T.placeholder;
  $("menu").textContent = T.menu;
  $("phone-toggle").textContent = T.phone;
  $("add-person").title = T.addPerson;
  $("add-person").setAttribute("aria-label", T.addPerson);
  $("new-name").placeholder = T.newName;
  $("new-submit").textContent = T.add;
  $("messages").append(el("p", {class: "hint"}, T.pick));
  const data = await api("/api/state");
  state.people = data.people;
  state.numbers = data.numbers;
  state.bot = data.bot;
  setClock(data.clock);
  renderPeople();
  listen();
  setInterval(tick, 1000);
  tick();
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value;
    input.value = "";
    if (startPayload(text.trim()) !== null) await openLink(text.trim());  // a pasted invite
    else await send(text);
  });
  $("add-person").addEventListener("click", () => {
    $("new-person").hidden = !$("new-person").hidden;
    if (!$("new-person").hidden) $("new-name").focus();
  });
  $("new-person").addEventListener("submit", addPerson);
  $("menu").addEventListener("click", () => { $("commands").hidden = !$("commands").hidden; });
  $("back").addEventListener("click", () => { $("app").className = "no-chat"; });
  $("phone-toggle").addEventListener("click", () => { $("phone").hidden = !$("phone").hidden; });
  $("alert-ok").addEventListener("click", () => { $("alert").hidden = true; });
  $("webapp-close").addEventListener("click", () => { $("webapp").hidden = true; $("webapp-frame").src = "about:blank"; });
  $("speed").addEventListener("change", async (event) => setClock(await api("/api/clock", {speed: Number(event.target.value)})));
}

start();
