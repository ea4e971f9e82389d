// Guided labeling pages: every tile of a similarity page starts selected; clicking a tile
// deselects (or reselects) it, Shift-click gives every tile from the last one clicked up to this
// one that tile's state (keep the top of a ranking: click the first outlier, Shift-click the
// last tile), and "Label selected" sends the checked ones as one event.
//
// Only a tile clicked out on its own says "this item is not the class" (a rejection, decision
// 0015): those go in the form's hand_deselected field. Tiles left out in bulk ("f" on the flagged
// ones, "Select none", a Shift-click range dropping a tail) are left out of the batch, no more.
//
// What the person chose on a batch (the tiles left out, which of them by hand, the similarity
// page's class, "leave the flagged items out") is kept per batch in this tab's sessionStorage and
// put back on the batch drawn again: Back to the page (loaded again, or repainted from the back-
// forward cache) and a reload drew every tile selected, and one more click labeled the outliers
// the person had taken out. A batch applied forgets it.
"use strict";

(() => {
  // A probability page's gallery works the same way: its tiles start selected and the deselected
  // ones are left out of the batch (and out of that class's later batches).
  const formOf = (el) => el.closest("#label-form, #probability-gallery");

  function refreshCount(form) {
    if (!form) return;
    const hand = form.querySelector('input[name="hand_deselected"]');
    if (hand) {
      hand.value = Array.from(form.querySelectorAll(".guided-tile[data-hand-out]"))
        .filter((t) => { const box = t.querySelector('input[name="selected"]'); return box && !box.checked; })
        .map((t) => t.dataset.id)
        .join(",");
    }
    const count = form.querySelectorAll('input[name="selected"]:checked').length;
    form.querySelectorAll(".selected-count").forEach((el) => { el.textContent = String(count); });
    const button = form.querySelector("#label-batch");
    if (button) button.disabled = count === 0;
  }

  // A probability page's button and confirmation name the items that will really be labeled: the
  // batch less the tiles deselected, less the flagged items where they are left out (a deselected
  // flagged tile only once), and the wrong labels expected of them at the page's precision.
  function refreshApply() {
    const form = document.getElementById("apply-form");
    const gallery = document.getElementById("probability-gallery");
    if (!form || !gallery) return;
    const total = Number(form.dataset.count);
    const flaggedOut = !!form.querySelector("[data-flag-toggle]:checked");
    const deselected = Array.from(gallery.querySelectorAll(".guided-tile")).filter((t) => {
      const box = t.querySelector('input[name="selected"]');
      return box && !box.checked && !(flaggedOut && t.classList.contains("flagged"));
    }).length;
    const count = total - deselected - (flaggedOut ? Number(form.dataset.flagged) : 0);
    document.querySelectorAll("#results .apply-count").forEach((el) => { el.textContent = String(count); });
    if (form.dataset.precision !== undefined) {
      // the whole batch keeps the server's figure (its rounding); a smaller one scales with it
      const scaled = String(Math.round(count * (1 - Number(form.dataset.precision))));
      const wrong = count === total ? form.dataset.wrong : scaled;
      document.querySelectorAll("#results .apply-wrong").forEach((el) => { el.textContent = wrong; });
      document.querySelectorAll("#results .apply-wrong-noun").forEach((el) => {
        el.textContent = wrong === "1" ? "label" : "labels";
      });
    }
    const confirm = form.querySelector("#confirm-batch");
    if (confirm) {
      const needed = count > Number(form.dataset.confirmOver); // the server asks for it then only
      confirm.hidden = !needed;
      confirm.querySelector('input[name="confirm"]').required = needed;
    }
    const button = form.querySelector("#apply");
    if (button) button.disabled = count <= 0;
  }

  // byHand: the tile itself was clicked out (one at a time), not a bulk deselect
  function setTile(tile, on, byHand = false) {
    const box = tile.querySelector('input[name="selected"]');
    if (!box) return;
    box.checked = on;
    tile.classList.toggle("selected", on);
    if (on) delete tile.dataset.handOut;
    else if (byHand) tile.dataset.handOut = "1";
  }

  // ---- the selection kept per batch --------------------------------------------------------------

  // The batch's results: the similarity or probability page's, a Next actions batch's.
  const currentResults = () => document.querySelector("#guided-app [data-repaint], #next-app [data-repaint]");

  // Which batch: the view the results show (their data-repaint: query items, model, mode, page,
  // done; model, class, threshold, page; the suggestion's key) and the class the address opened
  // the page for. Not the similarity page's class picked on the page (kept in the state and put
  // back) nor the probability page's "confirm batches over", which change no tile.
  function batchKey(results) {
    if (!results || !results.dataset.repaint || !results.querySelector(".guided-tile")) return null;
    const view = new URL(results.dataset.repaint, window.location.href);
    view.searchParams.delete("label_id");
    view.searchParams.delete("confirm_over");
    const opened = new URL(window.location.href).searchParams.get("label_id");
    if (opened) view.searchParams.set("label_id", opened);
    view.searchParams.sort();
    return `labelwise:batch:${view.pathname}?${view.searchParams}`;
  }

  // the tiles left out (by hand: clicked out one at a time), the class picked, the flagged left out
  function stateOf(results) {
    const out = Array.from(results.querySelectorAll(".guided-tile:not(.selected)"));
    const picked = results.querySelector('#label-form select[name="label_id"]');
    return {
      out: out.map((t) => t.dataset.id),
      hand: out.filter((t) => t.dataset.handOut).map((t) => t.dataset.id),
      label: picked ? picked.value : "",
      flaggedOut: !!results.querySelector("[data-flag-toggle]:checked"),
    };
  }

  function keep(results = currentResults()) {
    const key = batchKey(results);
    if (key) labelwise.keep(key, stateOf(results));
  }

  // The batch's tiles as the person left them (``state``, else what was kept for it). A tile the
  // batch no longer holds (labeled meanwhile, out of its ranking) is dropped from what is kept.
  function putBack(results, state = labelwise.kept(batchKey(results))) {
    if (!results || !state) return;
    const tiles = new Map(Array.from(results.querySelectorAll(".guided-tile"), (t) => [t.dataset.id, t]));
    const hand = new Set(state.hand || []);
    let gone = false;
    for (const id of state.out || []) {
      const tile = tiles.get(id);
      if (!tile) { gone = true; continue; }
      setTile(tile, false);
      if (hand.has(id)) tile.dataset.handOut = "1";
      else delete tile.dataset.handOut;
    }
    const toggle = results.querySelector("[data-flag-toggle]");
    if (toggle && state.flaggedOut) toggle.checked = true;
    if (gone) keep(results);
    const picked = results.querySelector('#label-form select[name="label_id"]');
    const known = picked && state.label && Array.from(picked.options).some((o) => o.value === state.label);
    if (known) picked.value = state.label; // its flags follow (init)
  }

  // The class the similarity page's flags are drawn for: the one asked for last (htmx:beforeRequest
  // below), else the one the server drew the page with (its option marked selected; none marked:
  // no class, whatever option the dropdown shows).
  function flagsClass(picked) {
    if (picked.dataset.flagsFor !== undefined) return picked.dataset.flagsFor;
    const drawn = Array.from(picked.options).find((o) => o.defaultSelected);
    return drawn ? drawn.value : "";
  }

  // The flags shown are those of the class the dropdown shows: a class put back (from what was
  // kept, or by the browser) other than the one they were drawn for has its flags asked for. Asked
  // through htmx.ajax, not a change event: on a page loaded again this runs before htmx has set up
  // the page (a change event then went unheard, and the flags of the class drawn stayed).
  function flagsFollow(results) {
    const picked = results && results.querySelector('#label-form select[name="label_id"][hx-get]');
    if (!picked || picked.value === flagsClass(picked)) return;
    picked.dataset.flagsFor = picked.value;
    htmx.ajax("GET", picked.getAttribute("hx-get"), { source: picked, swap: "none" });
  }

  let anchor = null; // the last tile clicked without Shift: one end of a Shift-click range

  document.addEventListener("click", (event) => {
    const picker = event.target.closest("[data-select]");
    if (picker && formOf(picker)) {
      const form = formOf(picker);
      form.querySelectorAll(".guided-tile").forEach((t) => setTile(t, picker.dataset.select === "all"));
      refreshCount(form);
      refreshApply();
      keep();
      return;
    }
    if (event.target.closest("a")) return; // the "open" link still opens the item
    const tile = event.target.closest(".guided-tile");
    if (!tile || !formOf(tile)) return;
    const form = formOf(tile);
    const tiles = Array.from(form.querySelectorAll(".guided-tile"));
    if (event.shiftKey && anchor && anchor !== tile && tiles.includes(anchor)) {
      const [a, b] = [tiles.indexOf(anchor), tiles.indexOf(tile)].sort((x, y) => x - y);
      const on = anchor.classList.contains("selected");
      tiles.slice(a, b + 1).forEach((t) => setTile(t, on));
      window.getSelection()?.removeAllRanges(); // Shift-click also selects page text
    } else {
      setTile(tile, !tile.classList.contains("selected"), true);
      anchor = tile;
    }
    refreshCount(form);
    refreshApply();
    keep();
  });

  // "f": leave the items the guardrails flagged out of the batch (the rule is shown above the
  // gallery): deselect them on a similarity page, tick "leave the flagged items out" on a
  // probability page.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "f" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (labelwise.typingIn(event.target)) return;
    const form = document.getElementById("label-form");
    if (form) {
      form.querySelectorAll(".guided-tile.flagged").forEach((t) => setTile(t, false));
      refreshCount(form);
    }
    const toggle = document.querySelector("[data-flag-toggle]");
    if (toggle) toggle.checked = true;
    refreshApply();
    if (form || toggle) event.preventDefault();
    keep();
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-flag-toggle]")) refreshApply();
    if (event.target.matches('[data-flag-toggle], #label-form select[name="label_id"]')) keep();
  });

  // A tile of another class in a batch: point at it (or focus it) and press that class's key.
  // The item is labeled with that class by hand (one manual event) and its tile comes back
  // deselected with the new label, so the batch leaves it out. A class key wins over "f" only
  // while a tile is pointed at.
  let pointed = null;
  document.addEventListener("pointerover", (event) => {
    pointed = event.target.closest ? event.target.closest("#label-form .guided-tile") : null;
  });
  // the pointer left the window: no tile is pointed at any more
  document.documentElement.addEventListener("pointerleave", () => { pointed = null; });

  function classKey(key) {
    return document.querySelector(`#class-keys .class-key[data-hotkey="${CSS.escape(key.toLowerCase())}"]`);
  }

  document.addEventListener("keydown", (event) => {
    if (event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) return;
    if (labelwise.typingIn(event.target)) return;
    const focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("#label-form .guided-tile") : null;
    const tile = focused || (pointed && document.contains(pointed) ? pointed : null);
    const cls = tile && classKey(event.key);
    const app = document.querySelector("[data-dataset]");
    if (!cls || !app) return;
    event.preventDefault();
    event.stopImmediatePropagation(); // not also "f" (flagged out) when a class has that key
    const score = tile.querySelector(".score");
    htmx.ajax("POST", `/datasets/${app.dataset.dataset}/next/label-item`, {
      source: app, // not the tile: its form's fields (the batch's class) must not go along
      target: `#${tile.id}`,
      swap: "outerHTML",
      values: { item_id: tile.dataset.id, label_id: cls.dataset.label, tile: "batch", score: score ? score.textContent : "" },
    }).then(() => keep(), () => keep()); // the tile comes back deselected
  }, true);

  // A class picked on a similarity page brings that class's flags (badges swapped out of band):
  // a tile is marked flagged where its badge slot holds one.
  document.addEventListener("htmx:oobAfterSwap", (event) => {
    const slot = event.target; // the new slot (the event's detail names the one it replaced)
    const tile = slot && slot.closest ? slot.closest(".guided-tile") : null;
    if (tile) tile.classList.toggle("flagged", !!tile.querySelector(".flag-slot [data-flagged]"));
  });

  const init = () => {
    putBack(currentResults());
    flagsFollow(currentResults());
    document.querySelectorAll("#label-form, #probability-gallery").forEach(refreshCount);
    refreshApply();
  };

  // What a request is sent for: a class's flags (their class, flagsClass), a batch (its key, taken
  // before the answer: it replaces the address, which names the class the page was opened for).
  const sentFor = new WeakMap();
  document.addEventListener("htmx:beforeRequest", (event) => {
    const from = event.detail.elt;
    if (!from || !from.matches) return;
    if (from.matches('#label-form select[name="label_id"]')) from.dataset.flagsFor = from.value;
    if (from.matches("#label-form, #apply-form")) sentFor.set(from, batchKey(from.closest("[data-repaint]")));
  });

  // A batch applied ("Label selected", "Label these", "Accept"; the answer says so: data-applied)
  // forgets what was kept for it: the batch drawn after it starts as the server draws it.
  document.addEventListener("htmx:afterSwap", (event) => {
    const from = event.detail.requestConfig && event.detail.requestConfig.elt; // what sent it
    if (!from || !from.matches || !from.matches("#label-form, #apply-form")) return;
    if (!document.querySelector("#guided-app [data-applied], #next-app [data-applied]")) return;
    const key = sentFor.get(from);
    if (key) labelwise.forget(key);
  });

  // Back to the page the back-forward cache kept as it was left: the results (similarity,
  // probability) or the Next actions queue or suggestion are asked for again, the view they show
  // (their data-repaint), so items labeled since are not offered as selectable and the counts a
  // batch confirms are those of now (an accepted suggestion's page says it is out of date). What
  // the person chose there stays: the class picked, the tiles left out (by hand or not), "leave
  // the flagged items out". A page loaded again (Back, a reload) puts it back from what was kept
  // (init).
  labelwise.onBack(async () => {
    const results = currentResults();
    if (!results) return;
    const url = new URL(results.dataset.repaint, window.location.href);
    const picked = results.querySelector('#label-form select[name="label_id"]');
    if (picked && picked.value) url.searchParams.set("label_id", picked.value);
    else if (picked) url.searchParams.delete("label_id");
    const left = stateOf(results);
    await labelwise.redraw(results, url.pathname + url.search);
    const now = document.getElementById(results.id);
    if (!now || now === results) return;
    putBack(now, left);
    keep(now);
    init();
  });
  // Back or Forward to another view of this page (one a pager or a filter pushed) loads that view
  // again instead of htmx's stored copy of it. The copy is the page when that view was left, the
  // view a batch was applied from kept under the address of before: its tiles showed the batch
  // sent (those labeled since selected), its checkboxes the server's first drawing (a copy keeps
  // the markup, not what was clicked: every tile left out of the batch ticked), and "Label
  // selected" before the repaint came back labeled the tiles the person had left out. A view
  // htmx has no copy of (more than ten views back) is loaded again too (labelwise.js).
  document.addEventListener("htmx:historyCacheHit", (event) => {
    event.preventDefault();
    window.location.reload();
  });
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", init);
  if (document.readyState !== "loading") init();
})();
