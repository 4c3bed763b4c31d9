// Dashboard: flow runs by state over time, failure rate, slowest tasks, recent runs.

import { api } from "./api.js";
import { setQuery } from "./nav.js";
import { runsTable } from "./runs.js";
import {
  Poller, STATES, clear, fmtNumber, fmtSeconds, fmtTime, h, titleState,
} from "./util.js";

const RANGES = {
  "1h": [3600, 300],
  "24h": [86400, 3600],
  "7d": [7 * 86400, 6 * 3600],
  "30d": [30 * 86400, 86400],
};
// Bottom of the stack first: the outcomes people look for sit on the baseline.
const STACK = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED", "SKIPPED", "RUNNING",
  "CANCELLING", "AWAITING_RETRY", "PAUSED", "PENDING", "SCHEDULED"];

export function mount(root, _params, query) {
  let range = RANGES[query.get("range")] ? query.get("range") : "24h";
  const select = h("select", { id: "dash-range", "aria-label": "Time range" },
    Object.keys(RANGES).map((k) => h("option", { value: k, selected: k === range }, `Last ${k}`)));
  select.addEventListener("change", () => setQuery(new URLSearchParams({ range: select.value })));

  const total = h("div", { class: "stat-value", id: "dash-total" }, "–");
  const failure = h("div", { class: "stat-value", id: "dash-failure-rate" }, "–");
  const running = h("div", { class: "stat-value", id: "dash-running" }, "–");
  const chart = h("div", { class: "chart", id: "dash-chart" });
  const slowest = h("div", { class: "table-wrap", id: "dash-slowest" });
  const recent = h("div", { class: "table-wrap", id: "dash-recent" });

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Dashboard"), h("span", { class: "spacer" }), select),
    h("div", { class: "grid cols-3" },
      h("section", { class: "panel", "aria-labelledby": "t-total" },
        h("div", { class: "muted small", id: "t-total" }, "Flow runs"), total),
      h("section", { class: "panel", "aria-labelledby": "t-fail" },
        h("div", { class: "muted small", id: "t-fail" }, "Failure rate"), failure),
      h("section", { class: "panel", "aria-labelledby": "t-run" },
        h("div", { class: "muted small", id: "t-run" }, "Running now"), running)),
    h("section", { class: "panel", style: { marginTop: "16px" }, "aria-labelledby": "t-chart" },
      h("h2", { id: "t-chart" }, "Flow runs by state"), chart),
    h("div", { class: "grid cols-2" },
      h("section", { class: "panel", "aria-labelledby": "t-slow" },
        h("h2", { id: "t-slow" }, "Slowest tasks"), slowest),
      h("section", { class: "panel", "aria-labelledby": "t-recent" },
        h("div", { class: "panel-head" }, h("h2", { id: "t-recent" }, "Recent flow runs"),
          h("span", { class: "spacer" }), h("a", { href: "#/runs" }, "All runs →")), recent)),
  );

  async function load() {
    const [span, bucket] = RANGES[range];
    const now = Date.now() / 1000;
    const since = now - span;
    const [stats, recentRuns, runningNow] = await Promise.all([
      api("stats/dashboard", { query: { since, bucket_seconds: bucket } }),
      api("flow_runs", { query: { limit: 10 } }),
      api("flow_runs", { query: { state: "RUNNING", limit: 1 } }),
    ]);
    total.textContent = fmtNumber(stats.total);
    failure.textContent = stats.total ? `${(stats.failure_rate * 100).toFixed(1)} %` : "–";
    running.textContent = fmtNumber(runningNow.total);
    clear(chart).append(...stackedBars(stats.runs_by_state, since, now, bucket, chart.clientWidth));
    clear(slowest).append(slowestTable(stats.slowest_tasks));
    clear(recent).append(recentRuns.items.length
      ? runsTable(recentRuns.items, { compact: true })
      : h("div", { class: "empty" }, "No flow runs yet. Run a flow: orkest run file.py:flow"));
    root.dataset.ready = "1";
  }

  const poller = new Poller(load, 10000);
  poller.start(true);
  return {
    update(q) {
      const r = q.get("range");
      range = RANGES[r] ? r : "24h";
      select.value = range;
      poller.start(true);
    },
    unmount() { poller.stop(); },
  };
}

function slowestTable(rows) {
  if (!rows.length) return h("div", { class: "empty" }, "No finished task runs in this range.");
  return h("table", { class: "data" },
    h("thead", null, h("tr", null, h("th", null, "Task"), h("th", { class: "num" }, "Runs"),
      h("th", { class: "num" }, "Mean"), h("th", { class: "num" }, "Max"))),
    h("tbody", null, rows.map((r) => h("tr", null,
      h("td", { class: "ellipsis mono" }, r.task_name),
      h("td", { class: "num" }, fmtNumber(r.runs)),
      h("td", { class: "num" }, fmtSeconds(r.mean_seconds)),
      h("td", { class: "num" }, fmtSeconds(r.max_seconds))))));
}

function niceStep(max, ticks) {
  const raw = Math.max(max, 1) / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return Math.max(1, (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p);
}

/** Stacked bars of counts per time bucket and state, as SVG. */
function stackedBars(rows, since, now, bucket, width) {
  const start = Math.min(Math.floor(since / bucket) * bucket,
    ...rows.map((r) => r.bucket_ts));
  const n = Math.max(1, Math.ceil((now - start) / bucket));
  const buckets = Array.from({ length: n }, () => new Map());
  const present = new Set();
  for (const r of rows) {
    const i = Math.min(n - 1, Math.max(0, Math.floor((r.bucket_ts - start) / bucket + 1e-6)));
    buckets[i].set(r.state_type, (buckets[i].get(r.state_type) || 0) + r.count);
    present.add(r.state_type);
  }
  const totals = buckets.map((b) => [...b.values()].reduce((a, c) => a + c, 0));
  const max = Math.max(1, ...totals);
  const step = niceStep(max, 4);
  const top = Math.ceil(max / step) * step;

  const W = Math.max(300, width || 1000), H = 220, L = 44, R = 8, T = 10, B = 26;
  const bw = (W - L - R) / n;
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const svg = h("svg:svg", {
    viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": `Flow runs by state in ${n} buckets of ${bucket / 60} minutes; ${totals.reduce((a, c) => a + c, 0)} runs`,
  });
  for (let v = 0; v <= top; v += step) {
    svg.append(h("svg:line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      h("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmtNumber(v)));
  }
  buckets.forEach((b, i) => {
    let acc = 0;
    const x = L + i * bw + Math.min(2, bw * 0.15);
    const w = Math.max(1, bw - 2 * Math.min(2, bw * 0.15));
    for (const s of STACK) {
      const c = b.get(s);
      if (!c) continue;
      const y0 = y(acc), y1 = y(acc + c);
      acc += c;
      svg.append(h("svg:rect", {
        class: "bar", x, width: w, y: y1, height: Math.max(0.5, y0 - y1),
        fill: `var(--s-${s})`, "data-state": s,
      }, h("svg:title", null, `${fmtTime(start + i * bucket)}: ${c} ${titleState(s).toLowerCase()}`)));
    }
  });
  const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor((W - L) / 90))));
  for (let i = n - 1; i >= 0; i -= every) { // the newest bucket always has its label
    const ts = start + i * bucket;
    const d = new Date(ts * 1000);
    const text = bucket >= 86400 ? `${d.getMonth() + 1}/${d.getDate()}`
      : bucket >= 3600 * 6 ? `${d.getMonth() + 1}/${d.getDate()} ${String(d.getHours()).padStart(2, "0")}h`
        : fmtTime(ts, false).slice(0, 5);
    svg.append(h("svg:text", { x: L + (i + 0.5) * bw, y: H - 8, "text-anchor": "middle" }, text));
  }
  const legend = h("div", { class: "legend-row" },
    STATES.filter((s) => present.has(s)).map((s) => h("span", { class: `state-${s}` }, h("i"), titleState(s))));
  if (!rows.length) legend.append(h("span", null, "No flow runs in this range."));
  return [svg, legend];
}
