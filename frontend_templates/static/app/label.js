// The label page: selection (kept per dataset in sessionStorage, so paging never loses it),
// keyboard labeling, undo/redo, and the item view's zoom and pan. Requests go through htmx so the
// CSRF header on <body> and the out-of-band swaps of the answers apply.
"use strict";

(() => {
  const gallery = () => document.getElementById("gallery");
  const appRoot = () => document.getElementById("label-app");
  let selection = new Set();
  let anchor = null; // index on the page of the last plain or Ctrl click
  let queue = Promise.resolve();

  const datasetId = () => appRoot() && appRoot().dataset.dataset;
  const storeKey = () => `labelwise:selection:${datasetId()}`;
  const tiles = () => [...document.querySelectorAll("#gallery .tile")];

  // Through labelwise.kept/keep, which never throw: where the tab's storage is refused or full the
  // page works on, with a selection that paging keeps (it is the page's) but a reload does not.
  function loadSelection() {
    const kept = labelwise.kept(storeKey());
    selection = new Set(Array.isArray(kept) ? kept.map(Number) : []);
  }

  function saveSelection() {
    labelwise.keep(storeKey(), [...selection]);
  }

  function paint() {
    let onPage = 0;
    for (const tile of tiles()) {
      const on = selection.has(Number(tile.dataset.id));
      tile.classList.toggle("selected", on);
      tile.setAttribute("aria-selected", on ? "true" : "false");
      if (on) onPage += 1;
    }
    const except = document.getElementById("run-except-count");
    if (except) except.textContent = String(selection.size);
    const count = document.getElementById("selection-count");
    if (count) {
      const elsewhere = selection.size - onPage;
      count.textContent = `${selection.size} selected` + (elsewhere ? ` (${elsewhere} on other pages)` : "");
    }
    // "Find similar" starts from the selection (up to 1000 query items, the server's cap).
    const similar = document.getElementById("find-similar-link");
    if (similar) {
      const ids = [...selection].slice(0, 1000);
      similar.href = `/datasets/${datasetId()}/similar` + (ids.length ? `?items=${ids.join(",")}` : "");
      similar.textContent = ids.length ? `Find similar to ${ids.length} selected` : "Find similar";
    }
  }

  function flash(message) {
    const box = document.getElementById("flash");
    if (box) box.textContent = message;
  }

  // The view state and visible items go with every labeling request: the answer repaints them.
  function common() {
    const values = Object.fromEntries(new URLSearchParams(gallery().dataset.state));
    values.visible = tiles().map((t) => t.dataset.id).join(",");
    return values;
  }

  function post(action, values) {
    const started = performance.now();
    const url = `/datasets/${datasetId()}/label/${action}`;
    const body = Object.assign(common(), values);
    queue = queue
      .then(() => htmx.ajax("POST", url, { source: "#label-app", values: body, swap: "none" }))
      .then(() => {
        document.body.dataset.lastActionMs = String(Math.round(performance.now() - started));
      })
      .catch(() => {});
    return queue;
  }

  function labelsOf(id) {
    const marks = document.getElementById(`marks-${id}`);
    return marks && marks.dataset.labels ? marks.dataset.labels.split(",") : [];
  }

  function labelWith(labelId) {
    if (!selection.size) {
      flash("Select one or more items first: click, Ctrl+click, Shift+click, or press a for the page.");
      return;
    }
    const items = [...selection];
    let op = "set";
    if (appRoot().dataset.multi === "1") {
      // Several labels per item: the key toggles, removing the label only if every item has it.
      op = items.every((id) => labelsOf(id).includes(String(labelId))) ? "remove" : "add";
    }
    post("tag", { items: items.join(","), label: labelId, op });
    selection.clear();
    saveSelection();
    paint();
  }

  // "Label this run except the deselected": the whole run of the view, minus the selection.
  function labelRun(form) {
    const values = { label: form.elements.label.value, except: [...selection].join(",") };
    if (form.elements.overwrite.checked) values.overwrite = "1";
    post("run", values);
    selection.clear();
    saveSelection();
    paint();
  }

  function unlabel() {
    if (!selection.size) {
      flash("Select the items to unlabel first.");
      return;
    }
    post("tag", { items: [...selection].join(","), op: "clear" });
    selection.clear();
    saveSelection();
    paint();
  }

  function selectPage() {
    for (const tile of tiles()) selection.add(Number(tile.dataset.id));
    saveSelection();
    paint();
  }

  function clearSelection() {
    selection.clear();
    anchor = null;
    saveSelection();
    paint();
  }

  function goPage(rel) {
    const link = document.querySelector(`#gallery a[rel="${rel}"]`);
    if (link) link.click();
  }

  function onTileClick(event) {
    const tile = event.target.closest("#gallery .tile");
    if (!tile || event.target.closest("a")) return;
    event.preventDefault();
    const list = tiles();
    const index = list.indexOf(tile);
    const id = Number(tile.dataset.id);
    if (event.shiftKey && anchor !== null && anchor < list.length) {
      const [from, to] = anchor < index ? [anchor, index] : [index, anchor];
      if (!(event.ctrlKey || event.metaKey)) selection.clear();
      for (const t of list.slice(from, to + 1)) selection.add(Number(t.dataset.id));
    } else if (event.ctrlKey || event.metaKey) {
      if (selection.has(id)) selection.delete(id);
      else selection.add(id);
      anchor = index;
    } else {
      selection.clear();
      selection.add(id);
      anchor = index;
    }
    saveSelection();
    paint();
  }

  document.addEventListener("click", (event) => {
    if (!appRoot()) return;
    const action = event.target.closest("[data-action]");
    const label = event.target.closest("#labelbar .label-btn");
    if (label) labelWith(label.dataset.label);
    else if (action) {
      const name = action.dataset.action;
      if (name === "unlabel") unlabel();
      else if (name === "undo") post("undo", {});
      else if (name === "redo") post("redo", {});
      else if (name === "select-page") selectPage();
      else if (name === "clear") clearSelection();
      else if (name === "help") labelwise.toggleHelp();
    } else onTileClick(event);
  });

  document.addEventListener("dblclick", (event) => {
    const tile = event.target.closest("#gallery .tile");
    const open = tile && tile.querySelector("a.open");
    if (open) window.location.href = open.href;
  });

  document.addEventListener("keydown", (event) => {
    if (!appRoot()) return;
    if (labelwise.typingIn(event.target) || labelwise.helpHolds(event)) return;
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && key.toLowerCase() === "z") {
      event.preventDefault();
      post(event.shiftKey ? "redo" : "undo", {});
      return;
    }
    if (mod && key.toLowerCase() === "y") {
      event.preventDefault();
      post("redo", {});
      return;
    }
    if (mod && key.toLowerCase() === "a") {
      event.preventDefault();
      selectPage();
      return;
    }
    if (mod || event.altKey) return;
    if (key === "?") labelwise.toggleHelp();
    else if (key === "Escape") clearSelection();
    else if (key === "a") selectPage();
    else if (key === "n" || key === "ArrowRight") goPage("next");
    else if (key === "p" || key === "ArrowLeft") goPage("prev");
    else if (key === "Delete" || key === "Backspace") {
      event.preventDefault();
      unlabel();
    } else if (key === "Enter" && anchor !== null) {
      const open = tiles()[anchor] && tiles()[anchor].querySelector("a.open");
      if (open) window.location.href = open.href;
    } else if (key.length === 1) {
      const button = document.querySelector(`#labelbar .label-btn[data-hotkey="${CSS.escape(key.toLowerCase())}"]`);
      if (button) {
        event.preventDefault();
        labelWith(button.dataset.label);
      }
    }
    // Paging, filters and swaps may have moved the anchor: a stale one is dropped.
  });

  // A thumbnail that fails to load: ask the server for the tile again, which tells the reason.
  document.addEventListener(
    "error",
    (event) => {
      const img = event.target;
      if (!(img instanceof HTMLImageElement)) return;
      const tile = img.closest("#gallery .tile");
      if (!tile || tile.dataset.retried) return;
      tile.dataset.retried = "1";
      const url = `/datasets/${datasetId()}/label/tile/${tile.dataset.id}?${gallery().dataset.state}`;
      htmx.ajax("GET", url, { target: tile, swap: "outerHTML" });
    },
    true,
  );

  // The panels (Progress, classes, label bar) and the gallery again from the server, where labels
  // changed without an answer that repaints them; the panels' answer sends labels-changed, which
  // the Next actions panel follows.
  function repaint() {
    const done = htmx.ajax("GET", `/datasets/${datasetId()}/label/panels?${gallery().dataset.state}`, {
      source: "#label-app",
      swap: "none",
    });
    htmx.trigger(document.body, "refresh-gallery");
    return done;
  }

  // A failed labeling action (class deleted in another tab, dataset gone): repaint from the server.
  // A class refused by the panel's add form (a name taken, a reserved key) keeps what was typed
  // there: the repainted panel drew an empty form, so the name and key had to be typed again.
  document.addEventListener("htmx:responseError", (event) => {
    if (!appRoot() || !gallery()) return;
    const path = event.detail.pathInfo && event.detail.pathInfo.requestPath;
    if (!path || !/\/label\/(tag|undo|redo)|\/classes/.test(path)) return;
    const form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("#add-class") : null;
    const typed = form ? Array.from(form.elements).filter((f) => f.name).map((f) => [f.name, f.value]) : [];
    repaint().then(() => {
      const again = document.getElementById("add-class");
      if (!again || !typed.length) return;
      for (const [name, value] of typed) {
        const field = again.elements.namedItem(name);
        if (field) field.value = value;
      }
      const name = again.elements.namedItem("name");
      if (name) name.focus();
    });
  });

  // Requests from the class panel also carry the view state, so their answers repaint the tiles.
  document.addEventListener("htmx:configRequest", (event) => {
    if (!appRoot() || !gallery() || event.detail.verb === "get") return;
    const params = event.detail.parameters;
    const extra = common();
    for (const [key, value] of Object.entries(extra)) {
      if (params instanceof FormData) {
        if (!params.has(key)) params.append(key, value);
      } else if (!(key in params)) params[key] = value;
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "gallery") anchor = null;
    paint();
  });
  // "Add classes" (the Next actions queue's first step) links to the class panel's name field
  // (#new-class-name): the browser focuses it and scrolls the side bar to it on arrival, then the
  // Next actions panel loads above it and pushes it out of view again
  document.addEventListener("htmx:afterSettle", (event) => {
    const field = document.getElementById("new-class-name");
    const target = event.detail.target;
    if (field && document.activeElement === field && target && target.id === "next-actions") {
      field.scrollIntoView({ block: "nearest" });
    }
  });
  // Back to this page as it was when left, with the counts and labels of then: htmx's copy of an
  // earlier view (after paging or filtering) or the browser's back-forward cache (after a batch
  // labeled on the similar page, say). Both ask the server again.
  document.addEventListener("htmx:historyRestore", () => {
    loadSelection();
    paint();
  });
  labelwise.onBack(() => {
    if (appRoot() && gallery()) repaint();
  });

  // Import a CSV of labels through the REST endpoint (CSV bodies cannot be sent cross-site without
  // a CORS preflight, so /api needs no CSRF token); the report says what was accepted and refused.
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("#import-form");
    if (!form) return;
    event.preventDefault();
    const report = document.getElementById("import-report");
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    const params = new URLSearchParams({ filename: file.name });
    if (form.querySelector("input[name=create_classes]").checked) params.set("create_classes", "true");
    const button = form.querySelector("button");
    button.disabled = true;
    report.textContent = "importing…";
    try {
      const response = await fetch(`${form.dataset.url}?${params}`, {
        method: "POST",
        headers: { "content-type": "text/csv" },
        body: file,
        credentials: "same-origin",
      });
      const body = await response.json();
      if (!response.ok) {
        report.textContent = (body.error && body.error.message) || `import failed (${response.status})`;
        report.className = "error";
        return;
      }
      report.className = "";
      const lines = [
        `${body.accepted} of ${body.rows} row(s) accepted` + (body.event_id ? ` (event #${body.event_id})` : ""),
      ];
      if (body.created_classes.length) lines.push(`new classes: ${body.created_classes.join(", ")}`);
      if (body.unknown_classes.length) lines.push(`unknown classes: ${body.unknown_classes.join(", ")}`);
      if (body.refused.length) lines.push(`${body.refused.length} refused:`);
      report.replaceChildren(...lines.map((text) => Object.assign(document.createElement("div"), { textContent: text })));
      const list = document.createElement("ul");
      for (const row of body.refused.slice(0, 50)) {
        list.append(Object.assign(document.createElement("li"), { textContent: `line ${row.line}: ${row.reason}` }));
      }
      report.append(list);
      repaint();
    } catch (error) {
      report.textContent = `import failed: ${error}`;
    } finally {
      button.disabled = false;
    }
  });

  // --- the item view: zoom with the wheel or buttons, pan by dragging --------------------------
  function setupViewer() {
    const viewer = document.getElementById("viewer");
    const image = document.getElementById("viewer-image");
    if (!viewer || !image) return;
    let scale = 1;
    let x = 0;
    let y = 0;
    let drag = null;
    const level = document.getElementById("zoom-level");
    const apply = () => {
      image.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
      if (level) level.textContent = `${Math.round(scale * 100)}%`;
    };
    const fit = () => {
      const w = image.naturalWidth || 1;
      const h = image.naturalHeight || 1;
      scale = Math.min(viewer.clientWidth / w, viewer.clientHeight / h);
      x = (viewer.clientWidth - w * scale) / 2;
      y = (viewer.clientHeight - h * scale) / 2;
      apply();
    };
    const zoom = (factor, cx = viewer.clientWidth / 2, cy = viewer.clientHeight / 2) => {
      const next = Math.min(64, Math.max(0.05, scale * factor));
      x = cx - ((cx - x) * next) / scale;
      y = cy - ((cy - y) * next) / scale;
      scale = next;
      apply();
    };
    if (image.complete) fit();
    else image.addEventListener("load", fit);
    viewer.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const box = viewer.getBoundingClientRect();
        zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX - box.left, event.clientY - box.top);
      },
      { passive: false },
    );
    viewer.addEventListener("pointerdown", (event) => {
      drag = { px: event.clientX, py: event.clientY, x, y };
      viewer.setPointerCapture(event.pointerId);
    });
    viewer.addEventListener("pointermove", (event) => {
      if (!drag) return;
      x = drag.x + event.clientX - drag.px;
      y = drag.y + event.clientY - drag.py;
      apply();
    });
    viewer.addEventListener("pointerup", () => {
      drag = null;
    });
    document.addEventListener("click", (event) => {
      const button = event.target.closest("[data-zoom]");
      if (!button) return;
      if (button.dataset.zoom === "in") zoom(1.5);
      else if (button.dataset.zoom === "out") zoom(1 / 1.5);
      else fit();
    });
    document.addEventListener("keydown", (event) => {
      if (labelwise.typingIn(event.target) || labelwise.helpHolds(event)) return;
      if (event.key === "+" || event.key === "=") zoom(1.5);
      else if (event.key === "-") zoom(1 / 1.5);
      else if (event.key === "0") fit();
    });
  }

  function start() {
    document.addEventListener("submit", (event) => {
      const form = event.target.closest("#run-label");
      if (!form) return;
      event.preventDefault();
      labelRun(form);
    });
    if (appRoot()) {
      loadSelection();
      paint();
    }
    setupViewer();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
