// The task runs of a flow run as a virtualized table: only the rows in view are in the DOM.

import {
  STATES, TERMINAL, badge, fmtBytes, fmtDuration, fmtNumber, fmtSeconds, fmtTime, h,
  runDuration, titleState,
} from "./util.js";

const ROW_H = 30;
const COLUMNS = [
  { key: "name", label: "Task run", get: (r) => r.name },
  { key: "state", label: "State", get: (r) => STATES.indexOf(r.state_type) },
  { key: "start", label: "Started", get: (r) => r.start_ts ?? Infinity },
  { key: "duration", label: "Duration", num: true, get: (r, now) => runDuration(r, now) ?? -1 },
  { key: "retries", label: "Retries", num: true, get: (r) => Math.max(0, (r.run_count || 0) - 1) },
  { key: "cpu", label: "CPU", num: true, get: (r) => r.cpu_seconds ?? -1 },
  { key: "mem", label: "Peak memory", num: true, get: (r) => r.peak_rss_bytes ?? -1 },
];

export class TaskTable {
  constructor(container) {
    this.all = [];
    this.rows = [];
    this.sort = null; // {key, dir}
    this.text = "";
    this.state = "";
    this.rendered = new Map();

    this.search = h("input", {
      type: "search", id: "task-filter", placeholder: "Filter by name", "aria-label": "Filter task runs by name",
    });
    this.stateSelect = h("select", { id: "task-state-filter", "aria-label": "Filter task runs by state" },
      h("option", { value: "" }, "All states"), STATES.map((s) => h("option", { value: s }, titleState(s))));
    this.info = h("span", { class: "muted small", id: "task-count", "aria-live": "polite" });
    this.head = h("div", { class: "vhead", role: "row" }, COLUMNS.map((c) =>
      h("div", { role: "columnheader", class: c.num ? "num" : "", "data-col": c.key },
        h("button", { type: "button", onclick: () => this.toggleSort(c.key) }, c.label))));
    this.inner = h("div", { role: "rowgroup", style: { position: "relative" } });
    // The header scrolls with the rows (sticky), so that columns line up beside a scrollbar.
    this.body = h("div", { class: "vbody", tabindex: 0, "aria-label": "Task runs" },
      h("div", { role: "rowgroup", class: "vhead-wrap" }, this.head), this.inner);
    this.table = h("div", { class: "vtable", role: "table", id: "task-table", "aria-rowcount": 0 }, this.body);
    this.controls = h("div", { class: "actions" }, this.search, this.stateSelect, this.info);
    container.append(this.table);

    this.search.addEventListener("input", () => { this.text = this.search.value.trim().toLowerCase(); this.refresh(); });
    this.stateSelect.addEventListener("change", () => { this.state = this.stateSelect.value; this.refresh(); });
    this.body.addEventListener("scroll", () => this.draw());
  }

  /** Show only the runs of one task (a grouped graph node was clicked). */
  showTask(name) {
    this.search.value = name;
    this.text = name.toLowerCase();
    this.refresh();
    this.table.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  setRows(taskRuns, now = Date.now() / 1000) {
    this.all = taskRuns;
    this.now = now;
    this.refresh();
  }

  toggleSort(key) {
    if (!this.sort || this.sort.key !== key) this.sort = { key, dir: 1 };
    else if (this.sort.dir === 1) this.sort = { key, dir: -1 };
    else this.sort = null;
    for (const el of this.head.children) {
      const k = el.dataset.col;
      el.setAttribute("aria-sort", this.sort && this.sort.key === k ? (this.sort.dir === 1 ? "ascending" : "descending") : "none");
    }
    this.refresh();
  }

  refresh() {
    let rows = this.all;
    if (this.text || this.state) {
      rows = rows.filter((r) => (!this.state || r.state_type === this.state)
        && (!this.text || r.name.toLowerCase().includes(this.text) || r.task_name.toLowerCase() === this.text));
    }
    if (this.sort) {
      const col = COLUMNS.find((c) => c.key === this.sort.key);
      const dir = this.sort.dir;
      const keyed = rows.map((r) => [col.get(r, this.now), r]);
      keyed.sort((a, b) => (a[0] < b[0] ? -dir : a[0] > b[0] ? dir : 0));
      rows = keyed.map((k) => k[1]);
    }
    this.rows = rows;
    this.info.textContent = rows.length === this.all.length
      ? `${fmtNumber(rows.length)} task runs` : `${fmtNumber(rows.length)} of ${fmtNumber(this.all.length)} task runs`;
    this.table.setAttribute("aria-rowcount", rows.length + 1);
    this.inner.style.height = `${rows.length * ROW_H}px`;
    const head = this.head.offsetHeight || ROW_H;
    this.body.style.height = `${Math.min(400, head + Math.max(ROW_H * 2, rows.length * ROW_H) + 2)}px`;
    for (const { el } of this.rendered.values()) el.remove();
    this.rendered.clear();
    this.draw();
  }

  draw() {
    const top = Math.max(0, this.body.scrollTop - (this.head.offsetHeight || ROW_H));
    const height = this.body.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_H) - 5);
    const last = Math.min(this.rows.length, Math.ceil((top + height) / ROW_H) + 5);
    for (const [i, { el }] of this.rendered) {
      if (i < first || i >= last) { el.remove(); this.rendered.delete(i); }
    }
    for (let i = first; i < last; i++) {
      if (this.rendered.has(i)) continue;
      const el = this.row(this.rows[i], i);
      this.inner.append(el);
      this.rendered.set(i, { el });
    }
  }

  row(r, i) {
    const retries = Math.max(0, (r.run_count || 0) - 1);
    const live = !TERMINAL.has(r.state_type);
    return h("div", {
      class: "vrow", role: "row", "aria-rowindex": i + 2, style: { top: `${i * ROW_H}px` },
      "data-task-run-id": r.id, "data-state": r.state_type,
    },
    h("div", { role: "cell" }, h("a", { href: `#/task-runs/${r.id}`, title: r.name }, r.name)),
    h("div", { role: "cell" }, badge(r.state_type, r.state_name)),
    h("div", { role: "cell", class: "small" }, fmtTime(r.start_ts, false)),
    h("div", { role: "cell", class: "num" }, fmtDuration(runDuration(r, this.now)) + (live && r.start_ts ? "…" : "")),
    h("div", { role: "cell", class: "num", title: `${retries} of ${r.retries} allowed` }, String(retries)),
    h("div", { role: "cell", class: "num" }, r.cpu_seconds == null ? "–" : fmtSeconds(r.cpu_seconds)),
    h("div", { role: "cell", class: "num", title: r.resource_scope === "thread" ? "the process's high-water mark" : "" },
      fmtBytes(r.peak_rss_bytes)));
  }
}
