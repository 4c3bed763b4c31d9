// Flow runs: filters (state, flow, tag, time) kept in the hash, one page fetched at a time.

import { api } from "./api.js";
import { setQuery } from "./nav.js";
import {
  Poller, STATES, badge, clear, debounce, fmtDuration, fmtNumber, fmtRelative, fmtTime, h,
  runDuration, shortId, titleState,
} from "./util.js";

const TIME_RANGES = { "": "Any time", "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", custom: "Custom…" };
const SPANS = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const PAGE_SIZES = [25, 50, 100, 200];

/** A table of flow runs (used here and on the dashboard). */
export function runsTable(items, { compact = false } = {}) {
  const now = Date.now() / 1000;
  return h("table", { class: "data", id: compact ? null : "runs-table" },
    h("thead", null, h("tr", null,
      h("th", { scope: "col" }, "Run"), h("th", { scope: "col" }, "Flow"),
      h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Created"),
      compact ? null : h("th", { scope: "col" }, "Started"),
      h("th", { scope: "col", class: "num" }, "Duration"),
      compact ? null : h("th", { scope: "col" }, "Tags"))),
    h("tbody", null, items.map((r) => h("tr", { "data-run-id": r.id, "data-state": r.state_type },
      h("td", { class: "ellipsis" }, h("a", { href: `#/runs/${r.id}`, title: r.id }, r.name || shortId(r.id))),
      h("td", { class: "ellipsis mono", "data-col": "flow" }, r.flow_name),
      h("td", null, badge(r.state_type, r.state_name)),
      h("td", { title: fmtTime(r.created_ts) }, compact ? fmtRelative(r.created_ts) : fmtTime(r.created_ts)),
      compact ? null : h("td", null, fmtTime(r.start_ts, false)),
      h("td", { class: "num" }, fmtDuration(runDuration(r, now))),
      compact ? null : h("td", null, (r.tags || []).map((t) => h("span", { class: "tag" }, t)))))));
}

function readFilters(q) {
  const limit = Number(q.get("limit")) || 50;
  return {
    states: q.getAll("state").filter((s) => STATES.includes(s)),
    flow: q.get("flow") || "",
    tag: q.get("tag") || "",
    range: q.get("range") in TIME_RANGES ? q.get("range") : "",
    after: q.get("after") || "",
    before: q.get("before") || "",
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
    offset: Math.max(0, Number(q.get("offset")) || 0),
  };
}

function writeFilters(f) {
  const q = new URLSearchParams();
  for (const s of f.states) q.append("state", s);
  if (f.flow) q.set("flow", f.flow);
  if (f.tag) q.set("tag", f.tag);
  if (f.range) q.set("range", f.range);
  if (f.range === "custom") {
    if (f.after) q.set("after", f.after);
    if (f.before) q.set("before", f.before);
  }
  if (f.limit !== 50) q.set("limit", f.limit);
  if (f.offset) q.set("offset", f.offset);
  return q;
}

const toLocalInput = (ts) => {
  if (!ts) return "";
  const d = new Date(Number(ts) * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};
const fromLocalInput = (v) => (v ? String(Math.floor(new Date(v).getTime() / 1000)) : "");

export function mount(root, _params, query) {
  let f = readFilters(query);
  let controller = null;
  let lastSnapshot = "";

  const chips = STATES.map((s) => h("label", { class: `chip state-${s}` },
    h("input", { type: "checkbox", name: "state", value: s, "data-state": s }), h("span", null, titleState(s))));
  const flowSelect = h("select", { id: "filter-flow", name: "flow" }, h("option", { value: "" }, "All flows"));
  const tagInput = h("input", { id: "filter-tag", name: "tag", type: "search", placeholder: "any tag", size: 14 });
  const rangeSelect = h("select", { id: "filter-range", name: "range" },
    Object.entries(TIME_RANGES).map(([k, v]) => h("option", { value: k }, v)));
  const afterInput = h("input", { id: "filter-after", type: "datetime-local", "aria-label": "Created after" });
  const beforeInput = h("input", { id: "filter-before", type: "datetime-local", "aria-label": "Created before" });
  const custom = h("div", { class: "field" }, h("label", null, "Between"),
    h("div", { class: "actions" }, afterInput, beforeInput));
  const clearBtn = h("button", { type: "button", id: "filter-clear" }, "Clear filters");
  const sizeSelect = h("select", { id: "page-size", "aria-label": "Runs per page" },
    PAGE_SIZES.map((n) => h("option", { value: n }, `${n} per page`)));
  const prev = h("button", { type: "button", id: "page-prev" }, "← Newer");
  const next = h("button", { type: "button", id: "page-next" }, "Older →");
  const info = h("span", { class: "muted small", id: "page-info", "aria-live": "polite" });
  const body = h("div", { class: "table-wrap", id: "runs-body" }, h("div", { class: "loading" }, "Loading…"));

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Flow runs"), h("span", { class: "spacer" }),
      h("span", { class: "muted small", id: "runs-total" })),
    h("section", { class: "panel", "aria-label": "Filters" },
      h("form", { class: "filters", id: "runs-filters", onsubmit: (e) => e.preventDefault() },
        h("fieldset", null, h("legend", null, "State"), h("div", { class: "chips" }, chips)),
        h("div", { class: "field" }, h("label", { for: "filter-flow" }, "Flow"), flowSelect),
        h("div", { class: "field" }, h("label", { for: "filter-tag" }, "Tag"), tagInput),
        h("div", { class: "field" }, h("label", { for: "filter-range" }, "Created"), rangeSelect),
        custom, clearBtn)),
    h("section", { class: "panel", "aria-label": "Flow runs" }, body,
      h("div", { class: "pager" }, info, sizeSelect, prev, next)),
  );

  const go = (changes, resetOffset = true) => {
    f = { ...f, ...changes };
    if (resetOffset && !("offset" in changes)) f.offset = 0;
    setQuery(writeFilters(f));
  };
  for (const c of chips) {
    c.querySelector("input").addEventListener("change", () =>
      go({ states: chips.map((x) => x.querySelector("input")).filter((i) => i.checked).map((i) => i.value) }));
  }
  flowSelect.addEventListener("change", () => go({ flow: flowSelect.value }));
  tagInput.addEventListener("input", debounce(() => go({ tag: tagInput.value.trim() }), 400));
  rangeSelect.addEventListener("change", () => go({ range: rangeSelect.value }));
  afterInput.addEventListener("change", () => go({ after: fromLocalInput(afterInput.value) }));
  beforeInput.addEventListener("change", () => go({ before: fromLocalInput(beforeInput.value) }));
  clearBtn.addEventListener("click", () => go({ states: [], flow: "", tag: "", range: "", after: "", before: "" }));
  sizeSelect.addEventListener("change", () => go({ limit: Number(sizeSelect.value) }));
  prev.addEventListener("click", () => go({ offset: Math.max(0, f.offset - f.limit) }, false));
  next.addEventListener("click", () => go({ offset: f.offset + f.limit }, false));

  function syncForm() {
    for (const c of chips) { const i = c.querySelector("input"); i.checked = f.states.includes(i.value); }
    if (f.flow && ![...flowSelect.options].some((o) => o.value === f.flow)) {
      flowSelect.append(h("option", { value: f.flow }, f.flow));
    }
    flowSelect.value = f.flow;
    if (document.activeElement !== tagInput) tagInput.value = f.tag;
    rangeSelect.value = f.range;
    custom.hidden = f.range !== "custom";
    afterInput.value = toLocalInput(f.after);
    beforeInput.value = toLocalInput(f.before);
    sizeSelect.value = String(f.limit);
  }

  async function loadFlows() {
    try {
      const flows = await api("flows", { query: { limit: 500 } });
      for (const fl of flows.items) {
        if (![...flowSelect.options].some((o) => o.value === fl.name)) {
          flowSelect.append(h("option", { value: fl.name }, `${fl.name} (${fmtNumber(fl.run_count)})`));
        } else {
          const o = [...flowSelect.options].find((x) => x.value === fl.name);
          o.textContent = `${fl.name} (${fmtNumber(fl.run_count)})`;
        }
      }
      flowSelect.value = f.flow;
    } catch (err) {
      console.warn(err);
    }
  }

  async function load() {
    controller?.abort();
    controller = new AbortController();
    const now = Date.now() / 1000;
    const query = { state: f.states, flow_name: f.flow, tag: f.tag, limit: f.limit, offset: f.offset };
    if (SPANS[f.range]) query.created_after = now - SPANS[f.range];
    if (f.range === "custom") { query.created_after = f.after; query.created_before = f.before; }
    const key = writeFilters(f).toString();
    let page;
    try {
      page = await api("flow_runs", { query, signal: controller.signal });
    } catch (err) {
      if (err.name === "AbortError") return true;
      clear(body).append(h("div", { class: "error-box" }, `Could not load flow runs: ${err.message}`));
      return true;
    }
    const snapshot = JSON.stringify(page);
    if (snapshot === lastSnapshot && root.dataset.loaded === key) return true; // keep focus
    lastSnapshot = snapshot;
    clear(body).append(page.items.length ? runsTable(page.items)
      : h("div", { class: "empty" }, f.offset ? "No runs on this page." : "No flow runs match these filters."));
    const first = page.items.length ? f.offset + 1 : 0;
    info.textContent = `${fmtNumber(first)}–${fmtNumber(f.offset + page.items.length)} of ${fmtNumber(page.total)}`;
    document.getElementById("runs-total").textContent = `${fmtNumber(page.total)} runs`;
    prev.disabled = f.offset === 0;
    next.disabled = f.offset + page.items.length >= page.total;
    root.dataset.loaded = key; // tests wait for the filters they set
    return true;
  }

  syncForm();
  loadFlows();
  const poller = new Poller(load, 5000);
  poller.start(true);
  return {
    update(q) {
      f = readFilters(q);
      syncForm();
      poller.start(true);
    },
    unmount() { poller.stop(); controller?.abort(); },
  };
}
