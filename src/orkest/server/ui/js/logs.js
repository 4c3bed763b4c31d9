// Logs with a live tail: fetch what is new after the last id, append, follow the bottom.

import { api } from "./api.js";
import { LEVELS, clear, fmtNumber, fmtTime, h, levelName } from "./util.js";

const KEEP = 5000; // lines kept in the page; older ones are dropped from view
const PAGE = 1000;

export class LogPanel {
  /** path: "flow_runs/<id>/logs" or "task_runs/<id>/logs"; taskNames: id -> name. */
  constructor(container, path, { taskNames = null, serverLevelFilter = true } = {}) {
    this.path = path;
    this.taskNames = taskNames;
    this.serverLevelFilter = serverLevelFilter;
    this.afterId = 0;
    this.minLevel = 0;
    this.count = 0;
    this.dropped = 0;
    this.busy = null;
    this.generation = 0;
    this.unnamed = []; // [element, task run id] of lines whose task is not known yet

    this.levelSelect = h("select", { id: "log-level", "aria-label": "Minimum log level" },
      h("option", { value: 0 }, "All levels"),
      LEVELS.slice(0, 4).map(([n, name]) => h("option", { value: n }, `${name} and above`)));
    this.follow = h("input", { type: "checkbox", id: "log-follow", checked: true });
    this.info = h("span", { class: "muted small", id: "log-count" });
    this.controls = h("div", { class: "actions" }, this.levelSelect,
      h("label", { class: "small", style: { display: "flex", alignItems: "center", gap: "4px" } }, this.follow, "Follow"),
      this.info);
    this.list = h("div", { class: "logs", id: "logs", role: "log", "aria-live": "off", tabindex: 0, "aria-label": "Logs" },
      h("div", { class: "empty" }, "No logs yet."));
    container.append(this.list);

    this.levelSelect.addEventListener("change", () => {
      this.minLevel = Number(this.levelSelect.value);
      this.reset();
      this.poll();
    });
    this.follow.addEventListener("change", () => {
      if (this.follow.checked) this.list.scrollTop = this.list.scrollHeight;
    });
    this.list.addEventListener("scroll", () => {
      const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 30;
      if (this.follow.checked !== atBottom && this.count) this.follow.checked = atBottom;
    });
  }

  /** A finished run's empty log says so, instead of "not yet". */
  setFinal(final) {
    this.final = final;
    const empty = this.count ? null : this.list.querySelector(".empty");
    if (empty) empty.textContent = final ? "No logs." : "No logs yet.";
  }

  /** Prefix lines with their task's name; a line can arrive before its task run does. */
  nameTasks() {
    if (!this.unnamed.length) return;
    this.unnamed = this.unnamed.filter(([el, id]) => {
      const name = this.taskNames(id);
      if (name) el.textContent = `${name} │ `;
      return !name && el.isConnected; // lines dropped from view are forgotten
    });
  }

  reset() {
    this.generation++;
    this.afterId = 0;
    this.count = 0;
    this.dropped = 0;
    this.unnamed = [];
    clear(this.list).append(h("div", { class: "empty" }, this.final ? "No logs." : "No logs yet."));
  }

  /** Fetch everything new (in pages); concurrent calls share one fetch. */
  poll() {
    if (!this.busy) this.busy = this.fetchNew().finally(() => { this.busy = null; });
    return this.busy;
  }

  async fetchNew() {
    const gen = this.generation;
    for (let pages = 0; pages < 20; pages++) {
      const query = { after_id: this.afterId, limit: PAGE };
      if (this.minLevel && this.serverLevelFilter) query.min_level = this.minLevel;
      const page = await api(this.path, { query });
      if (gen !== this.generation) return;
      const lines = page.items.filter((l) => l.level >= this.minLevel);
      if (lines.length) this.append(lines);
      const next = page.next_after_id ?? (page.items.length ? page.items[page.items.length - 1].id : this.afterId);
      const more = page.items.length >= PAGE && next !== this.afterId;
      this.afterId = next;
      if (!more) break;
    }
  }

  append(lines) {
    if (!this.count) clear(this.list);
    const frag = document.createDocumentFragment();
    for (const l of lines) {
      const who = this.taskNames && l.task_run_id ? h("span", { class: "muted" }) : null;
      frag.append(h("div", { class: `logline lvl-${Math.min(50, Math.floor(l.level / 10) * 10)}`, "data-level": l.level },
        h("span", { class: "ts", title: fmtTime(l.ts) }, fmtTime(l.ts, false)),
        h("span", { class: "lvl" }, levelName(l.level)),
        h("span", { class: "msg" }, who, l.message)));
      if (who) this.unnamed.push([who, l.task_run_id]);
    }
    this.list.append(frag);
    this.nameTasks();
    this.count += lines.length;
    const extra = this.list.childElementCount - KEEP;
    for (let i = 0; i < extra; i++) this.list.firstElementChild.remove();
    if (extra > 0) this.dropped += extra;
    this.info.textContent = `${fmtNumber(this.count)} lines${this.dropped ? ` (oldest ${fmtNumber(this.dropped)} not shown)` : ""}`;
    if (this.follow.checked) this.list.scrollTop = this.list.scrollHeight;
  }
}
