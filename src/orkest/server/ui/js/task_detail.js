// Task run detail: state history, traceback, inputs, logs, result preview; polled while live.

import { ApiError, api } from "./api.js";
import { LogPanel } from "./logs.js";
import { resultPreview } from "./run_detail.js";
import {
  Poller, TERMINAL, badge, fmtBytes, fmtDuration, fmtSeconds, fmtTime, h, jsonText,
  runDuration, titleState,
} from "./util.js";

export function mount(root, [id]) {
  let run = null;
  let finalPolls = 0;
  let destroyed = false;
  let lastStatesKey = "";
  let lastInputs = null;
  let lastResultRef;
  let lastTraceback;
  let upstreamShown = false;

  /** Links to the upstream task runs, named once their names arrive. */
  function showUpstream(ids) {
    if (!ids.length) return;
    const links = ids.slice(0, 50).map((u) => h("a", { href: `#/task-runs/${u}`, class: "tag" }, u.slice(0, 8)));
    el.upstream.replaceChildren("Upstream: ", ...links, ids.length > 50 ? ` and ${ids.length - 50} more` : "");
    ids.slice(0, 50).forEach((u, i) => {
      api(`task_runs/${u}`).then((t) => { links[i].textContent = t.name; }).catch(() => {});
    });
  }

  const el = {
    crumb: h("div", { class: "muted small" }),
    name: h("h1", { id: "task-name" }, "Loading…"),
    state: h("span", { id: "task-state" }),
    id: h("code", { class: "muted", id: "task-id" }, id),
    meta: h("div", { class: "meta-row", id: "task-meta" }),
    message: h("div", { class: "message", id: "task-message", hidden: true }),
    traceback: h("section", { class: "panel", id: "task-traceback", hidden: true, "aria-labelledby": "tb-title" }),
    states: h("div", { class: "table-wrap", id: "task-states" }),
    inputs: h("div", { id: "task-inputs" }),
    result: h("div", { id: "task-result" }),
    upstream: h("div", { id: "task-upstream", class: "small" }),
  };
  const logsHost = h("div");
  root.append(
    h("section", { class: "panel", "aria-labelledby": "task-name" },
      el.crumb, el.name,
      h("div", { class: "actions", style: { alignItems: "center", marginTop: "4px" } }, el.state, el.id),
      el.meta, el.message, el.upstream),
    el.traceback,
    h("div", { class: "grid cols-2" },
      h("section", { class: "panel", "aria-labelledby": "states-title" }, h("h2", { id: "states-title" }, "State history"), el.states),
      h("section", { class: "panel", "aria-labelledby": "inputs-title" }, h("h2", { id: "inputs-title" }, "Inputs"), el.inputs)),
    h("section", { class: "panel", style: { marginTop: "16px" }, "aria-labelledby": "result-title" },
      h("h2", { id: "result-title" }, "Result"), el.result),
    h("section", { class: "panel", "aria-labelledby": "tlogs-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "tlogs-title" }, "Logs"), h("span", { class: "spacer" }), h("span", { id: "tlog-controls" })),
      logsHost),
  );
  const logs = new LogPanel(logsHost, `task_runs/${id}/logs`, { serverLevelFilter: false });
  root.querySelector("#tlog-controls").append(logs.controls);

  function render(states) {
    const now = Date.now() / 1000;
    document.title = `${run.name} · ${titleState(run.state_type)} · orkest`;
    el.crumb.replaceChildren("Task run of ", run.flow_run_id
      ? h("a", { href: `#/runs/${run.flow_run_id}`, id: "task-flow-run" }, `flow run ${run.flow_run_id.slice(0, 8)}`)
      : "no flow (a standalone task run)");
    el.name.textContent = run.name;
    el.state.replaceChildren(badge(run.state_type, run.state_name, true));
    el.state.dataset.state = run.state_type;
    el.id.textContent = run.id;
    const meta = [
      ["Task", `${run.task_name} #${run.dynamic_key}`],
      ["Started", fmtTime(run.start_ts)],
      ["Ended", fmtTime(run.end_ts)],
      ["Duration", fmtDuration(runDuration(run, now))],
      ["Attempts", `${run.run_count || 0} (retries allowed: ${run.retries || 0})`],
      ["CPU", run.cpu_seconds == null ? "–" : fmtSeconds(run.cpu_seconds)],
      ["Peak memory", fmtBytes(run.peak_rss_bytes) + (run.resource_scope === "thread" ? " (process)" : "")],
    ];
    if (run.runner) meta.push(["Runner", run.runner]);
    if (run.cache_key) meta.push(["Cache key", h("code", null, run.cache_key.slice(0, 16))]);
    if (run.tags && run.tags.length) meta.push(["Tags", run.tags.map((t) => h("span", { class: "tag" }, t))]);
    el.meta.replaceChildren(...meta.map(([k, v]) => h("div", null, h("span", { class: "k" }, k), h("span", null, v))));
    el.message.hidden = !run.state_message;
    el.message.textContent = run.state_message || "";
    if (!upstreamShown) {
      upstreamShown = true;
      showUpstream(run.upstream || []);
    }
    if (run.failure_traceback !== lastTraceback) {
      lastTraceback = run.failure_traceback;
      el.traceback.hidden = !lastTraceback;
      el.traceback.replaceChildren(
        h("h2", { id: "tb-title" }, `Traceback${run.failure_type ? ` · ${run.failure_type}` : ""}`),
        h("pre", { class: "block traceback", id: "traceback" }, lastTraceback || ""));
    }
    const key = states.map((s) => s.id ?? s.ts).join(",");
    if (key !== lastStatesKey) {
      lastStatesKey = key;
      el.states.replaceChildren(statesTable(states));
    }
    const inputs = jsonText(run.parameters || {});
    if (inputs !== lastInputs) {
      lastInputs = inputs;
      el.inputs.replaceChildren(inputsView(run.parameters || {}));
    }
    if (run.result_ref !== lastResultRef) {
      lastResultRef = run.result_ref;
      el.result.replaceChildren(run.result_ref ? resultPreview(run.result_ref)
        : h("span", { class: "muted small" }, TERMINAL.has(run.state_type) ? "No stored result." : "No result yet."));
    }
    root.dataset.state = run.state_type;
    root.dataset.ready = "1";
  }

  async function refresh() {
    if (destroyed) return false;
    let fresh, states;
    try {
      [fresh, states] = await Promise.all([api(`task_runs/${id}`), api(`task_runs/${id}/states`)]);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        root.replaceChildren(h("div", { class: "panel empty" }, h("h1", null, "Task run not found"),
          h("p", null, `No task run has the id ${id}.`)));
        return false;
      }
      throw err;
    }
    if (destroyed) return false;
    run = fresh;
    render(states);
    logs.poll().catch((err) => console.warn(err));
    logs.setFinal(TERMINAL.has(run.state_type));
    if (TERMINAL.has(run.state_type)) return ++finalPolls < 2;
    finalPolls = 0;
    return true;
  }

  const poller = new Poller(refresh, 1000);
  poller.start(true);
  return { unmount() { destroyed = true; poller.stop(); } };
}

function statesTable(states) {
  if (!states.length) return h("div", { class: "empty" }, "No states recorded.");
  const first = states[0].ts;
  return h("table", { class: "data" },
    h("thead", null, h("tr", null, h("th", null, "Time"), h("th", { class: "num" }, "+"),
      h("th", null, "State"), h("th", null, "Message"))),
    h("tbody", null, states.map((s) => h("tr", { "data-state": s.type },
      h("td", { class: "small" }, fmtTime(s.ts)),
      h("td", { class: "num small" }, fmtDuration(s.ts - first)),
      h("td", null, badge(s.type, s.name)),
      h("td", { class: "small", style: { whiteSpace: "pre-wrap" } }, s.message || "")))));
}

function inputsView(params) {
  const keys = Object.keys(params);
  if (!keys.length) return h("div", { class: "empty" }, "No inputs.");
  return h("dl", { class: "kv" }, keys.map((k) => [
    h("dt", { class: "mono" }, k),
    h("dd", null, h("pre", { class: "block" }, typeof params[k] === "string" ? params[k] : jsonText(params[k]))),
  ]));
}
