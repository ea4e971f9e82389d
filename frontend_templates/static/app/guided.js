// Guided labeling pages: every tile of a similarity page starts selected; clicking a tile
// deselects (or reselects) it, and "Label selected" sends the checked ones as one event.
"use strict";

(() => {
  const formOf = (el) => el.closest("#label-form");

  function refreshCount(form) {
    if (!form) return;
    const count = form.querySelectorAll('input[name="selected"]:checked').length;
    form.querySelectorAll(".selected-count").forEach((el) => { el.textContent = String(count); });
    const button = form.querySelector("#label-batch");
    if (button) button.disabled = count === 0;
  }

  function setTile(tile, on) {
    const box = tile.querySelector('input[name="selected"]');
    if (!box) return;
    box.checked = on;
    tile.classList.toggle("selected", on);
  }

  document.addEventListener("click", (event) => {
    const picker = event.target.closest("[data-select]");
    if (picker && formOf(picker)) {
      const form = formOf(picker);
      form.querySelectorAll(".guided-tile").forEach((t) => setTile(t, picker.dataset.select === "all"));
      refreshCount(form);
      return;
    }
    if (event.target.closest("a")) return; // the "open" link still opens the item
    const tile = event.target.closest(".guided-tile");
    if (!tile || !formOf(tile)) return;
    setTile(tile, !tile.classList.contains("selected"));
    refreshCount(formOf(tile));
  });

  const init = () => refreshCount(document.getElementById("label-form"));
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", init);
  if (document.readyState !== "loading") init();
})();
