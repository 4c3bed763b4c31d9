// Work pools and their workers: who is alive (last heartbeat), how busy, on which host.

import { api } from "./api.js";
import { Poller, clear, fmtAgo, fmtTime, h } from "./util.js";

// A worker silent this long is presumed dead (the reaper's heartbeat timeout).
const SILENT_SECONDS = 90;

function workerStatus(w, now) {
  if (w.status === "stopped") return ["stopped", "CANCELLED", "Stopped"];
  if (now - w.heartbeat_ts > SILENT_SECONDS) return ["silent", "CRASHED", "No heartbeat"];
  return ["online", "COMPLETED", "Online"];
}

function workersTable(workers, now) {
  if (!workers.length) {
    return h("div", { class: "empty small" }, "No workers. Start one: orkest worker start --pool NAME");
  }
  return h("table", { class: "data workers-table" },
    h("thead", null, h("tr", null,
      h("th", { scope: "col" }, "Worker"), h("th", { scope: "col" }, "Host"),
      h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Last heartbeat"),
      h("th", { scope: "col", class: "num" }, "Running"), h("th", { scope: "col" }, "Started"))),
    h("tbody", null, workers.map((w) => {
      const [status, state, label] = workerStatus(w, now);
      return h("tr", { "data-worker-id": w.id, "data-status": status },
        h("td", { class: "ellipsis", title: w.id }, w.name || w.id),
        h("td", { class: "mono" }, `${w.hostname}${w.pid ? ` · pid ${w.pid}` : ""}`),
        h("td", null, h("span", { class: `badge state-${state}` }, label)),
        h("td", { "data-col": "heartbeat", title: fmtTime(w.heartbeat_ts) }, fmtAgo(w.heartbeat_ts, now)),
        h("td", { class: "num", "data-col": "load" }, `${w.running ?? 0} / ${w.concurrency ?? 1}`),
        h("td", null, fmtTime(w.started_ts)));
    })));
}

export function mount(root) {
  const body = h("div", { id: "work-pools-body" }, h("div", { class: "loading" }, "Loading…"));
  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Work pools"), h("span", { class: "spacer" }),
      h("span", { class: "muted small" }, "Workers of a pool claim its runs; each heartbeats every few seconds")),
    body);

  async function load() {
    let pools, workers;
    try {
      [pools, workers] = await Promise.all([api("work-pools"), api("workers")]);
    } catch (err) {
      clear(body).append(h("div", { class: "error-box" }, `Could not load work pools: ${err.message}`));
      return true;
    }
    pools = Array.isArray(pools) ? pools : pools.items || [];
    workers = Array.isArray(workers) ? workers : workers.items || [];
    const now = Date.now() / 1000;
    const byPool = new Map(pools.map((p) => [p.name, []]));
    for (const w of workers) {
      if (!byPool.has(w.work_pool)) { // a worker of a pool that has no record (yet)
        pools.push({ name: w.work_pool, concurrency_limit: null, paused: false });
        byPool.set(w.work_pool, []);
      }
      byPool.get(w.work_pool).push(w);
    }
    const sections = pools.map((p) => {
      const ws = byPool.get(p.name) || [];
      const online = ws.filter((w) => workerStatus(w, now)[0] === "online");
      const busy = online.reduce((n, w) => n + (w.running || 0), 0);
      const slots = online.reduce((n, w) => n + (w.concurrency || 1), 0);
      return h("section", { class: "panel work-pool", "data-pool": p.name, "aria-labelledby": `pool-${p.name}` },
        h("div", { class: "panel-head" },
          h("h2", { id: `pool-${p.name}` }, p.name),
          p.paused ? h("span", { class: "badge state-PAUSED" }, "Paused") : null,
          h("span", { class: "spacer" }),
          h("span", { class: "muted small" },
            `${online.length} online worker${online.length === 1 ? "" : "s"} · ${busy} / ${slots} running`,
            p.concurrency_limit ? ` · pool limit ${p.concurrency_limit}` : "")),
        p.description ? h("p", { class: "muted small" }, p.description) : null,
        h("div", { class: "table-wrap" }, workersTable(ws, now)));
    });
    clear(body).append(...(sections.length ? sections
      : [h("div", { class: "panel empty" }, "No work pools yet. Deploying a flow creates its pool (\"default\" unless given).")]));
    root.dataset.ready = "1";
    return true;
  }

  // Every 2 s, so that "3 s ago" keeps counting and a dead worker shows within seconds.
  const poller = new Poller(load, 2000);
  poller.start(true);
  return { unmount() { poller.stop(); } };
}
