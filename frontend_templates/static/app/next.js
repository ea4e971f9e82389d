// Next actions, "label one by one": click an item to make it the current one (or start on the
// first unlabeled), press a class's key to label it; the current item then moves to the next
// unlabeled one. The class buttons under each item do the same with the mouse.
"use strict";

(() => {
  const tiles = () => Array.from(document.querySelectorAll(".todo-tile"));
  let current = null;

  function setCurrent(tile) {
    tiles().forEach((t) => t.classList.toggle("current", t === tile));
    current = tile;
  }

  function firstOpen(after) {
    const all = tiles();
    const start = after ? all.findIndex((t) => t.dataset.id === after) + 1 : 0;
    return all.slice(start).find((t) => !t.classList.contains("done")) || null;
  }

  let answered = null; // the item whose class button was pressed last: the next one follows it

  document.addEventListener("click", (event) => {
    const pressed = event.target.closest(".todo-tile button");
    if (pressed) answered = pressed.closest(".todo-tile").dataset.id;
    if (event.target.closest("button, a")) return;
    const tile = event.target.closest(".todo-tile");
    if (tile) setCurrent(tile);
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (labelwise.typingIn(event.target)) return;
    const tile = current && document.contains(current) ? current : firstOpen(null);
    if (!tile) return;
    const button = tile.querySelector(`[data-hotkey="${CSS.escape(event.key)}"]`);
    if (!button) return;
    event.preventDefault();
    button.click();
  });

  document.addEventListener("htmx:afterSettle", () => {
    if (answered === null) return;
    setCurrent(firstOpen(answered) || firstOpen(null));
    answered = null;
  });

  const init = () => { if (!current) setCurrent(firstOpen(null)); };
  document.addEventListener("DOMContentLoaded", init);
  if (document.readyState !== "loading") init();
})();
