// Events, newest first: what happened (a file, a webhook, a finished run...) and the runs
// each one caused. `#/events?name=file.arrived&offset=50` filters and pages.

import { api } from "./api.js";
import { setQuery } from "./nav.js";
import { Poller, clear, debounce, fmtRelative, fmtTime, h, jsonText, shortId } from "./util.js";

const PAGE = 50;

function readQuery(q) {
  return { name: q.get("name") || "", offset: Math.max(0, Number(q.get("offset")) || 0) };
}

function writeQuery(f) {
  const q = new URLSearchParams();
  if (f.name) q.set("name", f.name);
  if (f.offset) q.set("offset", String(f.offset));
  return q;
}

function eventsTable(items) {
  return h("table", { class: "data", id: "events-table" },
    h("thead", null, h("tr", null,
      h("th", { scope: "col" }, "Event"), h("th", { scope: "col" }, "Time"),
      h("th", { scope: "col" }, "Source"), h("th", { scope: "col" }, "Resource"),
      h("th", { scope: "col" }, "Runs caused"))),
    h("tbody", null, items.map((e) => {
      const runs = e.flow_run_ids || [];
      const hasPayload = e.payload !== null && e.payload !== undefined;
      return h("tr", { "data-event-id": e.id, "data-name": e.name },
        h("td", null,
          h("a", { href: `#/events?name=${encodeURIComponent(e.name)}`, class: "mono", title: `Only ${e.name} events` }, e.name),
          hasPayload ? h("details", { class: "payload" }, h("summary", { class: "muted small" }, "payload"),
            h("pre", { class: "block" }, jsonText(e.payload))) : null),
        h("td", { title: fmtTime(e.ts) }, fmtTime(e.ts), h("div", { class: "muted small" }, fmtRelative(e.ts))),
        h("td", null, h("span", { class: "tag" }, e.source)),
        h("td", { class: "ellipsis mono", title: e.resource || "" }, e.resource || "–"),
        h("td", { "data-col": "runs" }, runs.length
          ? runs.map((id) => h("a", { class: "tag run-link", href: `#/runs/${id}`, title: id, "data-run-id": id }, shortId(id)))
          : h("span", { class: "muted small" }, "none")));
    })));
}

export function mount(root, _params, query) {
  let f = readQuery(query);
  let lastSnapshot = "";
  const nameInput = h("input", { id: "events-name", type: "search", placeholder: "any event", size: 22 });
  const body = h("div", { class: "table-wrap", id: "events-body" }, h("div", { class: "loading" }, "Loading…"));
  const prev = h("button", { type: "button", id: "events-prev" }, "← Newer");
  const next = h("button", { type: "button", id: "events-next" }, "Older →");
  const info = h("span", { class: "muted small", id: "events-info", "aria-live": "polite" });
  const go = (changes) => setQuery(writeQuery({ ...f, offset: 0, ...changes }));
  nameInput.addEventListener("input", debounce(() => go({ name: nameInput.value.trim() }), 400));
  prev.addEventListener("click", () => go({ offset: Math.max(0, f.offset - PAGE) }));
  next.addEventListener("click", () => go({ offset: f.offset + PAGE }));

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Events"), h("span", { class: "spacer" }),
      h("div", { class: "field" }, h("label", { for: "events-name" }, "Name"), nameInput)),
    h("section", { class: "panel", "aria-label": "Events" }, body,
      h("div", { class: "pager" }, info, prev, next)));

  // Names show the runs they caused by link; the names of those runs are fetched once each.
  const runNames = new Map();
  function nameRuns() {
    for (const a of body.querySelectorAll("a.run-link")) {
      const id = a.dataset.runId;
      if (runNames.has(id)) {
        if (runNames.get(id)) a.textContent = runNames.get(id);
        continue;
      }
      runNames.set(id, null);
      api(`flow_runs/${id}`).then((r) => {
        runNames.set(id, r.name);
        for (const link of body.querySelectorAll(`a.run-link[data-run-id="${id}"]`)) link.textContent = r.name;
      }).catch(() => {});
    }
  }

  async function load() {
    let data;
    try {
      data = await api("events", { query: { name: f.name, limit: PAGE, offset: f.offset } });
    } catch (err) {
      clear(body).append(h("div", { class: "error-box" }, `Could not load events: ${err.message}`));
      return true;
    }
    const items = Array.isArray(data) ? data : data.items || [];
    const snapshot = JSON.stringify(items);
    if (snapshot !== lastSnapshot) {
      lastSnapshot = snapshot;
      clear(body).append(items.length ? eventsTable(items)
        : h("div", { class: "empty" }, f.name ? `No ${f.name} events.` : "No events yet. Emit one: orkest event emit NAME"));
      nameRuns();
    }
    const total = data.total;
    info.textContent = `${items.length ? f.offset + 1 : 0}–${f.offset + items.length}${total !== undefined ? ` of ${total}` : ""}`;
    prev.disabled = f.offset === 0;
    next.disabled = total !== undefined ? f.offset + items.length >= total : items.length < PAGE;
    root.dataset.loaded = writeQuery(f).toString();
    return true;
  }

  const sync = () => { if (document.activeElement !== nameInput) nameInput.value = f.name; };
  sync();
  const poller = new Poller(load, 5000);
  poller.start(true);
  return {
    update(q) {
      f = readQuery(q);
      sync();
      lastSnapshot = "";
      poller.start(true);
    },
    unmount() { poller.stop(); },
  };
}
