// Labelwise page helpers shared by every page. Page-specific code lives in its own file.
"use strict";

window.labelwise = {
  // A key pressed where the person types (a text, number or date field, a list, a text area) is
  // theirs, not a hotkey. A checkbox, radio button or button keeps the page's keys: after ticking
  // "then open the next item" the item view's class keys did nothing until a click elsewhere.
  typingIn(target) {
    const field = target && target.closest ? target.closest("input, select, textarea, [contenteditable]") : null;
    if (!field) return false;
    return !(field.matches("input") && ["checkbox", "radio", "button", "submit", "reset"].includes(field.type));
  },
  // Back to a page as it was left: the browser's back-forward cache keeps the page whole, and htmx
  // puts back its own copy of an earlier view (one whose address a filter or a pager pushed).
  // Either shows the labels, tiles and counts of when the page was left; a page where items are
  // labeled asks the server again (``repaint``). A page loaded again is drawn as it is now: those
  // pages answer with Cache-Control: no-store, and a view htmx kept no copy of is loaded again
  // (refreshOnHistoryMiss, below).
  onBack(repaint) {
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) repaint();
    });
    document.addEventListener("htmx:historyRestore", (event) => {
      if (!event.detail.cacheMiss) repaint();
    });
  },
  // The element drawn again from the server: its data-repaint names the view it shows (or ``url``).
  // The answer may be its partial or the whole page; the element of the same id is taken from it.
  // Settled at once: what the page puts back on it when the promise resolves is not undone.
  redraw(element, url = element.dataset.repaint) {
    return htmx.ajax("GET", url, {
      source: element,
      target: element,
      swap: "outerHTML settle:0ms",
      select: `#${element.id}`,
    });
  },
  // What a page keeps for this tab across Back and a reload (sessionStorage, as JSON): a guided
  // batch's tiles left out, the explorer's selection. Storage may be refused (a private window's
  // quota, a policy): nothing is kept then (``kept`` answers null) and the page works as before;
  // a value too large to keep drops the one of before (put back, it would be out of date).
  kept(key) {
    if (!key) return null;
    try { return JSON.parse(sessionStorage.getItem(key) || "null"); } catch (_) { return null; }
  },
  keep(key, value) {
    try { sessionStorage.setItem(key, JSON.stringify(value)); } catch (_) { labelwise.forget(key); }
  },
  // While the keyboard help is open it has the keys: "?" (toggleHelp) and Escape (the dialog's
  // own) close it, and no other key acts on the page behind it. Every keydown handler of a page
  // with the help asks this first: the item view's zoom keys zoomed the image under the help.
  helpHolds(event) {
    const help = document.getElementById("help");
    return Boolean(help && help.open && event.key !== "?");
  },
  // The keyboard help (the dialog #help of the label page and the item view): "?" opens and
  // closes it.
  toggleHelp() {
    const help = document.getElementById("help");
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  },
  forget(key) {
    if (!key) return;
    try { sessionStorage.removeItem(key); } catch (_) { /* nothing kept */ }
  },
};

// Back or Forward to a view htmx kept no copy of (it keeps the last ten; the label, review and
// guided pages push their views' addresses) loads that view again, as a reload. htmx's own way,
// the whole page fetched and put in the body, ran the page's script a second time beside the
// first, so every handler answered twice ("?" on the label page opened the keyboard map and closed
// it again; a tile clicked on a batch page was toggled twice).
if (window.htmx) htmx.config.refreshOnHistoryMiss = true;

// Error answers from HTMX requests show their message in the flash area instead of vanishing.
document.addEventListener("htmx:responseError", (event) => {
  const flash = document.getElementById("flash");
  if (!flash) return;
  const xhr = event.detail.xhr;
  let message = xhr.statusText || "request failed";
  try {
    const body = JSON.parse(xhr.responseText);
    message = (body.error && body.error.message) || body.detail || message;
  } catch (_) {
    if (xhr.responseText) {
      // Page errors come as plain text; strip markup if an HTML page slipped through. The text is
      // parsed into an inert document (never innerHTML on this page): it may carry class names or
      // a Tiled server's answer, and an <img onerror=...> in it must not load or run.
      const inert = new DOMParser().parseFromString(xhr.responseText, "text/html");
      message = (inert.body.textContent || "").trim().slice(0, 300) || message;
    }
  }
  if (xhr.status === 403 && /csrf/i.test(message)) {
    message = "This page is out of date (security token). Reload the page and try again.";
  }
  flash.textContent = message;
  flash.classList.add("bad");
});

// A form marked data-swap-invalid shows its refusal in place: a 400 page answer (its fields with
// their errors) is swapped in like a success, not only flashed (the model page's inference form).
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  const type = xhr.getResponseHeader("Content-Type") || "";
  const form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("[data-swap-invalid]");
  if (xhr.status === 400 && form && type.startsWith("text/html")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// The server cannot be reached at all: say so rather than doing nothing.
document.addEventListener("htmx:sendError", () => {
  const flash = document.getElementById("flash");
  if (flash) flash.textContent = "The server cannot be reached; nothing was changed. Try again.";
});

document.addEventListener("htmx:beforeRequest", () => {
  const flash = document.getElementById("flash");
  if (flash) flash.classList.remove("bad");
});

// Datasets page: "Add" in the folder browser puts the folder on the chosen list of the create form.
document.addEventListener("click", (event) => {
  const pick = event.target.closest("[data-pick-folder]");
  if (pick) {
    const chosen = document.getElementById("chosen");
    const path = pick.dataset.pickFolder;
    if (!chosen || [...chosen.querySelectorAll("input")].some((i) => i.value === path)) return;
    const row = document.createElement("li");
    const input = Object.assign(document.createElement("input"), { type: "hidden", name: "sources", value: path });
    const text = Object.assign(document.createElement("code"), { textContent: path });
    const drop = Object.assign(document.createElement("button"), { type: "button", textContent: "remove" });
    drop.className = "link";
    drop.addEventListener("click", () => row.remove());
    row.append(input, text, " ", drop);
    chosen.append(row);
    const name = document.getElementById("dataset-name");
    if (name && !name.value) name.value = path.split("/").filter(Boolean).pop() || "";
  }
});

// Tiled browser: "Add selected" puts each checked node on the chosen list through "Add" above.
document.addEventListener("click", (event) => {
  if (!event.target.closest("[data-pick-checked]")) return;
  const browser = document.getElementById("tiled-browser");
  if (!browser) return;
  for (const box of browser.querySelectorAll("input.tiled-pick:checked")) {
    const proxy = Object.assign(document.createElement("button"), { type: "button", hidden: true });
    proxy.dataset.pickFolder = box.value;
    browser.append(proxy);
    proxy.click();
    proxy.remove();
    box.checked = false;
  }
});

// A control marked data-autosubmit submits its form when changed (no inline on*= handlers: the
// Content-Security-Policy forbids inline script).
document.addEventListener("change", (event) => {
  const control = event.target.closest("[data-autosubmit]");
  if (control && control.form) control.form.submit();
});
