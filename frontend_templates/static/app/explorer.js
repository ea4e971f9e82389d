// The Latent Space Explorer page: loads a projection from the REST API, colours it, and turns box /
// lasso selections into statistics, heat maps, a gallery and one labeling event.
//
// The selection (its items, how it was drawn, the gallery page shown) and the items clicked out of
// it in the gallery are kept per projection in this tab's sessionStorage and put back on the page
// loaded again: Back from an item opened in the gallery and a reload drew nothing selected, and the
// person's box or lasso (less what they had taken out) was lost. A selection labeled forgets it.
//
// A class pressed (button or hotkey) labels only a selection whose guardrail flags for that class
// the page has shown: "Check against" another class (or none), the page first asks for the flags of
// the class pressed, shows them, and with any item flagged asks in the page (#flag-confirm) whether
// to label all, leave the flagged out (as "f" does) or cancel. Without it a mixed cluster boxed and
// pressed as one class was written whole, judged only by the distance rule.
"use strict";

(function () {
  const root = document.getElementById("explorer");
  if (!root || !root.dataset.modelId) return;
  const datasetId = Number(root.dataset.datasetId);
  const modelId = Number(root.dataset.modelId);
  const classes = JSON.parse(document.getElementById("explorer-classes").textContent);
  const classById = new Map(classes.map((c) => [c.id, c]));
  const PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
    "#31a354", "#756bb1", "#636363", "#fd8d3c",
  ];
  const GREY = [170, 170, 170];
  const $ = (id) => document.getElementById(id);
  const message = $("plot-message");
  const state = { points: null, selected: [], how: null, colorBy: "cluster" };

  const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));

  // never the browser's stored answer: loaded again on Back, the page took the points (and their
  // labels) of before from it
  async function api(path, options = {}) {
    const response = await fetch(`/api/v1${path}`, {
      headers: { "Content-Type": "application/json" },
      cache: "no-store",
      ...options,
    });
    if (!response.ok) {
      let text = response.statusText;
      try { text = (await response.json()).error.message; } catch (_) { /* not JSON */ }
      const error = new Error(text);
      error.status = response.status;
      throw error;
    }
    return response;
  }

  const plot = new window.Scatter($("plot"), $("overlay"), {
    onHover: showHover,
    onSelect: select,
    onDraw: (renderer) => {
      root.dataset.renderer = renderer;
      if (!window.explorerReady && state.points) {
        window.explorerReady = true;
        root.dataset.ready = "true";
      }
    },
  });

  function colorOf(i) {
    const p = state.points;
    if (state.colorBy === "cluster") {
      if (!p.clusters) return GREY;
      const c = p.clusters[i];
      return c < 0 ? GREY : rgb(PALETTE[c % PALETTE.length]);
    }
    const label = state.colorBy === "label" ? p.labels[i] : p.predicted ? p.predicted[i] : -1;
    const cls = classById.get(label);
    return cls ? rgb(cls.color) : GREY;
  }

  function recolor() {
    const p = state.points;
    const colors = new Uint8Array(p.item_ids.length * 3);
    for (let i = 0; i < p.item_ids.length; i++) colors.set(colorOf(i), 3 * i);
    plot.setColors(colors);
    legend();
  }

  function legend() {
    const list = $("legend");
    list.replaceChildren();
    const add = (color, text) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = color;
      li.append(swatch, document.createTextNode(text));
      list.append(li);
    };
    const p = state.points;
    if (state.colorBy === "cluster") {
      if (!p.clusters) { add("#aaa", "not clustered yet: run a clustering"); return; }
      const counts = new Map();
      for (const c of p.clusters) counts.set(c, (counts.get(c) || 0) + 1);
      [...counts.keys()].sort((a, b) => a - b).slice(0, 40).forEach((c) =>
        add(c < 0 ? "#aaa" : PALETTE[c % PALETTE.length], `${c < 0 ? "noise" : `cluster ${c}`} (${counts.get(c)})`));
    } else {
      if (state.colorBy === "predicted" && !p.predicted) { add("#aaa", "this model gives no class probabilities"); return; }
      classes.forEach((c) => add(c.color, c.name));
      add("#aaa", state.colorBy === "label" ? "unlabeled" : "no prediction");
    }
  }

  // ---- the selection kept per projection -----------------------------------------------------------

  // Which view: the dataset, the model and the projection drawn (the item order the indices follow).
  const keptKey = () =>
    state.points && `labelwise:explorer:${datasetId}:${modelId}:${state.points.projection_job_id}`;

  // Item ids, not indices; an empty selection keeps nothing (it has nothing to label).
  function keepSelection() {
    const key = keptKey();
    if (!key) return;
    if (!state.selected.length) { labelwise.forget(key); return; }
    labelwise.keep(key, {
      items: selectedIds(),
      how: state.how,
      rejected: [...(state.rejected || [])],
      page: state.galleryPage || 0,
    });
  }

  // Once, when the page's points first load. An item the projection no longer holds is dropped.
  let restored = false;
  function putBack() {
    const kept = labelwise.kept(keptKey());
    if (!kept) return;
    const indices = (kept.items || []).map((id) => state.index.get(id)).filter((i) => i !== undefined);
    state.rejected = new Set(kept.rejected || []);
    state.galleryPage = Number(kept.page) || 0;
    select(indices, kept.how || null, false, true);
  }

  async function load() {
    try {
      const response = await api(`/models/${modelId}/projection?dataset_id=${datasetId}`);
      const p = await response.json();
      state.points = p;
      root.dataset.labelsEvent = String(p.labels_event_id); // the labels drawn: as of this event
      state.index = new Map(p.item_ids.map((id, i) => [id, i]));
      plot.setData(Float32Array.from(p.x), Float32Array.from(p.y));
      recolor();
      message.textContent = "";
      message.hidden = true;
      root.dataset.points = String(p.item_ids.length);
      root.dataset.projectionJob = String(p.projection_job_id);
      showProjectionSettings(p);
      if (!restored) { restored = true; putBack(); } // the page loaded again: its selection of before
    } catch (error) {
      message.hidden = false;
      message.textContent = error.status === 404 ? `${error.message}. Use “Run projection”.` : error.message;
    }
  }

  // The projection form shows how the drawn projection was made (its defaults were shown after a reload).
  function showProjectionSettings(p) {
    const form = $("project-form");
    form.elements.method.value = p.method;
    form.elements.dimensions.value = String(p.dimensions);
  }

  const hover = $("hover");
  function showHover(index, px, py) {
    if (index < 0 || !state.points) { hover.hidden = true; return; }
    const id = state.points.item_ids[index];
    const img = hover.querySelector("img");
    const src = `/api/v1/items/${id}/image?size=128`;
    if (img.getAttribute("src") !== src) img.src = src;
    const label = classById.get(state.points.labels[index]);
    hover.querySelector("span").textContent = `item ${id}${label ? ` · ${label.name}` : ""}`;
    hover.style.left = `${px + 14}px`;
    hover.style.top = `${py + 14}px`;
    hover.hidden = false;
  }

  function select(indices, how, add, keepPage = false) {
    let chosen = indices;
    if (add && state.selected.length) chosen = [...new Set([...state.selected, ...indices])];
    state.selected = chosen;
    state.how = how;
    hideFlagConfirm(); // asked of another selection
    if (!keepPage) { state.galleryPage = 0; state.rejected = new Set(); } // a new selection: nothing taken out yet
    plot.setSelected(chosen);
    $("selection-count").textContent = String(chosen.length);
    root.dataset.selected = String(chosen.length);
    keepSelection();
    refreshSelection();
  }

  // The selection gallery pages through every selected item; clicking a tile takes it out. The page
  // of tiles comes from the server (backend/pages/explorer.py) with the batch guardrails judged on
  // the whole selection: flagged tiles carry a badge, the rule is shown, and "f" takes every
  // flagged item out of the selection (so labeling skips them).
  const GALLERY_PAGE = 24;
  const csrf = () => {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; }
    catch (_) { return ""; }
  };
  let galleryTicket = 0;
  async function renderGallery() {
    const ticket = ++galleryTicket;
    state.flagsFor = null; // the flags drawn are of the selection as it was until this answer
    const gallery = $("selection-gallery"), pager = $("gallery-pager");
    const total = state.selected.length;
    const pages = Math.max(1, Math.ceil(total / GALLERY_PAGE));
    state.galleryPage = Math.min(state.galleryPage || 0, pages - 1);
    const start = state.galleryPage * GALLERY_PAGE;
    pager.hidden = total <= GALLERY_PAGE;
    $("gallery-range").textContent = total ? `${start + 1}–${Math.min(start + GALLERY_PAGE, total)} of ${total}` : "";
    $("gallery-prev").disabled = state.galleryPage === 0;
    $("gallery-next").disabled = state.galleryPage >= pages - 1;
    if (!total) {
      state.flagged = new Set();
      state.flagsFor = $("flag-class").value;
      gallery.replaceChildren();
      gallery.removeAttribute("aria-busy");
      root.dataset.flagged = "0";
      return;
    }
    // busy until this page's answer is drawn: the tiles and flags shown meanwhile are of the
    // selection as it was (a box drag asks once per move)
    gallery.setAttribute("aria-busy", "true");
    const flagClass = $("flag-class").value;
    const body = JSON.stringify({
      model_id: modelId,
      item_ids: selectedIds(),
      offset: start,
      limit: GALLERY_PAGE,
      label_id: flagClass ? Number(flagClass) : null,
    });
    try {
      const response = await fetch(`/datasets/${datasetId}/explorer/gallery`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "x-csrftoken": csrf() },
        body,
      });
      const html = await response.text();
      if (ticket !== galleryTicket) return;
      gallery.removeAttribute("aria-busy");
      if (!response.ok) { gallery.textContent = `the gallery could not be shown (${response.status})`; return; }
      gallery.innerHTML = html;
      const flags = gallery.querySelector("#gallery-flags");
      const ids = flags && flags.dataset.flagged ? flags.dataset.flagged.split(",").map(Number) : [];
      state.flagged = new Set(ids);
      state.flagRule = (flags && flags.dataset.rule) || "";
      state.flagsFor = flagClass; // the class these flags judged: shown to the person now
      root.dataset.flagged = String(ids.length);
      root.dataset.galleryPage = String(state.galleryPage);
    } catch (error) {
      if (ticket === galleryTicket) {
        gallery.removeAttribute("aria-busy");
        gallery.textContent = error.message;
      }
    }
  }

  function deselectIds(ids) {
    const out = new Set(ids);
    if (!out.size) return;
    select(state.selected.filter((i) => !out.has(state.points.item_ids[i])), state.how, false, true);
  }

  $("selection-gallery").addEventListener("click", (event) => {
    if (event.target.closest("a")) return; // the "open" link still opens the item
    const tile = event.target.closest(".guided-tile");
    if (!tile) return;
    // taken out by hand: "not this class" for the batch labeled next (f's flagged items are not)
    (state.rejected ||= new Set()).add(Number(tile.dataset.id));
    deselectIds([Number(tile.dataset.id)]);
  });

  const selectedIds = () => state.selected.map((i) => state.points.item_ids[i]);

  let pending = 0;
  async function refreshSelection() {
    const ticket = ++pending;
    const stats = $("selection-stats"), heat = $("heatmaps");
    renderGallery();
    if (!state.selected.length) { stats.replaceChildren(); heat.hidden = true; return; }
    const ids = selectedIds();
    try {
      const body = JSON.stringify({ item_ids: ids, projection_job_id: state.points.projection_job_id });
      const summary = await (await api(`/models/${modelId}/projection/selection`, { method: "POST", body })).json();
      if (ticket !== pending) return;
      const part = (title, counts) => {
        const p = document.createElement("p");
        const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
        p.textContent = `${title}: ${entries.map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`;
        return p;
      };
      stats.replaceChildren(part("Labels", summary.labels), part("Clusters", summary.clusters));
      for (const statistic of ["mean", "std"]) {
        const response = await api(`/datasets/${datasetId}/explorer/heatmap`, {
          method: "POST", body: JSON.stringify({ item_ids: ids, statistic }),
        });
        if (ticket !== pending) return;
        const url = URL.createObjectURL(await response.blob());
        const img = $(`heatmap-${statistic}`);
        if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
        img.src = url;
        $("heatmap-note").textContent = `from ${response.headers.get("X-Labelwise-Items-Used")} of ${ids.length} items`;
      }
      heat.hidden = false;
    } catch (error) {
      stats.textContent = error.message;
    }
  }

  // A class pressed: shows this selection's flags for that class first where the page does not (the
  // request "Check against" makes), and asks in the page before labeling a selection with flagged
  // items, once per selection: a "Check against" left on the class from the last batch drew a new
  // box's badges unasked, and one press wrote its flagged items. A press while the question is open
  // answers it ("label all"). Unlabel is not judged.
  let checking = false;
  async function label(labelId) {
    if (!state.selected.length) { flash("select points first (box or lasso)"); return; }
    if (labelId === null) { hideFlagConfirm(); await write(labelId); return; }
    if (state.flagsFor === String(labelId)) {
      const flagged = selectedIds().filter((id) => state.flagged.has(id));
      const answered = state.confirm && state.confirm.labelId === labelId;
      if (!flagged.length || answered) { hideFlagConfirm(); await write(labelId); return; }
      askFlagConfirm(labelId, flagged);
      return;
    }
    if (checking) return; // a second press while the flags are asked for
    checking = true;
    try {
      hideFlagConfirm();
      $("flag-class").value = String(labelId);
      await renderGallery();
    } finally {
      checking = false;
    }
    if (state.flagsFor !== String(labelId)) { // the answer did not come, or the selection changed meanwhile
      flash(`the flags for “${classById.get(labelId).name}” could not be shown; nothing labeled`);
      return;
    }
    const flagged = selectedIds().filter((id) => state.flagged.has(id));
    if (!flagged.length) { await write(labelId); return; }
    askFlagConfirm(labelId, flagged);
  }

  function askFlagConfirm(labelId, flagged) {
    const n = state.selected.length, name = classById.get(labelId).name;
    state.confirm = { labelId, flagged };
    const rule = state.flagRule ? ` (${state.flagRule})` : "";
    $("flag-confirm-text").textContent =
      `${flagged.length} of ${n} selected items are flagged as unlike “${name}”${rule}. Nothing is labeled yet.`;
    $("flag-confirm-all").textContent = `label all ${n}`;
    $("flag-confirm-leave").textContent = `leave the ${flagged.length} flagged out`;
    $("flag-confirm").hidden = false;
    root.dataset.confirm = "open";
    flash(`${flagged.length} of ${n} selected items are flagged as unlike “${name}”: nothing labeled yet`);
  }

  function hideFlagConfirm() {
    state.confirm = null;
    const box = $("flag-confirm");
    if (box) box.hidden = true;
    root.dataset.confirm = "";
  }

  async function write(labelId) {
    if (!state.selected.length) { flash("select points first (box or lasso)"); return; }
    const ids = selectedIds();
    const body = {
      projection_job_id: state.points.projection_job_id,
      item_ids: ids,
      label_id: labelId,
      op: labelId === null ? "clear" : "set",
      selection: state.how || {},
      // Labeled items are left alone unless "overwrite" is ticked, and so is anything someone
      // else changed since these points were loaded.
      overwrite: $("overwrite").checked,
      seen_event_id: state.points.labels_event_id,
      // the items clicked out of the gallery are recorded as rejected for this class
      rejected_item_ids: labelId === null ? [] : [...(state.rejected || [])].filter((id) => !ids.includes(id)),
    };
    try {
      const response = await api(`/datasets/${datasetId}/explorer/label`, { method: "POST", body: JSON.stringify(body) });
      const event = await response.json();
      state.rejected = new Set();
      labelwise.forget(keptKey()); // labeled: a reload or Back starts with nothing selected
      await reloadLabels();
      const name = labelId === null ? "unlabeled" : `labeled ${classById.get(labelId).name}`;
      const p = event.parameters || {};
      let text = `${event.tag_count} of ${ids.length} items ${name} (event #${event.id})`;
      if (p.skipped_labeled) text += `; ${p.skipped_labeled} already labeled were left (tick overwrite to replace)`;
      if (p.skipped_changed) text += `; ${p.skipped_changed} changed since you looked (by someone else, or in another tab) were left`;
      if (p.rejected) {  // the pages' wording (backend/pages/common.py::left_out_notice)
        text += `; ${p.rejected} deselected item(s) left out: they will not be suggested again as “${classById.get(labelId).name}”`;
      }
      flash(text);
    } catch (error) {
      flash(error.message);
      await reloadLabels();
    }
  }

  // The labels as they are now (ours and everyone else's), for colours, the gallery and the next batch.
  async function reloadLabels() {
    const p = state.points;
    const url = `/models/${modelId}/projection?dataset_id=${datasetId}&projection_job_id=${p.projection_job_id}`;
    const fresh = await (await api(url)).json();
    p.labels = fresh.labels;
    p.labels_event_id = fresh.labels_event_id;
    root.dataset.labelsEvent = String(p.labels_event_id);
    recolor();
    refreshSelection();
  }

  function flash(text) {
    const box = document.getElementById("flash");
    if (box) box.textContent = text;
  }

  async function submitJob(form) {
    const kind = form.dataset.kind;
    const parameters = {};
    for (const [key, value] of new FormData(form)) {
      const input = form.elements[key];
      parameters[key] = input.type === "number" || key === "dimensions" ? Number(value) : value;
    }
    const status = $("job-status");
    try {
      const body = JSON.stringify({ kind, model_id: modelId, dataset_id: datasetId, parameters });
      const job = await (await api("/jobs", { method: "POST", body })).json();
      status.replaceChildren();
      const link = document.createElement("a");
      link.href = `/jobs/${job.id}`;
      link.textContent = `job ${job.id}`;
      status.append(link, document.createTextNode(" queued…"));
      for (;;) {
        await new Promise((r) => setTimeout(r, 700));
        const now = await (await api(`/jobs/${job.id}`)).json();
        status.lastChild.textContent = ` ${now.state}`;
        if (["succeeded", "failed", "canceled"].includes(now.state)) {
          if (now.state === "succeeded") {
            // the page drops its selection (and the one kept) for the new points, and shows it
            // dropped at once: its count, statistics and gallery read as the old selection till the next
            select([], null, false);
            await load();
          } else if (now.error) status.lastChild.textContent += `: ${now.error.split("\n")[0]}`;
          break;
        }
      }
    } catch (error) {
      status.textContent = error.message;
    }
  }

  document.querySelectorAll(".job-form").forEach((form) =>
    form.addEventListener("submit", (e) => { e.preventDefault(); submitJob(form); }));
  document.querySelectorAll('input[name="color-by"]').forEach((input) =>
    input.addEventListener("change", () => { state.colorBy = input.value; recolor(); }));
  document.querySelectorAll('input[name="tool"]').forEach((input) =>
    input.addEventListener("change", () => plot.setTool(input.value)));
  $("reset-view").addEventListener("click", () => plot.resetView());
  $("clear-selection").addEventListener("click", () => select([], null, false));
  $("flag-class").addEventListener("change", () => { hideFlagConfirm(); renderGallery(); });
  $("flag-confirm-all").addEventListener("click", () => {
    const asked = state.confirm;
    hideFlagConfirm();
    if (asked) write(asked.labelId);
  });
  // as "f" does: out of the selection, and no person's "not this class" (no rejection recorded)
  $("flag-confirm-leave").addEventListener("click", () => {
    const asked = state.confirm;
    if (!asked) return;
    deselectIds(asked.flagged);
    hideFlagConfirm();
    if (state.selected.length) write(asked.labelId);
    else flash("every selected item was flagged: nothing left to label");
  });
  $("flag-confirm-cancel").addEventListener("click", () => { hideFlagConfirm(); flash("nothing labeled"); });
  // the page turned to is kept with a selection kept (not with one labeled: that stays forgotten)
  const turn = (by) => {
    state.galleryPage += by;
    renderGallery();
    if (labelwise.kept(keptKey())) keepSelection();
  };
  $("gallery-prev").addEventListener("click", () => turn(-1));
  $("gallery-next").addEventListener("click", () => turn(1));
  document.querySelectorAll("#label-buttons [data-label-id]").forEach((button) =>
    button.addEventListener("click", () => label(button.dataset.labelId ? Number(button.dataset.labelId) : null)));
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea")) return;
    const tools = { b: "box", l: "lasso", p: "pan" };
    if (tools[e.key]) {
      document.querySelector(`input[name="tool"][value="${tools[e.key]}"]`).checked = true;
      plot.setTool(tools[e.key]);
      return;
    }
    if (e.key === "f" && !e.ctrlKey && !e.metaKey && !e.altKey) {
      deselectIds([...(state.flagged || [])]);
      return;
    }
    const cls = classes.find((c) => c.hotkey && c.hotkey === e.key);
    if (cls) label(cls.id);
  });
  // Back to the page kept whole (the browser's back-forward cache): the labels as they are now, for
  // the colours, the selection's gallery and statistics, and the next batch.
  labelwise.onBack(() => {
    if (state.points) reloadLabels().catch((error) => flash(error.message));
  });
  plot.setTool("box");
  // the server names the projection to draw; without one, asking for points would only answer 404
  if (root.dataset.projectionJob) load();
  else message.textContent = "This model has no projection on this dataset yet. Use “Run projection”.";
})();
