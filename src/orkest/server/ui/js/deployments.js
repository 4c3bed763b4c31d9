// Deployments: full name, schedule in words, next run, pool, paused; pause and resume.

import { api } from "./api.js";
import { setQuery } from "./nav.js";
import { Poller, clear, fmtIsoWall, fmtNumber, fmtUntil, h, toast } from "./util.js";

const PAGE = 50;

/** The earliest of a deployment's next runs, as {iso, ts}, or null. */
export function nextRun(dep) {
  const runs = (dep.next_runs || []).map((iso) => ({ iso, ts: Date.parse(iso) / 1000 }))
    .filter((r) => Number.isFinite(r.ts)).sort((a, b) => a.ts - b.ts);
  return runs[0] || null;
}

/** Its schedules in words, one line each (triggers counted after them). */
export function scheduleCell(dep) {
  const words = dep.schedule_descriptions || [];
  const triggers = (dep.triggers || []).length;
  return h("div", { class: "schedule-words" },
    words.length ? words.map((w) => h("div", null, w)) : h("span", { class: "muted" }, triggers ? "" : "No schedule"),
    triggers ? h("div", { class: "muted small" }, `${triggers} trigger${triggers > 1 ? "s" : ""}`) : null);
}

export function pausedBadge(dep) {
  return dep.paused
    ? h("span", { class: "badge state-PAUSED", "data-paused": "true" }, "Paused")
    : h("span", { class: "badge state-COMPLETED", "data-paused": "false" }, "Active");
}

/** Pause or resume, then call `done(updated)`; a refusal is shown as the server says it. */
export async function setPaused(dep, paused, done) {
  try {
    const updated = await api(`deployments/${encodeURIComponent(dep.id)}`, { method: "PATCH", body: { paused } });
    toast(`${dep.full_name} ${paused ? "paused: no new runs are scheduled" : "resumed"}.`);
    done(updated);
  } catch (err) {
    toast(`Could not ${paused ? "pause" : "resume"} ${dep.full_name}: ${err.message}`, "error", 8000);
    done(null);
  }
}

export function mount(root, _params, query) {
  let offset = Math.max(0, Number(query.get("offset")) || 0);
  let lastSnapshot = "";
  const body = h("div", { class: "table-wrap", id: "deployments-body" }, h("div", { class: "loading" }, "Loading…"));
  const prev = h("button", { type: "button", id: "deployments-prev" }, "← Previous");
  const next = h("button", { type: "button", id: "deployments-next" }, "Next →");
  const info = h("span", { class: "muted small", id: "deployments-info", "aria-live": "polite" });
  const go = (o) => setQuery(new URLSearchParams(o ? { offset: String(o) } : {}));
  prev.addEventListener("click", () => go(Math.max(0, offset - PAGE)));
  next.addEventListener("click", () => go(offset + PAGE));

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Deployments"), h("span", { class: "spacer" }),
      h("span", { class: "muted small" }, "Register one with flow.deploy(...) or orkest deploy file.py:flow")),
    h("section", { class: "panel", "aria-label": "Deployments" }, body,
      h("div", { class: "pager" }, info, prev, next)));

  function table(items) {
    const now = Date.now() / 1000;
    return h("table", { class: "data", id: "deployments-table" },
      h("thead", null, h("tr", null,
        h("th", { scope: "col" }, "Deployment"), h("th", { scope: "col" }, "Schedule"),
        h("th", { scope: "col" }, "Next run"), h("th", { scope: "col" }, "Work pool"),
        h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", null, items.map((d) => {
        const nr = nextRun(d);
        const toggle = h("button", {
          type: "button", class: "toggle-paused", "data-action": d.paused ? "resume" : "pause",
          "aria-label": `${d.paused ? "Resume" : "Pause"} ${d.full_name}`,
        }, d.paused ? "Resume" : "Pause");
        toggle.addEventListener("click", () => {
          toggle.disabled = true;
          setPaused(d, !d.paused, (updated) => {
            if (!updated) toggle.disabled = false;
            poller.start(true);
          });
        });
        return h("tr", { "data-deployment-id": d.id, "data-full-name": d.full_name, "data-paused": String(!!d.paused) },
          h("td", { class: "ellipsis" }, h("a", { href: `#/deployments/${d.id}`, title: d.description || d.id }, d.full_name)),
          h("td", { "data-col": "schedule" }, scheduleCell(d)),
          h("td", { "data-col": "next-run", title: nr ? nr.iso : "" },
            nr ? [h("div", null, fmtIsoWall(nr.iso)), h("div", { class: "muted small" },
              d.paused ? "paused" : fmtUntil(nr.ts, now))]
              : h("span", { class: "muted" }, d.paused ? "none while paused" : "–")),
          h("td", { class: "mono" }, h("a", { href: "#/work-pools" }, d.work_pool)),
          h("td", { "data-col": "paused" }, pausedBadge(d)),
          h("td", null, toggle));
      })));
  }

  async function load() {
    let data;
    try {
      data = await api("deployments", { query: { limit: PAGE, offset } });
    } catch (err) {
      clear(body).append(h("div", { class: "error-box" }, `Could not load deployments: ${err.message}`));
      return true;
    }
    const snapshot = JSON.stringify(data);
    if (snapshot !== lastSnapshot || Math.floor(Date.now() / 30000) !== load.tick) {
      lastSnapshot = snapshot;
      load.tick = Math.floor(Date.now() / 30000); // "in 5 min" moves on even when nothing else does
      clear(body).append(data.items.length ? table(data.items)
        : h("div", { class: "empty" }, offset ? "No deployments on this page."
          : "No deployments yet. Deploy a flow: flow.deploy(\"nightly\", cron=\"0 2 * * *\") or orkest deploy file.py:flow --cron \"0 2 * * *\""));
    }
    const total = data.total ?? offset + data.items.length;
    info.textContent = `${fmtNumber(data.items.length ? offset + 1 : 0)}–${fmtNumber(offset + data.items.length)} of ${fmtNumber(total)}`;
    prev.disabled = offset === 0;
    next.disabled = offset + data.items.length >= total;
    root.dataset.loaded = String(offset);
    return true;
  }

  const poller = new Poller(load, 5000);
  poller.start(true);
  return {
    update(q) {
      offset = Math.max(0, Number(q.get("offset")) || 0);
      lastSnapshot = "";
      poller.start(true);
    },
    unmount() { poller.stop(); },
  };
}
