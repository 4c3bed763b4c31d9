// Flow run detail: header and actions, graph, timeline, task table, logs; polled while live.

import { ApiError, api } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { GraphView } from "./graph_view.js";
import { LogPanel } from "./logs.js";
import { parseHash, setQuery } from "./nav.js";
import { TaskTable } from "./task_table.js";
import { Timeline } from "./timeline.js";
import {
  FAILURES, Poller, STATES, TERMINAL, badge, fmtDuration, fmtNumber, fmtTime, h, jsonText,
  runDuration, titleState, toast,
} from "./util.js";

const TASK_PAGE = 20000;
const GROUP_AUTO = 100; // runs with more task runs than this group them by task at first

export async function fetchAllTaskRuns(flowRunId) {
  let items = [];
  for (let offset = 0; ;) {
    const page = await api(`flow_runs/${flowRunId}/task_runs`, { query: { limit: TASK_PAGE, offset } });
    items = offset ? items.concat(page.items) : page.items;
    offset += page.items.length;
    if (!page.items.length || offset >= page.total) return items;
  }
}

export function resultPreview(ref) {
  const box = h("div", { class: "result-preview" }, h("span", { class: "muted small" }, "Loading preview…"));
  api("results/preview", { query: { ref } }).then((p) => {
    box.replaceChildren(
      h("div", { class: "muted small" }, `${p.type}${p.truncated ? " · preview truncated" : ""}`),
      h("pre", { class: "block", id: "result-preview" }, p.preview));
  }).catch((err) => {
    box.replaceChildren(h("span", { class: "muted small" },
      err instanceof ApiError && err.status === 404 ? "The result is no longer stored." : `No preview: ${err.message}`));
  });
  return box;
}

export function mount(root, [id], query) {
  const started = performance.now();
  window.__orkestTimings = { mount: started };
  let run = null;
  let taskRuns = [];
  let taskById = new Map();
  let group = query.has("group") ? query.get("group") === "1" : null;
  let finalPolls = 0;
  let destroyed = false;
  let lastParams = null;
  let lastTraceback = null;
  let lastResultRef;

  // -- skeleton -------------------------------------------------------------------------
  const el = {
    flowLink: h("a", { id: "run-flow" }),
    name: h("h1", { id: "run-name" }, "Loading…"),
    state: h("span", { id: "run-state" }),
    id: h("code", { class: "muted", id: "run-id" }, id),
    meta: h("div", { class: "meta-row", id: "run-meta" }),
    tags: h("div", { id: "run-tags", style: { marginTop: "8px" } }),
    message: h("div", { class: "message", id: "run-message", hidden: true }),
    traceback: h("details", { id: "run-traceback", hidden: true }),
    params: h("pre", { class: "block", id: "run-parameters" }, "{}"),
    result: h("div", { id: "run-result" }, h("span", { class: "muted small" }, "No result yet.")),
  };
  const btn = (id, label, fn, cls = "") => h("button", { type: "button", id, class: cls, onclick: fn, disabled: true }, label);
  const buttons = {
    cancel: btn("action-cancel", "Cancel", () => act("cancel"), "danger"),
    retry: btn("action-retry", "Retry", () => act("retry")),
    resume: btn("action-resume", "Resume…", () => act("resume")),
    complete: btn("action-complete", "Mark completed", () => act("complete")),
    fail: btn("action-fail", "Mark failed", () => act("fail")),
  };
  const groupBox = h("input", { type: "checkbox", id: "graph-group" });
  const graphHost = h("div");
  const timelineHost = h("div");
  const tableHost = h("div");
  const logsHost = h("div");

  root.append(
    h("section", { class: "panel", "aria-labelledby": "run-name" },
      h("div", { class: "run-head" },
        h("div", { class: "title" },
          h("div", { class: "muted small" }, "Flow run of ", el.flowLink),
          el.name,
          h("div", { class: "actions", style: { alignItems: "center" } }, el.state, el.id)),
        h("div", { class: "actions", role: "group", "aria-label": "Run actions" }, Object.values(buttons))),
      el.meta, el.tags, el.message, el.traceback,
      h("div", { class: "grid cols-2", style: { marginTop: "14px" } },
        h("div", null, h("h2", null, "Parameters"), el.params),
        h("div", null, h("h2", null, "Result"), el.result))),
    h("section", { class: "panel", "aria-labelledby": "graph-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "graph-title" }, "Graph"), h("span", { class: "spacer" }),
        h("label", { class: "small", style: { display: "flex", gap: "4px", alignItems: "center" } }, groupBox, "Group runs of the same task")),
      graphHost),
    h("section", { class: "panel", "aria-labelledby": "timeline-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "timeline-title" }, "Timeline"), h("span", { class: "spacer" }),
        h("span", { class: "muted small" }, "Ctrl + wheel zooms time, shift + wheel pans, double-click resets")),
      timelineHost),
    h("section", { class: "panel", "aria-labelledby": "tasks-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "tasks-title" }, "Task runs"), h("span", { class: "spacer" }), h("span", { id: "task-controls" })),
      tableHost),
    h("section", { class: "panel", "aria-labelledby": "logs-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "logs-title" }, "Logs"), h("span", { class: "spacer" }), h("span", { id: "log-controls" })),
      logsHost),
  );

  const table = new TaskTable(tableHost);
  root.querySelector("#task-controls").append(table.controls);
  const graph = new GraphView(graphHost, { onGroup: (n) => table.showTask(n.label) });
  const timeline = new Timeline(timelineHost);
  const logs = new LogPanel(logsHost, `flow_runs/${id}/logs`, {
    taskNames: (tid) => taskById.get(tid)?.name ?? null,
  });
  root.querySelector("#log-controls").append(logs.controls);
  groupBox.addEventListener("change", () => {
    const q = parseHash().query;
    q.set("group", groupBox.checked ? "1" : "0");
    setQuery(q, { replace: true });
  });

  // -- rendering ------------------------------------------------------------------------
  let deploymentName = null; // fetched once: the run holds only the deployment's id
  let eventName = null; // the same for the event that caused it
  const eventHref = () => (eventName && eventName !== run.event_id.slice(0, 8)
    ? `#/events?name=${encodeURIComponent(eventName)}` : "#/events");
  function orchestrationMeta(r) {
    const rows = [];
    if (r.deployment_id) {
      if (deploymentName === null) {
        deploymentName = r.deployment_id.slice(0, 8);
        api(`deployments/${encodeURIComponent(r.deployment_id)}`).then((d) => {
          deploymentName = d.full_name;
          const a = el.meta.querySelector("#run-deployment");
          if (a) a.textContent = d.full_name;
        }).catch(() => {});
      }
      rows.push(["Deployment", h("a", { id: "run-deployment", href: `#/deployments/${r.deployment_id}`, title: r.deployment_id }, deploymentName)]);
    }
    if (r.scheduled_ts && r.deployment_id) rows.push(["Scheduled for", fmtTime(r.scheduled_ts)]);
    if (r.work_pool) rows.push(["Work pool", h("a", { id: "run-work-pool", href: "#/work-pools" }, r.work_pool)]);
    if (r.worker_id) rows.push(["Worker", h("code", { id: "run-worker", title: r.worker_id }, r.worker_id.slice(0, 12))]);
    if (r.code_hash) rows.push(["Code", h("code", { id: "run-code-hash", title: "hash of the source the run started from" }, r.code_hash)]);
    if (r.event_id) {
      if (eventName === null) {
        eventName = r.event_id.slice(0, 8);
        api(`events/${encodeURIComponent(r.event_id)}`).then((e) => {
          eventName = e.name;
          const a = el.meta.querySelector("#run-event");
          if (a) { a.textContent = e.name; a.href = eventHref(); }
        }).catch(() => {});
      }
      rows.push(["Caused by event", h("a", { id: "run-event", href: eventHref(), title: r.event_id }, eventName)]);
    }
    return rows;
  }

  function renderHead(now) {
    el.name.textContent = run.name || id;
    document.title = `${run.name} · ${titleState(run.state_type)} · orkest`;
    el.flowLink.textContent = run.flow_name;
    el.flowLink.href = `#/runs?flow=${encodeURIComponent(run.flow_name)}`;
    el.state.replaceChildren(badge(run.state_type, run.state_name, true));
    el.state.dataset.state = run.state_type;
    el.id.textContent = run.id;
    const counts = {};
    for (const t of taskRuns) counts[t.state_type] = (counts[t.state_type] || 0) + 1;
    const summary = STATES.filter((s) => counts[s]).map((s) => `${fmtNumber(counts[s])} ${titleState(s).toLowerCase()}`).join(", ");
    const meta = [
      ["Created", fmtTime(run.created_ts)],
      ["Started", fmtTime(run.start_ts)],
      ["Ended", fmtTime(run.end_ts)],
      ["Duration", fmtDuration(runDuration(run, now)) + (run.start_ts && !TERMINAL.has(run.state_type) ? "…" : "")],
      ["Attempts", String(run.run_count || 0)],
      ["Task runs", taskRuns.length ? `${fmtNumber(taskRuns.length)} (${summary})` : "0"],
    ];
    if (run.task_runner) meta.push(["Runner", run.task_runner]);
    if (run.hostname) meta.push(["Host", `${run.hostname}${run.pid ? ` · pid ${run.pid}` : ""}`]);
    if (run.parent_flow_run_id) meta.push(["Parent run", h("a", { href: `#/runs/${run.parent_flow_run_id}` }, run.parent_flow_run_id.slice(0, 8))]);
    meta.push(...orchestrationMeta(run));
    el.meta.replaceChildren(...meta.map(([k, v]) => h("div", null, h("span", { class: "k" }, k), h("span", null, v))));
    el.tags.replaceChildren(...(run.tags || []).map((t) => h("a", { class: "tag", href: `#/runs?tag=${encodeURIComponent(t)}` }, t)));
    el.message.hidden = !run.state_message;
    el.message.textContent = run.state_message || "";
    if (run.failure_traceback !== lastTraceback) {
      lastTraceback = run.failure_traceback;
      el.traceback.hidden = !lastTraceback;
      el.traceback.replaceChildren(h("summary", null, `Traceback${run.failure_type ? ` (${run.failure_type})` : ""}`),
        h("pre", { class: "block traceback" }, lastTraceback || ""));
    }
    const params = jsonText(run.parameters || {});
    if (params !== lastParams) { lastParams = params; el.params.textContent = params; }
    if (run.result_ref !== lastResultRef) {
      lastResultRef = run.result_ref;
      el.result.replaceChildren(run.result_ref ? resultPreview(run.result_ref)
        : h("span", { class: "muted small" }, TERMINAL.has(run.state_type) ? "No stored result." : "No result yet."));
    }
    const st = run.state_type;
    buttons.cancel.disabled = TERMINAL.has(st);
    buttons.retry.disabled = !FAILURES.has(st);
    buttons.resume.disabled = st !== "PAUSED";
    buttons.complete.disabled = st === "COMPLETED";
    buttons.fail.disabled = st === "FAILED";
  }

  function render() {
    const now = Date.now() / 1000;
    taskById = new Map(taskRuns.map((t) => [t.id, t]));
    renderHead(now);
    const grouping = group ?? (taskRuns.length > GROUP_AUTO);
    groupBox.checked = grouping || !!(run.graph && run.graph.nodes && run.graph.nodes.length);
    groupBox.disabled = !!(run.graph && run.graph.nodes && run.graph.nodes.length);
    graph.update(run, taskRuns, { group: grouping });
    if (!root.dataset.graphReady) {
      window.__orkestTimings.graph = performance.now();
      root.dataset.graphReady = "1";
      root.dataset.graphMs = String(Math.round(performance.now() - started));
    }
    timeline.update(run, taskRuns, now);
    if (!root.dataset.timelineReady) {
      window.__orkestTimings.timeline = performance.now();
      root.dataset.timelineReady = "1";
      root.dataset.timelineMs = String(Math.round(performance.now() - started));
    }
    table.setRows(taskRuns, now);
    root.dataset.state = run.state_type;
  }

  async function refresh() {
    if (destroyed) return false;
    let fresh, tasks;
    try {
      // Both at once; a task list read after the run's state is at least as new as it.
      const pending = fetchAllTaskRuns(id);
      pending.catch(() => {}); // reported through the run's own error below, if any
      fresh = await api(`flow_runs/${id}`);
      tasks = await pending;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        root.replaceChildren(h("div", { class: "panel empty" }, h("h1", null, "Flow run not found"),
          h("p", null, `No flow run has the id ${id}. `, h("a", { href: "#/runs" }, "All flow runs"))));
        return false;
      }
      throw err;
    }
    if (destroyed) return false;
    if (!window.__orkestTimings.fetched) window.__orkestTimings.fetched = performance.now();
    run = fresh;
    taskRuns = tasks;
    render();
    logs.nameTasks();
    logs.poll().catch((err) => console.warn(err));
    logs.setFinal(TERMINAL.has(run.state_type));
    if (TERMINAL.has(run.state_type)) {
      // Records written just after the final state (last logs, results) arrive once more.
      finalPolls++;
      return finalPolls < 2;
    }
    finalPolls = 0;
    return true;
  }

  const poller = new Poller(refresh, 1000);
  poller.start(true);

  // -- actions --------------------------------------------------------------------------
  async function act(kind) {
    const post = (path, body) => api(`flow_runs/${id}/${path}`, { method: "POST", body });
    try {
      if (kind === "cancel") {
        const r = await confirmDialog({
          title: "Cancel this flow run?", confirm: "Cancel run", danger: true, message: true,
          text: "The process running it stops its tasks; the run ends Cancelled.",
        });
        if (!r) return;
        await post("cancel", r.message ? { message: r.message } : {});
        toast("Cancellation requested.");
      } else if (kind === "retry") {
        const r = await confirmDialog({
          title: "Retry this flow run?", confirm: "Retry",
          text: "It runs again from its failure in a new process on the server; completed tasks keep their results.",
        });
        if (!r) return;
        const out = await post("retry");
        toast(`Retry started${out && out.pid ? ` (pid ${out.pid})` : ""}.`);
      } else if (kind === "resume") {
        const r = await confirmDialog({
          title: "Resume this flow run?", confirm: "Resume", json: true,
          text: "The paused flow continues; it receives the input below, if any.",
        });
        if (!r) return;
        await post("resume", r.input === undefined ? {} : { input: r.input });
        toast("Resume requested.");
      } else {
        const state = kind === "complete" ? "COMPLETED" : "FAILED";
        const r = await confirmDialog({
          title: `Mark this flow run ${state === "COMPLETED" ? "completed" : "failed"}?`, message: true,
          confirm: state === "COMPLETED" ? "Mark completed" : "Mark failed", danger: state === "FAILED",
          text: "This sets the run's state by hand; nothing is run or stopped.",
        });
        if (!r) return;
        await post("set_state", { state, message: r.message || undefined });
        toast(`Marked ${state.toLowerCase()}.`);
      }
    } catch (err) {
      toast(`Could not ${kind === "complete" || kind === "fail" ? "mark" : kind} the run: ${err.message}`, "error", 8000);
    }
    finalPolls = -8; // a retried run turns RUNNING only once its new process starts
    poller.start(true);
  }

  return {
    update(q) {
      const g = q.has("group") ? q.get("group") === "1" : null;
      if (g !== group) {
        group = g;
        if (run) render();
      }
    },
    unmount() {
      destroyed = true;
      poller.stop();
      graph.destroy();
      timeline.destroy();
    },
  };
}
