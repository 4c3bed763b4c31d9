// One deployment: schedules in words with their next runs, triggers, parameters, its recent
// runs; Run (a form generated from the parameter schema) and Pause/Resume.

import { ApiError, api } from "./api.js";
import { nextRun, pausedBadge, setPaused } from "./deployments.js";
import { parameterFields, schemaParameters, typeLabel } from "./param_form.js";
import { runsTable } from "./runs.js";
import { Poller, clear, fmtIsoWall, fmtTime, fmtUntil, h, jsonText } from "./util.js";

const RECENT_RUNS = 20;
// Without a server-side deployment filter (501), the flow's runs are scanned this far back.
const RUN_SCAN = 200;

/** A trigger's kind and settings, whatever its to_dict() shape. */
function triggerItem(t) {
  const kind = t.type || t.kind || t.trigger || Object.keys(t)[0] || "trigger";
  const rest = Object.entries(t).filter(([k]) => !["type", "kind", "trigger"].includes(k));
  return h("li", { class: "trigger", "data-kind": kind },
    h("strong", null, kind), t.description ? ` — ${t.description}` : "",
    rest.length ? h("div", { class: "muted small mono" },
      rest.filter(([k]) => k !== "description").map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join("  ")) : null);
}

/** The schedule's own settings in brief ("cron 0 2 * * * · Europe/Paris"). */
function scheduleSource(s) {
  const parts = [];
  if (s.cron) parts.push(`cron ${s.cron}`);
  if (s.interval_seconds !== undefined) parts.push(`every ${s.interval_seconds} s`);
  if (s.rrule) parts.push(s.rrule);
  if (s.timezone) parts.push(s.timezone);
  return parts.join(" · ");
}

export function mount(root, [ref]) {
  let dep = null;
  let destroyed = false;
  let lastRunsKey = "";
  let lastHead = "";

  const el = {
    crumb: h("div", { class: "muted small" }, h("a", { href: "#/deployments" }, "Deployments"), " / "),
    name: h("h1", { id: "deployment-name" }, "Loading…"),
    status: h("span", { id: "deployment-status" }),
    id: h("code", { class: "muted", id: "deployment-id" }, ref),
    description: h("p", { class: "muted", id: "deployment-description", hidden: true }),
    meta: h("div", { class: "meta-row", id: "deployment-meta" }),
    schedules: h("div", { id: "deployment-schedules" }),
    nextRuns: h("ol", { class: "next-runs", id: "deployment-next-runs" }),
    triggers: h("div", { id: "deployment-triggers" }),
    params: h("div", { class: "table-wrap", id: "deployment-parameters" }),
    runs: h("div", { class: "table-wrap", id: "deployment-runs" }, h("div", { class: "loading" }, "Loading…")),
  };
  const runButton = h("button", { type: "button", class: "primary", id: "deployment-run", disabled: true }, "Run…");
  const pauseButton = h("button", { type: "button", id: "deployment-toggle", disabled: true }, "Pause");
  runButton.addEventListener("click", () => openRunForm());
  pauseButton.addEventListener("click", () => {
    pauseButton.disabled = true;
    setPaused(dep, !dep.paused, (updated) => {
      if (updated && !destroyed) { dep = { ...dep, ...updated }; render(); }
      pauseButton.disabled = false;
      poller.start(true);
    });
  });

  root.append(
    h("section", { class: "panel", "aria-labelledby": "deployment-name" },
      h("div", { class: "run-head" },
        h("div", { class: "title" }, el.crumb, el.name,
          h("div", { class: "actions", style: { alignItems: "center" } }, el.status, el.id)),
        h("div", { class: "actions", role: "group", "aria-label": "Deployment actions" }, runButton, pauseButton)),
      el.description, el.meta),
    h("div", { class: "grid cols-2" },
      h("section", { class: "panel", "aria-labelledby": "schedules-title" },
        h("h2", { id: "schedules-title" }, "Schedules"), el.schedules,
        h("h2", { id: "next-runs-title", style: { marginTop: "14px" } }, "Next runs"), el.nextRuns),
      h("section", { class: "panel", "aria-labelledby": "triggers-title" },
        h("h2", { id: "triggers-title" }, "Triggers"), el.triggers)),
    h("section", { class: "panel", style: { marginTop: "16px" }, "aria-labelledby": "params-title" },
      h("h2", { id: "params-title" }, "Parameters"), el.params),
    h("section", { class: "panel", "aria-labelledby": "dep-runs-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "dep-runs-title" }, "Recent runs"), h("span", { class: "spacer" }),
        h("a", { id: "deployment-all-runs", href: "#/runs" }, "All runs of this flow →")),
      el.runs),
  );

  function render() {
    const now = Date.now() / 1000;
    document.title = `${dep.full_name} · deployment · orkest`;
    el.name.textContent = dep.full_name;
    el.status.replaceChildren(pausedBadge(dep));
    el.status.dataset.paused = String(!!dep.paused);
    el.id.textContent = dep.id;
    el.description.hidden = !dep.description;
    el.description.textContent = dep.description || "";
    pauseButton.textContent = dep.paused ? "Resume" : "Pause";
    pauseButton.dataset.action = dep.paused ? "resume" : "pause";
    pauseButton.disabled = false;
    runButton.disabled = false;
    root.querySelector("#deployment-all-runs").href = `#/runs?flow=${encodeURIComponent(dep.flow_name)}`;
    const head = JSON.stringify([dep, Math.floor(now / 30)]);
    if (head === lastHead) return;
    lastHead = head;

    const meta = [
      ["Flow", h("a", { href: `#/runs?flow=${encodeURIComponent(dep.flow_name)}` }, dep.flow_name)],
      ["Entrypoint", h("code", null, dep.entrypoint)],
      ["Work pool", h("a", { href: "#/work-pools" }, dep.work_pool)],
      ["Max active runs", dep.concurrency_limit ?? "no limit"],
      ["Priority", String(dep.priority ?? 0)],
      ["Retries", String(dep.retries ?? 0)],
      ["Catchup", dep.catchup ? "yes" : "no"],
      ["Late after", `${dep.grace_seconds ?? 60} s`],
      ["Code", dep.code_hash ? h("code", { id: "deployment-code-hash" }, dep.code_hash) : "–"],
      ["Updated", fmtTime(dep.updated_ts)],
    ];
    if ((dep.tags || []).length) meta.push(["Tags", h("span", null, dep.tags.map((t) => h("a", { class: "tag", href: `#/runs?tag=${encodeURIComponent(t)}` }, t)))]);
    el.meta.replaceChildren(...meta.map(([k, v]) => h("div", null, h("span", { class: "k" }, k), h("span", null, v))));

    const words = dep.schedule_descriptions || [];
    el.schedules.replaceChildren(...(dep.schedules || []).length
      ? dep.schedules.map((s, i) => h("div", { class: "schedule", "data-schedule": String(i) },
        h("div", { class: "schedule-words" }, words[i] || scheduleSource(s)),
        h("div", { class: "muted small mono" }, scheduleSource(s))))
      : [h("p", { class: "muted" }, "No schedule: runs start from triggers or by hand.")]);
    const upcoming = (dep.next_runs || []).map((iso) => ({ iso, ts: Date.parse(iso) / 1000 }))
      .sort((a, b) => a.ts - b.ts).slice(0, 5);
    el.nextRuns.replaceChildren(...upcoming.length
      ? upcoming.map((r) => h("li", { title: r.iso, "data-iso": r.iso }, fmtIsoWall(r.iso),
        h("span", { class: "muted small" }, ` · ${fmtUntil(r.ts, now)}`)))
      : [h("li", { class: "muted", style: { listStyle: "none" } },
        dep.paused ? "None while paused: resume it to schedule runs again." : "None.")]);
    if (dep.paused && upcoming.length) {
      el.nextRuns.prepend(h("li", { class: "muted small", style: { listStyle: "none" } }, "Paused: these slots get no runs until it is resumed."));
    }

    el.triggers.replaceChildren((dep.triggers || []).length
      ? h("ul", { class: "triggers" }, dep.triggers.map(triggerItem))
      : h("p", { class: "muted" }, "No triggers."));

    const params = schemaParameters(dep.parameter_schema);
    const own = dep.parameters || {};
    el.params.replaceChildren(params.length
      ? h("table", { class: "data", id: "deployment-params-table" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"),
          h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, "Required"))),
        h("tbody", null, params.map((p) => {
          const set = Object.prototype.hasOwnProperty.call(own, p.name);
          const fallback = p.prop.default;
          return h("tr", { "data-param": p.name },
            h("td", { class: "mono" }, p.name),
            h("td", { class: "small" }, typeLabel(p.prop, dep.parameter_schema)),
            h("td", { class: "mono" }, set ? JSON.stringify(own[p.name])
              : fallback !== undefined ? h("span", { class: "muted" }, `${JSON.stringify(fallback)} (flow default)`) : "–"),
            h("td", null, p.required ? (set ? "given" : "yes") : ""));
        })))
      : h("pre", { class: "block" }, jsonText(own)));
  }

  async function loadRuns() {
    let mine;
    try {
      mine = (await api(`deployments/${encodeURIComponent(dep.id)}/runs`, { query: { limit: RECENT_RUNS } })).items;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 501) throw err;
      // A store that cannot filter by deployment: the flow's runs, kept by deployment_id.
      const page = await api("flow_runs", { query: { flow_name: dep.flow_name, limit: RUN_SCAN } });
      mine = page.items.filter((r) => r.deployment_id === dep.id).slice(0, RECENT_RUNS);
    }
    const key = JSON.stringify(mine.map((r) => [r.id, r.state_type, r.state_ts, r.end_ts]));
    if (key === lastRunsKey) return;
    lastRunsKey = key;
    clear(el.runs).append(mine.length ? runsTable(mine, { compact: true })
      : h("div", { class: "empty" }, "No runs of this deployment yet."));
  }

  async function refresh() {
    if (destroyed) return false;
    try {
      dep = await api(`deployments/${encodeURIComponent(ref)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        root.replaceChildren(h("div", { class: "panel empty" }, h("h1", null, "Deployment not found"),
          h("p", null, `No deployment is named or has the id ${ref}. `, h("a", { href: "#/deployments" }, "All deployments"))));
        return false;
      }
      throw err;
    }
    if (destroyed) return false;
    render();
    await loadRuns();
    root.dataset.ready = "1";
    return true;
  }

  // -- the Run form -----------------------------------------------------------------------
  function openRunForm() {
    if (!dep) return;
    const form = parameterFields(dep.parameter_schema || { properties: {} }, dep.parameters || {});
    const problem = h("p", { class: "error-box small", id: "run-form-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", value: "ok", class: "primary", id: "run-form-submit" }, "Run");
    const dialog = h("dialog", { id: "run-form-dialog", "aria-labelledby": "run-form-title", class: "wide" },
      h("form", { method: "dialog", novalidate: true },
        h("h2", { id: "run-form-title" }, `Run ${dep.full_name}`),
        h("p", { class: "muted small" }, "A run is created now, due at once; a worker of pool ",
          h("code", null, dep.work_pool), " picks it up. Fields marked * are required."),
        form.element, problem,
        h("div", { class: "actions" },
          h("button", { type: "submit", value: "cancel", id: "run-form-cancel", formnovalidate: true }, "Cancel"), submit)));
    let sending = false;
    dialog.querySelector("form").addEventListener("submit", async (e) => {
      if (e.submitter?.value !== "ok") return; // Cancel closes the dialog
      e.preventDefault();
      if (sending) return;
      problem.hidden = true;
      const { values, errors } = form.collect();
      const bad = Object.keys(errors);
      if (bad.length) {
        problem.hidden = false;
        problem.textContent = bad.length === 1 ? "Fix the field marked in red." : `Fix the ${bad.length} fields marked in red.`;
        form.fields.find((f) => errors[f.name])?.input.focus();
        return;
      }
      sending = true;
      submit.disabled = true;
      try {
        const run = await api(`deployments/${encodeURIComponent(dep.id)}/runs`, { method: "POST", body: { parameters: values } });
        dialog.close();
        location.hash = `#/runs/${run.id}`;
      } catch (err) {
        problem.hidden = false;
        problem.textContent = err instanceof ApiError && err.status === 422
          ? `The server refused these parameters: ${err.detail}`
          : `Could not start the run: ${err.message}`;
      } finally {
        sending = false;
        submit.disabled = false;
      }
    });
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    (form.fields[0]?.input || submit).focus();
  }

  const poller = new Poller(refresh, 3000);
  poller.start(true);
  return {
    unmount() {
      destroyed = true;
      poller.stop();
      document.getElementById("run-form-dialog")?.remove();
    },
  };
}
