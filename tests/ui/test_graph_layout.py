"""The graph model and layout (js/graph.js), run in the browser on made-up graphs."""

from __future__ import annotations

LAYOUT_CHECK = """async ({n, extra, seed}) => {
  const {buildModel, layout, NODE_W, NODE_H} = await import("./js/graph.js");
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  // A random DAG over task runs (each run's upstream are earlier runs), plus back edges
  // between groups when grouped by task (cycles the layout must survive).
  const runs = [];
  for (let i = 0; i < n; i++) {
    const upstream = [];
    if (i) upstream.push(`r${Math.floor(rand() * i)}`);
    for (let k = 0; k < extra && i; k++) {
      if (rand() < 0.3) upstream.push(`r${Math.floor(rand() * i)}`);
    }
    runs.push({id: `r${i}`, name: `t${i}`, task_name: `t${i % 97}`, task_key: `k${i % 97}`,
               state_type: i % 11 ? "COMPLETED" : "FAILED", upstream});
  }
  const out = {};
  for (const group of [false, true]) {
    const t0 = performance.now();
    const model = buildModel({graph: null}, runs, {group});
    const pos = layout(model);
    const ms = performance.now() - t0;
    let forward = 0, backward = 0, overlaps = 0;
    for (const [a, b] of model.edges) (pos.x[a] < pos.x[b] ? forward++ : backward++);
    const seen = new Set();
    for (let i = 0; i < model.nodes.length; i++) {
      const key = `${pos.x[i]},${Math.round(pos.y[i] / (NODE_H / 2))}`;
      if (seen.has(key)) overlaps++;
      seen.add(key);
    }
    out[group ? "grouped" : "runs"] = {nodes: model.nodes.length, edges: model.edges.length,
      forward, backward, overlaps, ms, width: pos.width > NODE_W};
  }
  return out;
}"""

DAG_CHECK = """async () => {
  const {buildModel, layout} = await import("./js/graph.js");
  const nodes = ["a", "b", "c", "d"].map(id => ({id, kind: "EmptyOperator"}));
  const edges = [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]];
  const flowRun = {graph: {kind: "dag", nodes, edges}};
  const run = (id, name, state_type, upstream) =>
    ({id, name, task_name: name, task_key: name, state_type, upstream});
  const runs = [run("1", "a", "COMPLETED", []), run("2", "b", "RUNNING", ["1"])];
  const model = buildModel(flowRun, runs, {group: false});
  const pos = layout(model);
  return {states: model.nodes.map(n => n.state), layers: Array.from(pos.layer),
          edges: model.edges.length};
}"""


def test_layout_of_a_big_random_graph(server, page, record_figure):
    page.goto(server.url + "/")
    result = page.evaluate(LAYOUT_CHECK, {"n": 10_000, "extra": 2, "seed": 42})
    runs, grouped = result["runs"], result["grouped"]
    # Ungrouped, the graph is acyclic: every edge points right, no two nodes overlap.
    assert runs["nodes"] == 10_000
    assert runs["backward"] == 0 and runs["overlaps"] == 0
    # Grouped by task, 97 nodes with cycles between them: laid out all the same (edges
    # that close a cycle are drawn backwards).
    assert grouped["nodes"] == 97 and grouped["overlaps"] == 0
    assert grouped["forward"] > 0 and grouped["width"]
    record_figure(f"layout of 10,000 nodes / {runs['edges']:,} edges: {runs['ms']:.0f} ms; "
                  f"grouped into 97 nodes: {grouped['ms']:.0f} ms")
    assert runs["ms"] < 1000


def test_dag_graph_before_its_tasks_run(server, page):
    page.goto(server.url + "/")
    result = page.evaluate(DAG_CHECK)
    # Declared nodes without a task run yet are drawn, as "NONE" (not started).
    assert result["states"] == ["COMPLETED", "RUNNING", "NONE", "NONE"]
    assert result["layers"] == [0, 1, 1, 2]
    assert result["edges"] == 4
