// Drag and drop of the board's cards with pointer events: a mouse drags after a few pixels, a
// finger after a long press (a quick swipe scrolls the board as usual). While a card is held the
// page does not scroll, Telegram's swipe-down-to-close is off, and near the screen's side the
// board scrolls so a phone reaches columns out of sight. Drop targets are .column and .drop
// elements with data-stage.
"use strict";

const LONG_PRESS_MS = 400;

// draggable(node, {idle, tap, drop}): idle() says a drag may start; tap() is a press without a
// drag; drop(stage) is a drop on a target.
function draggable(node, on) {
  node.addEventListener("contextmenu", (ev) => ev.preventDefault()); // a long press drags
  node.addEventListener("pointerdown", (down) => {
    if (down.button !== 0 || !on.idle()) return;
    const touch = down.pointerType !== "mouse";
    let drag = null;
    let timer = null;
    const start = () => {
      drag = startDrag(node, down, on.drop);
      if (touch && navigator.vibrate) navigator.vibrate(10);
    };
    if (touch) timer = setTimeout(start, LONG_PRESS_MS);
    const move = (ev) => {
      if (!drag) {
        const far = Math.hypot(ev.clientX - down.clientX, ev.clientY - down.clientY) > 6;
        if (far && touch) { cleanup(); return; } // a scroll, not a long press
        if (far) start(); else return;
      }
      drag.follow(ev);
    };
    const up = (ev) => {
      cleanup();
      if (drag) drag.drop(ev);
      else if (ev.type === "pointerup") on.tap();
    };
    const cleanup = () => {
      clearTimeout(timer);
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      window.removeEventListener("pointercancel", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
    window.addEventListener("pointercancel", up);
  });
}

const holdStill = (ev) => ev.preventDefault();

function swipes(on) {
  const app = window.Telegram && window.Telegram.WebApp;
  const call = app && (on ? app.enableVerticalSwipes : app.disableVerticalSwipes);
  if (call) call.call(app);
}

function startDrag(node, at, dropped) {
  const ghost = node.cloneNode(true);
  ghost.classList.add("ghost");
  document.body.append(ghost);
  node.classList.add("held");
  swipes(false);
  document.addEventListener("touchmove", holdStill, { passive: false });
  const board = document.getElementById("board");
  let over = null;
  const target = (ev) => {
    const hit = document.elementFromPoint(ev.clientX, ev.clientY);
    return hit && hit.closest(".column, .drop");
  };
  let last = at;
  const edge = setInterval(() => {
    const step = last.clientX > innerWidth - 32 ? 12 : last.clientX < 32 ? -12 : 0;
    if (step) { board.scrollLeft += step; follow(last); }
  }, 16);
  const follow = (ev) => {
    last = { clientX: ev.clientX, clientY: ev.clientY };
    ghost.style.left = ev.clientX - 40 + "px";
    ghost.style.top = ev.clientY - 20 + "px";
    const now = target(ev);
    if (now !== over) {
      if (over) over.classList.remove("over");
      if (now) now.classList.add("over");
      over = now;
    }
  };
  follow(at);
  return {
    follow,
    drop(ev) {
      const to = ev.type === "pointerup" ? target(ev) : null;
      clearInterval(edge);
      if (over) over.classList.remove("over");
      ghost.remove();
      node.classList.remove("held");
      document.removeEventListener("touchmove", holdStill);
      swipes(true);
      if (to) dropped(to.dataset.stage);
    },
  };
}
