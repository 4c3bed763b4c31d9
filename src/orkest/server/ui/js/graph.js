// The task graph of a flow run: a model built from the run's records, and a layered layout.
//
// Model: DAG runs carry their graph (`flow_run.graph`: nodes and edges known before any
// task starts); Python flows get theirs from the task runs' `upstream` ids. Runs of the same
// task (mapped or called in a loop) can be grouped into one node with counts by state.
//
// Layout: a left-to-right layered drawing. Back edges found by depth-first search are set
// aside, layers are longest paths from the sources, and the order inside each layer comes
// from a few barycentric sweeps. Everything is linear or n log n per sweep, so 10,000
// nodes lay out in tens of milliseconds.

import { TERMINAL } from "./util.js";

export const NODE_W = 190;
export const NODE_H = 46;
export const GAP_X = 70;
export const GAP_Y = 16;

// A group shows the state that needs attention first.
const GROUP_PRIORITY = ["RUNNING", "CANCELLING", "AWAITING_RETRY", "PAUSED", "FAILED", "CRASHED",
  "PENDING", "SCHEDULED", "CANCELLED", "COMPLETED", "SKIPPED"];

function groupState(counts, total) {
  if (!total) return "NONE";
  const done = GROUP_PRIORITY.filter((s) => counts[s]);
  // Mixed finished groups: failures win over completions, completions over skips.
  return done[0] || "NONE";
}

/**
 * Build the graph model.
 * @returns {{nodes: Array, edges: Array<[number, number]>, signature: string, grouped: boolean}}
 *   node: {key, label, kind, state, stateName, counts, total, runIds, single, index}
 */
export function buildModel(flowRun, taskRuns, { group = false } = {}) {
  const nodes = [];
  const index = new Map(); // node key -> node index
  const runNode = new Map(); // task run id -> node index

  const addNode = (key, label, kind) => {
    let i = index.get(key);
    if (i === undefined) {
      i = nodes.length;
      index.set(key, i);
      nodes.push({ key, label, kind, counts: {}, total: 0, runIds: [], index: i, single: null });
    }
    return i;
  };
  const edges = [];
  const seen = new Set();
  const addEdge = (a, b) => {
    if (a === b || a === undefined || b === undefined) return;
    const k = a * 1048576 + b;
    if (seen.has(k)) return;
    seen.add(k);
    edges.push([a, b]);
  };

  const graph = flowRun.graph;
  const declared = graph && Array.isArray(graph.nodes) && graph.nodes.length > 0;
  if (declared) {
    for (const n of graph.nodes) addNode(`n:${n.id}`, n.id, n.kind || "task");
    for (const [a, b] of graph.edges || []) addEdge(index.get(`n:${a}`), index.get(`n:${b}`));
  }
  for (const r of taskRuns) {
    let i;
    if (declared) {
      i = index.get(`n:${r.name}`);
      if (i === undefined) i = index.get(`n:${r.task_name}`);
      if (i === undefined) i = addNode(`k:${r.task_key}`, r.task_name, "task");
    } else if (group) {
      i = addNode(`k:${r.task_key || r.task_name}`, r.task_name, "task");
    } else {
      i = addNode(`r:${r.id}`, r.name, "task");
    }
    runNode.set(r.id, i);
    const n = nodes[i];
    n.counts[r.state_type] = (n.counts[r.state_type] || 0) + 1;
    n.total++;
    n.runIds.push(r.id);
    n.single = n.total === 1 ? r : null;
  }
  if (!declared) {
    for (const r of taskRuns) {
      const b = runNode.get(r.id);
      for (const u of r.upstream || []) addEdge(runNode.get(u), b);
    }
  }
  for (const n of nodes) {
    n.state = n.single ? n.single.state_type : groupState(n.counts, n.total);
    n.stateName = n.single ? n.single.state_name : null;
    n.finished = n.total > 0 && Object.keys(n.counts).every((s) => TERMINAL.has(s));
  }
  // The structure's identity: same nodes and edges keep the layout (only states change).
  const signature = `${nodes.length}:${edges.length}:${nodes.length ? nodes[nodes.length - 1].key : ""}`;
  return { nodes, edges, signature, grouped: group || declared };
}

/**
 * Lay the model out left to right. Returns {x: Float64Array, y: Float64Array, layer:
 * Int32Array, width, height, layers: number[][]}, coordinates of each node's top-left corner.
 */
export function layout(model) {
  const n = model.nodes.length;
  const succ = Array.from({ length: n }, () => []);
  const pred = Array.from({ length: n }, () => []);

  // 1. Set back edges aside (iterative DFS), so that layering sees a DAG.
  const out = Array.from({ length: n }, () => []);
  for (const [a, b] of model.edges) out[a].push(b);
  const colour = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const stackNode = new Int32Array(n);
  const stackPos = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    if (colour[s]) continue;
    let top = 0;
    stackNode[0] = s; stackPos[0] = 0; colour[s] = 1;
    while (top >= 0) {
      const v = stackNode[top];
      const edgesOut = out[v];
      if (stackPos[top] < edgesOut.length) {
        const w = edgesOut[stackPos[top]++];
        if (colour[w] === 1) continue; // back edge: drawn, but not a layering constraint
        succ[v].push(w);
        pred[w].push(v);
        if (colour[w] === 0) {
          colour[w] = 1;
          top++;
          stackNode[top] = w; stackPos[top] = 0;
        }
      } else {
        colour[v] = 2;
        top--;
      }
    }
  }

  // 2. Longest-path layering in topological order (Kahn).
  const layer = new Int32Array(n);
  const indeg = new Int32Array(n);
  for (let v = 0; v < n; v++) indeg[v] = pred[v].length;
  const order = [];
  for (let v = 0; v < n; v++) if (!indeg[v]) order.push(v);
  for (let k = 0; k < order.length; k++) {
    const v = order[k];
    for (const w of succ[v]) {
      if (layer[v] + 1 > layer[w]) layer[w] = layer[v] + 1;
      if (--indeg[w] === 0) order.push(w);
    }
  }
  let depth = 0;
  for (let v = 0; v < n; v++) if (layer[v] > depth) depth = layer[v];
  // Pull sources next to their first consumer, so that a late input is not drawn far left.
  for (let k = order.length - 1; k >= 0; k--) {
    const v = order[k];
    if (pred[v].length || !succ[v].length) continue;
    let m = Infinity;
    for (const w of succ[v]) m = Math.min(m, layer[w]);
    layer[v] = m - 1;
  }

  // 3. Order within layers: start from topological order, then barycentric sweeps.
  const layers = Array.from({ length: depth + 1 }, () => []);
  for (const v of order) layers[layer[v]].push(v);
  const pos = new Float64Array(n); // centred position: index - (size - 1) / 2
  const place = () => {
    for (const L of layers) {
      const c = (L.length - 1) / 2;
      for (let i = 0; i < L.length; i++) pos[L[i]] = i - c;
    }
  };
  place();
  const key = new Float64Array(n);
  const sweep = (L, neighbours) => {
    for (let i = 0; i < L.length; i++) {
      const v = L[i];
      const nb = neighbours[v];
      if (!nb.length) { key[v] = pos[v]; continue; }
      let sum = 0;
      for (const w of nb) sum += pos[w];
      key[v] = sum / nb.length;
    }
    L.sort((a, b) => key[a] - key[b] || pos[a] - pos[b]);
    const c = (L.length - 1) / 2;
    for (let i = 0; i < L.length; i++) pos[L[i]] = i - c;
  };
  const sweeps = n > 20000 ? 2 : 4;
  for (let it = 0; it < sweeps; it++) {
    if (it % 2 === 0) for (let l = 1; l < layers.length; l++) sweep(layers[l], pred);
    else for (let l = layers.length - 2; l >= 0; l--) sweep(layers[l], succ);
  }

  // 4. Coordinates.
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  let minY = Infinity, maxY = -Infinity;
  for (let v = 0; v < n; v++) {
    x[v] = layer[v] * (NODE_W + GAP_X);
    y[v] = pos[v] * (NODE_H + GAP_Y);
    if (y[v] < minY) minY = y[v];
    if (y[v] > maxY) maxY = y[v];
  }
  if (!n) { minY = 0; maxY = 0; }
  for (let v = 0; v < n; v++) y[v] -= minY;
  return {
    x, y, layer, layers,
    width: (depth + 1) * NODE_W + depth * GAP_X,
    height: maxY - minY + NODE_H,
  };
}
