// The timeline (Gantt chart) of a run's task runs, drawn on a canvas: only rows in view.
//
// A scrolling box holds a sticky canvas and a spacer as tall as all the rows; each scroll
// redraws the rows in view. Ctrl + wheel zooms the time axis, shift + wheel pans it,
// a double click resets it. Clicking a bar opens the task run.

import {
  TERMINAL, fmtDuration, fmtNumber, fmtTime, h, runDuration, stateColour, titleState,
} from "./util.js";

const ROW = 20;
const AXIS = 26;
const MAX_LABEL_W = 190;

export class Timeline {
  constructor(container) {
    this.rows = [];
    this.t0 = 0;
    this.t1 = 1;
    this.view = null; // [t0, t1] when zoomed
    this.canvas = h("canvas", {
      class: "timeline-canvas", id: "timeline-canvas", role: "img",
      "aria-label": "Timeline of task runs (the task table below lists the same runs)",
    });
    this.spacer = h("div");
    this.scroll = h("div", { class: "timeline-scroll", tabindex: 0, id: "timeline-scroll" }, this.canvas, this.spacer);
    this.tip = h("div", { class: "timeline-tip", role: "tooltip" });
    this.box = h("div", { class: "timeline-box", id: "timeline" }, this.scroll, this.tip);
    container.append(this.box);
    this.frame = 0;
    this.scroll.addEventListener("scroll", () => this.schedule());
    this.resizeObserver = new ResizeObserver(() => this.schedule());
    this.resizeObserver.observe(this.scroll);
    this.bindEvents();
  }

  destroy() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
  }

  /** New data. Rows: started runs by start time, then the ones not started yet. */
  update(flowRun, taskRuns, now = Date.now() / 1000) {
    const rows = taskRuns.slice();
    rows.sort((a, b) => (a.start_ts ?? Infinity) - (b.start_ts ?? Infinity) || a.created_ts - b.created_ts);
    this.rows = rows;
    let lo = flowRun.start_ts ?? Infinity, hi = -Infinity;
    for (const r of rows) {
      if (r.start_ts != null && r.start_ts < lo) lo = r.start_ts;
      const end = r.end_ts ?? (r.start_ts != null ? (TERMINAL.has(r.state_type) ? r.state_ts : now) : null);
      if (end != null && end > hi) hi = end;
    }
    const runEnd = flowRun.end_ts ?? (TERMINAL.has(flowRun.state_type) ? flowRun.state_ts : now);
    if (runEnd > hi) hi = runEnd;
    if (!Number.isFinite(lo)) lo = flowRun.created_ts;
    if (!(hi > lo)) hi = lo + 1;
    this.t0 = lo;
    this.t1 = hi;
    this.now = now;
    this.draw();
  }

  domain() {
    return this.view || [this.t0, this.t1];
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  draw() {
    const total = AXIS + this.rows.length * ROW;
    const want = `${Math.min(360, Math.max(AXIS + 3 * ROW, total))}px`;
    if (this.scroll.style.height !== want) this.scroll.style.height = want;
    const width = this.scroll.clientWidth || 800;
    const height = this.scroll.clientHeight || 320;
    const dpr = window.devicePixelRatio || 1;
    this.spacer.style.height = `${Math.max(0, total - height)}px`;
    if (this.canvas.width !== Math.round(width * dpr) || this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const css = getComputedStyle(this.box);
    const fg = css.getPropertyValue("--fg").trim() || "#222";
    const muted = css.getPropertyValue("--muted").trim() || "#777";
    const border = css.getPropertyValue("--border").trim() || "#ddd";
    const hover = css.getPropertyValue("--hover").trim() || "#eee";
    const font = css.getPropertyValue("--font").trim() || "sans-serif";

    const [t0, t1] = this.domain();
    const labelW = this.labelWidth(width);
    const plotX = labelW, plotW = Math.max(10, width - labelW - 12);
    const xOf = (t) => plotX + ((t - t0) / (t1 - t0)) * plotW;
    const top = this.scroll.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW));
    const last = Math.min(this.rows.length, Math.ceil((top + height - AXIS) / ROW) + 1);

    // Grid lines first, under the bars.
    const bg = getComputedStyle(this.box).backgroundColor || "#fff";
    const step = niceTimeStep((t1 - t0) / Math.max(2, Math.floor(plotW / 110)));
    const ticks = [];
    for (let t = Math.ceil((t0 - this.t0) / step) * step; this.t0 + t <= t1 + 1e-9; t += step) {
      ticks.push([t, xOf(this.t0 + t)]);
    }
    ctx.strokeStyle = border;
    ctx.beginPath();
    for (const [, xx] of ticks) {
      ctx.moveTo(Math.round(xx) + 0.5, AXIS);
      ctx.lineTo(Math.round(xx) + 0.5, height);
    }
    ctx.stroke();

    // Rows in view.
    ctx.font = `12px ${font}`;
    ctx.textBaseline = "middle";
    for (let i = first; i < last; i++) {
      const r = this.rows[i];
      const y = AXIS + i * ROW - top;
      if (i === this.hoverRow) { ctx.fillStyle = hover; ctx.fillRect(0, y, width, ROW); }
      ctx.fillStyle = fg;
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, y, labelW - 8, ROW);
      ctx.clip();
      ctx.fillText(r.name, 8, y + ROW / 2);
      ctx.restore();
      if (r.start_ts == null) continue;
      const end = r.end_ts ?? (TERMINAL.has(r.state_type) ? r.state_ts : this.now);
      let xa = xOf(r.start_ts), xb = xOf(end);
      if (xb < plotX || xa > plotX + plotW) continue;
      xa = Math.max(plotX, xa);
      xb = Math.min(plotX + plotW, Math.max(xb, xa + 2));
      ctx.fillStyle = stateColour(r.state_type);
      ctx.fillRect(xa, y + 4, xb - xa, ROW - 8);
    }

    // The axis on top (drawn last, so rows scroll under it).
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, width, AXIS);
    ctx.strokeStyle = border;
    ctx.beginPath();
    ctx.moveTo(0, AXIS - 0.5);
    ctx.lineTo(width, AXIS - 0.5);
    ctx.stroke();
    ctx.fillStyle = muted;
    ctx.fillText(`${fmtNumber(this.rows.length)} task runs`, 8, AXIS / 2);
    ctx.textAlign = "center";
    for (const [t, xx] of ticks) ctx.fillText(`+${fmtDuration(t)}`, xx, AXIS / 2);
    ctx.textAlign = "start";
    this.box.dataset.drawnRows = String(Math.max(0, last - first));
  }

  labelWidth(width) {
    return Math.round(Math.min(MAX_LABEL_W, width * 0.3));
  }

  rowAt(e) {
    const r = this.canvas.getBoundingClientRect();
    const y = e.clientY - r.top;
    if (y < AXIS) return -1;
    const i = Math.floor((y - AXIS + this.scroll.scrollTop) / ROW);
    return i < this.rows.length ? i : -1;
  }

  bindEvents() {
    this.canvas.addEventListener("mousemove", (e) => {
      const i = this.rowAt(e);
      if (i !== this.hoverRow) { this.hoverRow = i; this.schedule(); }
      if (i < 0) { this.tip.style.display = "none"; this.canvas.style.cursor = ""; return; }
      const r = this.rows[i];
      this.canvas.style.cursor = "pointer";
      this.tip.textContent = `${r.name} · ${titleState(r.state_type)} · ${r.start_ts ? `${fmtTime(r.start_ts, false)}, ${fmtDuration(runDuration(r))}` : "not started"}`;
      const box = this.box.getBoundingClientRect();
      this.tip.style.display = "block";
      this.tip.style.left = `${Math.min(e.clientX - box.left + 12, box.width - this.tip.offsetWidth - 4)}px`;
      this.tip.style.top = `${e.clientY - box.top + 14}px`;
    });
    this.canvas.addEventListener("mouseleave", () => {
      this.hoverRow = -1;
      this.tip.style.display = "none";
      this.schedule();
    });
    this.canvas.addEventListener("click", (e) => {
      const i = this.rowAt(e);
      if (i >= 0) location.hash = `#/task-runs/${this.rows[i].id}`;
    });
    this.canvas.addEventListener("dblclick", () => { this.view = null; this.schedule(); });
    this.scroll.addEventListener("wheel", (e) => {
      if (!e.ctrlKey && !e.metaKey && !e.shiftKey) return; // plain wheel scrolls the rows
      e.preventDefault();
      const [t0, t1] = this.domain();
      const r = this.canvas.getBoundingClientRect();
      const labelW = this.labelWidth(r.width);
      const plotW = Math.max(10, r.width - labelW - 12);
      const frac = Math.min(1, Math.max(0, (e.clientX - r.left - labelW) / plotW));
      const span = t1 - t0;
      let n0, n1;
      if (e.shiftKey && !e.ctrlKey) {
        const dt = (e.deltaY || e.deltaX) / plotW * span;
        n0 = t0 + dt; n1 = t1 + dt;
      } else {
        const f = Math.exp(e.deltaY * 0.002);
        const at = t0 + frac * span;
        n0 = at - (at - t0) * f; n1 = at + (t1 - at) * f;
      }
      const full = this.t1 - this.t0;
      if (n1 - n0 >= full) { this.view = null; } else {
        if (n0 < this.t0) { n1 += this.t0 - n0; n0 = this.t0; }
        if (n1 > this.t1) { n0 -= n1 - this.t1; n1 = this.t1; }
        this.view = [n0, Math.max(n0 + 1e-3, n1)];
      }
      this.schedule();
    }, { passive: false });
  }
}

function niceTimeStep(raw) {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60,
    120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  for (const s of steps) if (s >= raw) return s;
  return Math.ceil(raw / 86400) * 86400;
}
