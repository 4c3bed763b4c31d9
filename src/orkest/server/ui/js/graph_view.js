// The graph drawn in SVG with pan and zoom; only nodes and edges in view are in the DOM.
//
// Nodes are keyed elements, created when they scroll into view and removed when they leave;
// a state change updates the node's class in place. All visible edges are one <path>.
// Far zoomed out, nodes lose their text (level of detail) to stay cheap.

import { NODE_H, NODE_W, buildModel, layout } from "./graph.js";
import { STATES, fmtDuration, fmtNumber, h, runDuration, titleState } from "./util.js";

const MIN_READABLE = 0.5;
const DETAIL_SCALE = 0.4;

export class GraphView {
  constructor(container, { onGroup } = {}) {
    this.onGroup = onGroup;
    this.model = null;
    this.pos = null;
    this.scale = 1;
    this.tx = 20;
    this.ty = 20;
    this.userMoved = false;
    this.rendered = new Map(); // node index -> {el, sig}
    this.frame = 0;

    this.edgesPath = h("svg:path", { class: "graph-edges" });
    this.nodeLayer = h("svg:g", { class: "graph-nodes" });
    this.viewport = h("svg:g", { class: "graph-viewport" }, this.edgesPath, this.nodeLayer);
    this.svg = h("svg:svg", {
      id: "graph-svg", tabindex: 0, role: "group",
      "aria-label": "Task graph. Drag or use arrow keys to pan, mouse wheel or + and - to zoom, 0 to fit.",
    }, this.viewport);
    this.count = h("div", { class: "legend", id: "graph-count" });
    const zoomBtn = (label, title, fn, id) => h("button", { type: "button", class: "icon", title, "aria-label": title, id, onclick: fn }, label);
    this.box = h("div", { class: "graph-box", id: "graph-box" }, this.svg,
      h("div", { class: "zoom" },
        zoomBtn("+", "Zoom in", () => this.zoomBy(1.25), "graph-zoom-in"),
        zoomBtn("−", "Zoom out", () => this.zoomBy(0.8), "graph-zoom-out"),
        zoomBtn("⤢", "Fit to view", () => this.fit(true), "graph-fit")),
      this.count);
    container.append(this.box);
    this.bindEvents();
    this.resizeObserver = new ResizeObserver(() => this.schedule());
    this.resizeObserver.observe(this.box);
  }

  destroy() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
  }

  /** New data: relayout only when the structure changed; otherwise restyle nodes in place. */
  update(flowRun, taskRuns, { group }) {
    const model = buildModel(flowRun, taskRuns, { group });
    const structural = !this.model || model.signature !== this.model.signature
      || model.grouped !== this.model.grouped;
    this.model = model;
    if (structural) {
      this.pos = layout(model);
      this.clearNodes();
      // Small graphs get a shorter box; big ones a taller one to explore.
      this.box.style.height = `${Math.round(Math.max(240, Math.min(620, this.pos.height + 90)))}px`;
      if (!this.userMoved) this.fit(false);
    }
    this.draw();
    const groups = model.nodes.filter((n) => n.total > 1).length;
    this.count.textContent = `${fmtNumber(model.nodes.length)} nodes · ${fmtNumber(taskRuns.length)} task runs`
      + (groups ? ` · ${fmtNumber(groups)} grouped` : "");
    return model;
  }

  clearNodes() {
    for (const { el } of this.rendered.values()) el.remove();
    this.rendered.clear();
  }

  size() {
    return { w: this.svg.clientWidth || 800, h: this.svg.clientHeight || 400 };
  }

  /** Fit the graph, but never below a readable scale on first open (big graphs start at
   *  their sources and are explored by panning). */
  fit(force) {
    if (!this.pos) return;
    const { w, h: hh } = this.size();
    const pad = 24;
    const s = Math.min(1.2, (w - 2 * pad) / Math.max(1, this.pos.width), (hh - 2 * pad) / Math.max(1, this.pos.height));
    if (force || s >= MIN_READABLE) {
      this.scale = s;
      this.tx = (w - this.pos.width * s) / 2;
      this.ty = (hh - this.pos.height * s) / 2;
    } else {
      this.scale = MIN_READABLE;
      this.tx = pad;
      // Centre on the first layer's nodes.
      const first = this.pos.layers[0] || [];
      let cy = this.pos.height / 2;
      if (first.length) cy = (this.pos.y[first[0]] + this.pos.y[first[first.length - 1]] + NODE_H) / 2;
      this.ty = hh / 2 - cy * this.scale;
    }
    if (force) this.userMoved = false;
    this.schedule();
  }

  zoomBy(f, cx, cy) {
    const { w, h: hh } = this.size();
    cx = cx ?? w / 2;
    cy = cy ?? hh / 2;
    const minScale = Math.min(0.02, this.fitScale());
    const s = Math.max(minScale, Math.min(3, this.scale * f));
    this.tx = cx - ((cx - this.tx) * s) / this.scale;
    this.ty = cy - ((cy - this.ty) * s) / this.scale;
    this.scale = s;
    this.userMoved = true;
    this.schedule();
  }

  fitScale() {
    if (!this.pos) return 1;
    const { w, h: hh } = this.size();
    return Math.min((w - 48) / Math.max(1, this.pos.width), (hh - 48) / Math.max(1, this.pos.height));
  }

  panBy(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.userMoved = true;
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Put what is in view into the DOM (and take out what left it). */
  draw() {
    if (!this.model || !this.pos) return;
    const { x, y } = this.pos;
    const { w, h: hh } = this.size();
    const s = this.scale;
    this.viewport.setAttribute("transform", `translate(${this.tx},${this.ty}) scale(${s})`);
    const margin = 60 / s;
    const x0 = -this.tx / s - margin, y0 = -this.ty / s - margin;
    const x1 = (w - this.tx) / s + margin, y1 = (hh - this.ty) / s + margin;
    const detail = s >= DETAIL_SCALE;
    const nodes = this.model.nodes;
    const visible = new Set();
    for (let i = 0; i < nodes.length; i++) {
      if (x[i] + NODE_W < x0 || x[i] > x1 || y[i] + NODE_H < y0 || y[i] > y1) continue;
      visible.add(i);
      const n = nodes[i];
      const took = n.single && n.single.start_ts ? Math.floor(runDuration(n.single)) : "";
      const sig = `${detail}|${n.state}|${n.stateName}|${n.total}|${stateCounts(n)}|${took}|${x[i]}|${y[i]}`;
      const have = this.rendered.get(i);
      if (have && have.sig === sig) continue;
      const el = this.nodeElement(n, x[i], y[i], detail);
      if (have) have.el.replaceWith(el);
      else this.nodeLayer.append(el);
      this.rendered.set(i, { el, sig });
    }
    for (const [i, { el }] of this.rendered) {
      if (!visible.has(i)) {
        el.remove();
        this.rendered.delete(i);
      }
    }
    // Edges: one path of cubic curves, right side of the source to the left of the target.
    let d = "";
    for (const [a, b] of this.model.edges) {
      const ax = x[a] + NODE_W, ay = y[a] + NODE_H / 2, bx = x[b], by = y[b] + NODE_H / 2;
      if (Math.max(ax, bx) < x0 || Math.min(ax, bx) > x1 || Math.max(ay, by) < y0 || Math.min(ay, by) > y1) continue;
      if (bx > ax) {
        const mx = (ax + bx) / 2;
        d += `M${ax},${ay}C${mx},${ay} ${mx},${by} ${bx},${by}`;
      } else { // a back edge (a cycle between groups): loop around underneath
        const low = Math.max(ay, by) + NODE_H;
        d += `M${ax},${ay}C${ax + 40},${low} ${bx - 40},${low} ${bx},${by}`;
      }
    }
    this.edgesPath.setAttribute("d", d);
    this.svg.dataset.visibleNodes = String(visible.size);
  }

  /** One node: a link to its task run, or a button that lists a group's runs. */
  nodeElement(n, x, y, detail) {
    const single = n.single;
    const what = single ? titleState(n.state) : n.total ? `${fmtNumber(n.total)} runs: ${summary(n)}` : "not started";
    const title = `${n.label} — ${what}`;
    let body;
    if (detail) {
      const sub = single
        ? `${single.state_name || titleState(n.state)}${single.start_ts ? ` · ${fmtDuration(runDuration(single))}` : ""}`
        : n.total ? `${fmtNumber(n.total)} runs · ${summary(n)}` : `${n.kind} · not started`;
      const label = n.label.length > 26 ? `${n.label.slice(0, 25)}…` : n.label;
      body = [
        h("svg:title", null, title),
        h("svg:rect", { class: "box", width: NODE_W, height: NODE_H, rx: 6 }),
        h("svg:rect", { class: "fill", width: NODE_W, height: NODE_H, rx: 6 }),
        h("svg:rect", { class: "stripe", width: 5, height: NODE_H, rx: 2 }),
        h("svg:text", { x: 14, y: 19 }, label),
        h("svg:text", { class: "sub", x: 14, y: 35 }, sub),
        n.total > 1 ? stateBar(n) : null,
      ];
    } else { // far out: a coloured block, no text
      body = [h("svg:title", null, title), h("svg:rect", { class: "stripe", width: NODE_W, height: NODE_H, rx: 8 })];
    }
    const attrs = {
      class: `gnode state-${n.state}`, "data-node": n.label, "data-state": n.state,
      transform: `translate(${x},${y})`,
    };
    if (single) {
      return h("svg:g", attrs, h("svg:a", { href: `#/task-runs/${single.id}`, "aria-label": title }, body));
    }
    const g = h("svg:g", { ...attrs, tabindex: n.total ? 0 : null, role: n.total ? "button" : "img", "aria-label": title }, body);
    if (n.total && this.onGroup) {
      g.style.cursor = "pointer";
      g.addEventListener("click", () => { if (!this.dragged) this.onGroup(n); });
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); this.onGroup(n); } });
    }
    return g;
  }

  bindEvents() {
    let drag = null;
    this.svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, moved: 0, id: e.pointerId };
      this.dragged = false;
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!drag || drag.id !== e.pointerId) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag.moved += Math.abs(dx) + Math.abs(dy);
      if (drag.moved > 4 && !this.dragged) {
        this.dragged = true;
        this.svg.setPointerCapture(e.pointerId);
        this.svg.classList.add("dragging");
      }
      drag.x = e.clientX;
      drag.y = e.clientY;
      if (this.dragged) this.panBy(dx, dy);
    });
    const end = () => {
      drag = null;
      this.svg.classList.remove("dragging");
      setTimeout(() => { this.dragged = false; }, 0);
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
    // A drag that ends on a node link must not follow it.
    this.svg.addEventListener("click", (e) => { if (this.dragged) { e.preventDefault(); e.stopPropagation(); } }, true);
    this.svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = this.svg.getBoundingClientRect();
      if (e.ctrlKey || !e.shiftKey) this.zoomBy(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), e.clientX - r.left, e.clientY - r.top);
      else this.panBy(-e.deltaY, 0);
    }, { passive: false });
    this.svg.addEventListener("keydown", (e) => {
      const step = 60;
      const keys = {
        ArrowLeft: () => this.panBy(step, 0), ArrowRight: () => this.panBy(-step, 0),
        ArrowUp: () => this.panBy(0, step), ArrowDown: () => this.panBy(0, -step),
        "+": () => this.zoomBy(1.25), "=": () => this.zoomBy(1.25), "-": () => this.zoomBy(0.8),
        0: () => this.fit(true),
      };
      if (e.target !== this.svg || !keys[e.key]) return;
      e.preventDefault();
      keys[e.key]();
    });
  }
}

function stateCounts(n) {
  let s = "";
  for (const k of STATES) if (n.counts[k]) s += `${k}${n.counts[k]},`;
  return s;
}

function summary(n) {
  const parts = [];
  for (const k of STATES) if (n.counts[k]) parts.push(`${fmtNumber(n.counts[k])} ${titleState(k).toLowerCase()}`);
  return parts.join(", ");
}

function stateBar(n) {
  const g = h("svg:g", { class: "statebar", transform: `translate(5,${NODE_H - 5})` });
  let x = 0;
  const w = NODE_W - 5;
  for (const k of STATES) {
    const c = n.counts[k];
    if (!c) continue;
    const bw = (w * c) / n.total;
    g.append(h("svg:rect", { x, width: Math.max(bw, 1), height: 4, fill: `var(--s-${k})` }));
    x += bw;
  }
  return g;
}
