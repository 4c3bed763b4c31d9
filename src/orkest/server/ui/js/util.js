// Small helpers shared by every page: DOM building, formatting, state names.

export const STATES = [
  "SCHEDULED", "PENDING", "RUNNING", "AWAITING_RETRY", "PAUSED", "CANCELLING",
  "COMPLETED", "FAILED", "CRASHED", "CANCELLED", "SKIPPED",
];
export const TERMINAL = new Set(["COMPLETED", "FAILED", "CRASHED", "CANCELLED", "SKIPPED"]);
export const FAILURES = new Set(["FAILED", "CRASHED", "CANCELLED"]);
export const ACTIVE = new Set(["RUNNING", "AWAITING_RETRY", "PAUSED", "CANCELLING"]);
export const LEVELS = [[10, "DEBUG"], [20, "INFO"], [30, "WARNING"], [40, "ERROR"], [50, "CRITICAL"]];

/** h("div", {class: "x", onclick: fn}, child, "text", [more]) -> Element. */
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function badge(state, name, big = false) {
  const s = state || "NONE";
  const label = name || titleState(s);
  return h("span", {
    class: `badge state-${s}${big ? " big" : ""}`, "data-state": s,
    title: name && name !== titleState(s) ? `${s} (${name})` : s,
  }, label);
}

export function titleState(s) {
  if (!s || s === "NONE") return "Not started";
  return s.charAt(0) + s.slice(1).toLowerCase().replace("_", " ");
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds < 0) seconds = 0;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${Math.round(seconds % 60)}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${m % 60}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

export function runDuration(run, now = Date.now() / 1000) {
  if (run.start_ts === null || run.start_ts === undefined) return null;
  const end = run.end_ts ?? (TERMINAL.has(run.state_type) ? run.state_ts : now);
  return end - run.start_ts;
}

const pad = (n) => String(n).padStart(2, "0");

export function fmtTime(ts, withDate = true) {
  if (ts === null || ts === undefined) return "–";
  const d = new Date(ts * 1000);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (!withDate) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function fmtRelative(ts) {
  if (ts === null || ts === undefined) return "–";
  const s = Date.now() / 1000 - ts;
  if (s < 5) return "just now";
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** Age to the second ("3 s ago"): heartbeats, where "just now" says too little. */
export function fmtAgo(ts, now = Date.now() / 1000) {
  if (ts === null || ts === undefined) return "never";
  const s = Math.max(0, Math.round(now - ts));
  if (s < 120) return `${s} s ago`;
  return fmtRelative(ts);
}

/** Time until a moment ("in 5 min"), or its age when it has passed. */
export function fmtUntil(ts, now = Date.now() / 1000) {
  if (ts === null || ts === undefined) return "–";
  const s = ts - now;
  if (s < 0) return fmtRelative(ts);
  if (s < 60) return `in ${Math.round(s)} s`;
  if (s < 3600) return `in ${Math.round(s / 60)} min`;
  if (s < 86400 * 2) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86400)} d`;
}

/** An ISO time as its own wall clock and offset: "2025-03-30 03:00 +02:00" (the zone's time,
 * not the browser's, so a schedule's runs read as its schedule says). */
export function fmtIsoWall(iso) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(iso || "");
  if (!m) return iso || "–";
  const offset = !m[4] || m[4] === "Z" || m[4] === "+00:00" ? "UTC" : m[4];
  const secs = m[3] && m[3] !== ":00" ? m[3] : "";
  return `${m[1]} ${m[2]}${secs} ${offset}`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmtNumber(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
}

export function fmtSeconds(n) {
  return n === null || n === undefined ? "–" : `${n.toFixed(n < 10 ? 3 : 1)} s`;
}

export function levelName(level) {
  let name = `L${level}`;
  for (const [n, label] of LEVELS) if (level >= n) name = label;
  return name;
}

export function shortId(id) {
  return id ? id.slice(0, 8) : "";
}

export function jsonText(value) {
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** The computed colour of a state (for canvas drawing). */
const colourCache = new Map();
export function stateColour(state) {
  const key = state || "NONE";
  let c = colourCache.get(key);
  if (!c) {
    c = getComputedStyle(document.documentElement).getPropertyValue(`--s-${key}`).trim() || "#999";
    colourCache.set(key, c);
  }
  return c;
}
export function resetColourCache() { colourCache.clear(); }

export function toast(message, kind = "info", ms = 5000) {
  const box = document.getElementById("toasts");
  const el = h("div", { class: `toast ${kind}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

/** A repeating poll that waits for each call to finish and backs off when calls are slow. */
export class Poller {
  constructor(fn, intervalMs = 1000) {
    this.fn = fn;
    this.intervalMs = intervalMs;
    this.timer = null;
    this.stopped = true;
  }
  start(immediate = false) {
    this.stopped = false;
    this.schedule(immediate ? 0 : this.intervalMs);
  }
  schedule(ms) {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(() => this.tick(), ms);
  }
  async tick() {
    if (this.stopped) return;
    if (document.hidden && this.ticks) { // a background tab asks nothing until it is seen
      this.schedule(this.intervalMs);
      return;
    }
    this.ticks = (this.ticks || 0) + 1;
    const t0 = performance.now();
    let again = true;
    try {
      again = (await this.fn()) !== false;
    } catch (err) {
      console.warn("poll failed", err);
    }
    const took = performance.now() - t0;
    // A poll never takes more than a third of the time: big runs are polled less often.
    if (again && !this.stopped) this.schedule(Math.max(this.intervalMs, took * 2));
    else this.stopped = true;
  }
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}
