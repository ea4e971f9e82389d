// The item view: label this item by class button or hotkey (then open the next one in the gallery's
// order, or go back to the review it was opened from), undo and redo as on the label page, the
// keyboard help on "?", step with n / p (or the arrows), and read the raw value under the cursor.
"use strict";

(() => {
  const root = document.getElementById("item-view");
  if (!root) return;
  const itemId = root.dataset.item;
  const labelsBox = () => document.getElementById("item-labels");

  // What the key did to the item before, said on the next one it opened: the answer's flash line
  // was lost with the page, so a label (or "nothing recorded") went by unseen. Kept for that item only.
  const CARRIED = "labelwise.item-flash";
  const carried = labelwise.kept(CARRIED);
  labelwise.forget(CARRIED);
  if (carried && carried.to === itemId && carried.text) {
    const flash = document.getElementById("flash");
    if (flash) flash.textContent = carried.text;
  }

  async function label(labelId) {
    let op = labelId ? "set" : "clear";
    if (labelId && root.dataset.multi === "1") {
      const held = (labelsBox().dataset.labels || "").split(",").filter(Boolean);
      op = held.includes(String(labelId)) ? "remove" : "add";
    }
    const before = labelsBox().dataset.event;
    delete labelsBox().dataset.unchanged; // set again only by this answer
    // htmx sends the CSRF header and shows an error answer in the flash line.
    await htmx.ajax("POST", `/items/${itemId}/label`, {
      source: "#item-view",
      target: "#item-labels",
      swap: "outerHTML",
      values: { label: labelId || "", op },
    });
    // done: an event recorded, or none needed (the key asked for the labels the item has: the
    // answer says data-unchanged; the next item opens all the same)
    const box = labelsBox();
    const unchanged = box.dataset.unchanged === "1";
    const done = unchanged || (box.dataset.event && box.dataset.event !== before);
    if (!done) return;
    const advance = document.getElementById("advance");
    const next = document.getElementById("item-next");
    // opened from the review (data-return): back to it, its suspects as they are now
    const then = next ? next.href : root.dataset.return;
    if (advance && advance.checked && then) {
      const flash = document.getElementById("flash");
      const to = next ? new URL(next.href).pathname.split("/").pop() : null;
      if (to && flash && flash.textContent) labelwise.keep(CARRIED, { to, text: flash.textContent });
      window.location.href = then;
    }
    // staying on the item: its history gains the event just recorded
    else if (!unchanged) htmx.ajax("GET", `/items/${itemId}/history`, { target: "#item-history", swap: "outerHTML" });
  }

  // Ctrl+Z (redo: Ctrl+Shift+Z, Ctrl+Y) as on the label page: the person's last labeling in the
  // dataset, whichever item it was (the one labeled before this one opened, say). The answer is this
  // item's labels and the flash line saying what was undone; its history gains the undo.
  let undoing = Promise.resolve();
  function undoOrRedo(action) {
    undoing = undoing
      .then(() =>
        htmx.ajax("POST", `/items/${itemId}/${action}`, { source: "#item-view", target: "#item-labels", swap: "outerHTML" }),
      )
      .then(() => {
        if (labelsBox().dataset.unchanged !== "1") {
          return htmx.ajax("GET", `/items/${itemId}/history`, { target: "#item-history", swap: "outerHTML" });
        }
        return undefined;
      })
      .catch(() => {});
    return undoing;
  }

  function go(id) {
    const link = document.getElementById(id);
    if (link) window.location.href = link.href;
  }

  // Back to the item (from the next one it opened after a label, say): its labels (which the keys
  // add to or remove from) and its history as they are now.
  labelwise.onBack(() => {
    htmx.ajax("GET", `/items/${itemId}/labels`, { source: labelsBox(), target: labelsBox(), swap: "outerHTML" });
    const history = document.getElementById("item-history");
    htmx.ajax("GET", `/items/${itemId}/history`, { source: history, target: history, swap: "outerHTML" });
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".item-label-btn");
    const action = event.target.closest("#item-view [data-action]");
    if (button) label(button.dataset.label);
    else if (action && (action.dataset.action === "undo" || action.dataset.action === "redo")) {
      undoOrRedo(action.dataset.action);
    } else if (action && action.dataset.action === "help") labelwise.toggleHelp();
  });

  document.addEventListener("keydown", (event) => {
    if (labelwise.typingIn(event.target) || labelwise.helpHolds(event)) return;
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !event.altKey && (key.toLowerCase() === "z" || key.toLowerCase() === "y")) {
      event.preventDefault();
      undoOrRedo(key.toLowerCase() === "y" || event.shiftKey ? "redo" : "undo");
      return;
    }
    if (mod || event.altKey) return;
    if (key === "?") labelwise.toggleHelp();
    else if (key === "n" || key === "ArrowRight") go("item-next");
    else if (key === "p" || key === "ArrowLeft") go("item-prev");
    else if (key === "Delete" || key === "Backspace") {
      event.preventDefault();
      label("");
    } else if (key.length === 1) {
      const button = document.querySelector(`.item-label-btn[data-hotkey="${CSS.escape(key.toLowerCase())}"]`);
      if (button) {
        event.preventDefault();
        label(button.dataset.label);
      }
    }
  });

  // The raw value under the cursor: one request at a time, the latest position wins.
  const viewer = document.getElementById("viewer");
  const image = document.getElementById("viewer-image");
  const readout = document.getElementById("pixel-readout");
  if (!viewer || !image || !readout) return;
  let wanted = null;
  let busy = false;
  const format = (value) =>
    Array.isArray(value)
      ? value.map(format).join(", ")
      : typeof value === "string" || Number.isInteger(value) // "NaN", "Infinity": JSON has no such number
        ? String(value)
        : Number(value).toPrecision(6);

  async function pump() {
    if (busy || !wanted) return;
    const { x, y } = wanted;
    wanted = null;
    busy = true;
    try {
      const response = await fetch(`/items/${itemId}/pixel?x=${x}&y=${y}`, { credentials: "same-origin" });
      if (response.ok) {
        const body = await response.json();
        // a masked pixel (module gap, beam stop, dead or saturated) is left out of the statistics,
        // the histogram and the models: say so beside its value
        readout.textContent = `x ${body.x}, y ${body.y}: ${format(body.value)}${body.masked ? " (masked)" : ""}`;
        readout.dataset.x = String(body.x);
        readout.dataset.y = String(body.y);
      }
    } finally {
      busy = false;
      pump();
    }
  }

  viewer.addEventListener("pointermove", (event) => {
    const box = image.getBoundingClientRect();
    const width = Number(image.dataset.width) || image.naturalWidth;
    const height = Number(image.dataset.height) || image.naturalHeight;
    const fx = (event.clientX - box.left) / box.width;
    const fy = (event.clientY - box.top) / box.height;
    if (!(fx >= 0 && fy >= 0 && fx < 1 && fy < 1)) return;
    wanted = { x: Math.floor(fx * width), y: Math.floor(fy * height) };
    pump();
  });
})();
