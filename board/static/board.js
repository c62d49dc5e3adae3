// The pipeline board: columns of deal cards dragged between stages through the server's API.
// Every request carries Telegram's initData (Authorization: tma ...). Outside Telegram, or when
// telegram-web-app.js could not load, initData is read from the URL's #tgWebAppData as Telegram
// passes it.
"use strict";

const tg = window.Telegram && window.Telegram.WebApp;
const initData = (tg && tg.initData) ||
  new URLSearchParams(location.hash.slice(1)).get("tgWebAppData") || "";
const API = "api/";
const POLL_MS = 3000;

const TEXT = {
  en: {
    search: "Search: name, phone, #tag", filters: "Filters", overdue: "Overdue only",
    tag: "Tag", source: "Source", allReps: "All reps", more: "More", deals: "deals",
    when: "When is the next contact?", typeHint: "or type: tomorrow 3pm, in 2 hours",
    ok: "OK", cancel: "Cancel", accept: "Accept", reason: "Reason?",
    stale: "The card changed meanwhile: here it is as it is now",
    noWay: "No outcome leads there from this stage", notOffered: "Not offered at this stage",
    unreadable: "Could not read that time", past: "That time has passed",
    off_hours: "outside working hours", holiday: "a holiday", client_night: "night for the client",
    next_year: "that date has passed this year", refused: "Not your deal",
    moved: "This deal was given to another rep",
    note: "Note", giveTo: "Give to", contact: "Contact", timeline: "Timeline",
    attempt: "attempt", noted: "Note added", failed: "Could not reach the server",
  },
  ru: {
    search: "Поиск: имя, телефон, #тег", filters: "Фильтры", overdue: "Только просроченные",
    tag: "Тег", source: "Источник", allReps: "Все менеджеры", more: "Ещё", deals: "сделок",
    when: "Когда следующий контакт?", typeHint: "или напишите: завтра 15:00, через 2 часа",
    ok: "OK", cancel: "Отмена", accept: "Принять", reason: "Причина?",
    stale: "Карточку уже изменили: вот она сейчас",
    noWay: "С этого этапа туда не ведёт ни один исход", notOffered: "На этом этапе недоступно",
    unreadable: "Не понял время", past: "Это время уже прошло",
    off_hours: "вне рабочего времени", holiday: "выходной", client_night: "ночь у клиента",
    next_year: "эта дата в этом году прошла", refused: "Это не ваша сделка",
    moved: "Эту сделку передали другому менеджеру",
    note: "Заметка", giveTo: "Передать", contact: "Контакт", timeline: "История",
    attempt: "попытка", noted: "Заметка добавлена", failed: "Сервер недоступен",
  },
};

const state = { labels: null, version: "", stages: {}, busy: false, funnelTeam: null };
let t = TEXT.en;
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

async function api(method, path, body) {
  const response = await fetch(API + path, {
    method, headers: { "Authorization": "tma " + initData, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new Error("401");
  return { status: response.status, data: await response.json().catch(() => ({})) };
}

function query() {
  const params = new URLSearchParams();
  for (const id of ["q", "tag", "source", "rep", "team"]) {
    const v = $(id).value.trim();
    if (v) params.set(id, v);
  }
  if ($("overdue").checked) params.set("overdue", "1");
  return params.toString();
}

function money(minor) {
  return new Intl.NumberFormat(state.labels.lang, { maximumFractionDigits: 0 })
    .format(Math.round(minor / 100));
}

function when(iso) {
  return new Intl.DateTimeFormat(state.labels.lang, {
    timeZone: state.labels.zone, weekday: "short", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit",
  }).format(new Date(iso));
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3000);
}

// -- rendering ---------------------------------------------------------------------------

function cardNode(card) {
  const stage = state.stages[card.stage] || {};
  const next = card.kind ? (state.labels.kinds[card.kind] || card.kind) : "";
  const node = el("div", { class: "card", "data-deal": card.id, style: `--stage:${stage.color}` },
    el("div", { class: "client" }, card.client || card.title || "#" + card.id),
    card.company ? el("div", { class: "meta" }, card.company) : null,
    el("div", { class: "meta" }, money(card.amount) + (card.owner_name ? " · " + card.owner_name : "")),
    card.due ? el("div", { class: card.overdue ? "overdue" : "meta" },
      next + " · " + when(card.due) +
      (card.attempts ? ` · ${t.attempt} ${card.attempt}/${card.attempts}` : "")) : null,
    card.tags.length ? el("div", { class: "tags" }, ...card.tags.map((x) => el("span", {}, "#" + x))) : null,
  );
  node.card = card;
  draggable(node, {
    idle: () => !state.busy,
    tap: () => openDetail(card.id),
    drop: (stage) => { if (stage !== card.stage) moveCard(card, stage); },
  });
  return node;
}

function columnNode(column) {
  const stage = state.stages[column.stage];
  const cards = el("div", { class: "cards" }, ...column.cards.map(cardNode));
  const node = el("section", { class: "column", "data-stage": column.stage, style: `--stage:${stage.color}` },
    el("h2", {}, stage.name),
    el("div", { class: "totals" }, `${column.count} ${t.deals} · ${money(column.amount)}`),
    cards);
  if (column.more !== null) cards.append(moreButton(column.stage, column.more, cards));
  return node;
}

function moreButton(stage, after, cards) {
  const button = el("button", { class: "more", type: "button" }, t.more);
  button.addEventListener("click", async () => {
    button.disabled = true;
    const { data } = await api("GET", `column?stage=${stage}&after=${after}&${query()}`);
    button.remove();
    for (const card of data.cards) cards.append(cardNode(card));
    if (data.more !== null) cards.append(moreButton(stage, data.more, cards));
  });
  return button;
}

function renderFilters(labels) {
  const rep = $("rep");
  if (labels.reps.length && !rep.options.length) {
    rep.append(el("option", { value: "" }, t.allReps),
      ...labels.reps.map((r) => el("option", { value: String(r.id) }, r.name)));
    rep.hidden = false;
  }
  const team = $("team");
  if (labels.teams.length > 1 && !team.options.length) {
    team.append(...labels.teams.map((x) => el("option", { value: x }, x)));
    team.value = labels.me.team;
    team.hidden = false;
  }
}

async function renderFunnel() {
  if (state.labels.me.role === "rep") return;
  const { data } = await api("GET", "funnel?team=" + encodeURIComponent($("team").value));
  const box = $("funnel");
  box.replaceChildren(...(data.funnel || []).filter((s) => state.stages[s.stage]).map((s) =>
    el("div", { class: "step", style: `background:${state.stages[s.stage].color}` },
      state.stages[s.stage].name,
      el("b", {}, `${s.entered} · ${money(s.amount)}`),
      s.conversion === null ? null : `${Math.round(s.conversion * 100)}%`)));
  box.hidden = false;
}

async function load() {
  const { status, data } = await api("GET", "board?" + query());
  if (status !== 200) { toast(t.failed); return; }
  if (!state.labels) {
    state.labels = data.labels;
    t = TEXT[data.labels.lang] || TEXT.en;
    for (const s of data.labels.stages) state.stages[s.key] = s;
    translatePage();
    renderFilters(data.labels);
    $("drops").replaceChildren(...data.labels.stages.filter((s) => s.terminal && s.drop).map((s) =>
      el("div", { class: "drop", "data-stage": s.key, style: `--stage:${s.color}` }, s.name)));
  }
  state.version = data.version;
  $("board").replaceChildren(...data.columns.map(columnNode));
  // The funnel is a report over 30 days: read when the board opens and when the team changes,
  // not on every refresh.
  if (state.funnelTeam !== $("team").value) {
    state.funnelTeam = $("team").value;
    renderFunnel();
  }
}

function translatePage() {
  document.documentElement.lang = state.labels.lang;
  $("q").placeholder = t.search;
  $("tag").placeholder = t.tag;
  $("source").placeholder = t.source;
  $("filters-toggle").textContent = t.filters;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t[node.dataset.t];
}

// -- moves and presses: the server asks for what it needs (a time, a reason), as the chat does

async function moveCard(card, stage) {
  await act(`deal/${card.id}/move`, { task: card.task, version: card.version, to: stage });
}

async function act(path, body) {
  state.busy = true;
  try {
    const { status, data } = await api("POST", path, body);
    if (status === 403) { toast(data.status === "moved" ? t.moved : t.refused); return load(); }
    const again = (extra) => act(path, { ...body, ...extra, when: extra.when || null });
    switch (data.status) {
      case "done": closeSheet(); return load();
      case "note_added": toast(t.noted); return openDetail(data.card.id);
      case "needs_time": return askTime(data, again);
      case "offered_time": return offerTime(data, again);
      case "unreadable": toast(t[data.why] || t.unreadable); return askTime(data, again);
      case "needs_reason": return askReason(data, again);
      case "stale": closeSheet(); toast(t.stale); return load();
      case "no_way": toast(t.noWay); return load();
      default: toast(t.notOffered); return load();
    }
  } catch (e) {
    toast(t.failed);
  } finally {
    state.busy = false;
  }
}

function sheet(...children) {
  $("sheet-body").replaceChildren(...children,
    el("div", { class: "choices" }, el("button", { type: "button", onclick: closeSheet }, t.cancel)));
  $("sheet").hidden = false;
  if (tg && tg.BackButton) { tg.BackButton.show(); tg.BackButton.onClick(closeSheet); }
}

function closeSheet() {
  $("sheet").hidden = true;
  if (tg && tg.BackButton) { tg.BackButton.offClick(closeSheet); tg.BackButton.hide(); }
}

function typedRow(again) {
  const input = el("input", { type: "text", placeholder: t.typeHint, class: "typed-time" });
  const send = () => input.value.trim() && again({ typed: input.value.trim() });
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") send(); });
  return el("div", { class: "typed" }, input, el("button", { type: "button", class: "primary", onclick: send }, t.ok));
}

function askTime(data, again) {
  const slots = (data.slots || []).map((s) => el("button", {
    type: "button", class: "slot", onclick: () => again({ when: s.at }),
  }, `${when(s.at)} · ${s.tasks}`));
  sheet(el("h3", {}, t.when), el("div", { class: "choices" }, ...slots), typedRow(again));
}

function offerTime(data, again) {
  sheet(el("h3", {}, `${t[data.why] || ""} → ${when(data.offered)}`),
    el("div", { class: "choices" }, el("button", {
      type: "button", class: "primary accept", onclick: () => again({ when: data.offered }),
    }, t.accept)), typedRow(again));
}

function askReason(data, again) {
  sheet(el("h3", {}, t.reason), el("div", { class: "choices" }, ...data.reasons.map((r) =>
    el("button", { type: "button", onclick: () => again({ reason: r }) }, state.labels.reasons[r] || r))));
}

// -- the detail: contact, timeline, the stage's outcomes, reassign for a supervisor ----------

async function openDetail(dealId) {
  const { status, data } = await api("GET", `deal/${dealId}`);
  if (status !== 200) { toast(data.status === "moved" ? t.moved : t.refused); return; }
  const card = data.card;
  const body = { task: card.task, version: card.version };
  const buttons = data.buttons.filter((b) => b !== "note").map((b) => el("button", {
    type: "button", onclick: () => act(`deal/${dealId}/press`, { ...body, button: b }),
  }, state.labels.buttons[b] || b));
  const parts = [
    el("h3", {}, card.client || card.title),
    el("div", {}, [data.contact.company, ...data.contact.phones].filter(Boolean).join(" · ")),
    el("div", { class: "choices" }, ...buttons),
  ];
  if (data.buttons.includes("note")) {
    const note = el("input", { type: "text", placeholder: state.labels.buttons.note || t.note });
    parts.push(el("div", { class: "typed" }, note, el("button", {
      type: "button", onclick: () => note.value.trim() &&
        act(`deal/${dealId}/press`, { ...body, button: "note", note: note.value.trim() }),
    }, t.ok)));
  }
  if (data.reps.length) {
    const pick = el("select", {}, ...data.reps.map((r) => el("option", { value: String(r.id) }, r.name)));
    pick.value = String(card.owner);
    parts.push(el("div", { class: "typed" }, pick, el("button", {
      type: "button", onclick: () => act(`deal/${dealId}/give`, { version: card.version, rep: Number(pick.value) }),
    }, t.giveTo)));
  }
  parts.push(el("ul", { class: "timeline" }, ...data.timeline.map((e) => el("li", {},
    el("time", {}, when(e.at)), eventText(e)))));
  sheet(...parts);
}

function eventText(e) {
  const d = e.data || {};
  const stage = (key) => (state.stages[key] || {}).name || key;
  if (e.kind === "stage") return `${stage(d.from)} → ${stage(d.to)}`;
  if (e.kind === "outcome") return (state.labels.buttons[d.button] || d.button || "") + (e.text ? ": " + e.text : "");
  if (e.kind === "created") return "＋ " + stage(d.stage);
  return e.text || e.kind;
}

// -- start and live refresh ----------------------------------------------------------------

async function poll() {
  if (!state.busy && $("sheet").hidden) {
    try {
      const { data } = await api("GET", "changes?since=" + encodeURIComponent(state.version));
      if (data.changed) await load();
      else if (data.version) state.version = data.version;
    } catch (e) { /* the next poll tries again */ }
  }
  setTimeout(poll, POLL_MS);
}

function start() {
  if (tg) { tg.ready(); tg.expand(); }
  $("filters-toggle").addEventListener("click", () => {
    $("filters").hidden = !$("filters").hidden;
  });
  let typing = null;
  for (const id of ["q", "tag", "source"]) {
    $(id).addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(load, 400); });
  }
  for (const id of ["overdue", "rep", "team"]) $(id).addEventListener("change", load);
  $("sheet").addEventListener("click", (ev) => { if (ev.target.id === "sheet") closeSheet(); });
  load().catch(() => toast(t.failed)).then(() => setTimeout(poll, POLL_MS));
}

start();
