// Variables: named JSON values (Variable.get in flows, {{ var.name }} in templates).
// Add or replace one with a JSON value checked before it is sent; delete with a confirm.

import { api } from "./api.js";
import { confirmDelete, field, nameProblem, NAME_HELP, showProblem } from "./config_form.js";
import { clear, fmtRelative, fmtTime, h, jsonText, toast } from "./util.js";

const PAGE = 1000;

/** The JSON value typed in the textarea, or throws a message saying what is wrong. */
export function parseValue(text) {
  if (!text.trim()) throw new Error("A value is required: any JSON, e.g. 500, \"eu-west\", [1, 2] or {\"a\": 1}.");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`Not valid JSON: ${err.message}. Text needs double quotes: "like this".`);
  }
}

export function mount(root) {
  const name = h("input", { type: "text", name: "name", autocomplete: "off", spellcheck: "false", required: true });
  const value = h("textarea", { name: "value", spellcheck: "false", rows: 4, placeholder: '{"batch_size": 500}', required: true });
  const problem = h("p", { class: "error-box small", role: "alert", id: "variable-problem", hidden: true });
  const save = h("button", { type: "submit", class: "primary", id: "variable-save" }, "Save variable");
  const form = h("form", { id: "variable-form", class: "panel config-form", "aria-labelledby": "variable-form-title", novalidate: true },
    h("h2", { id: "variable-form-title" }, "Add or replace a variable"),
    h("div", { class: "config-fields" },
      field("variable-name", "Name", name, NAME_HELP),
      field("variable-value", "Value (JSON)", value, "A string needs quotes: \"eu-west\". Numbers, true/false, null, lists and objects as they are.")),
    problem, h("div", { class: "actions" }, save));
  const body = h("div", { class: "table-wrap", id: "variables-body" }, h("div", { class: "loading" }, "Loading…"));
  const info = h("span", { class: "muted small", id: "variables-info", "aria-live": "polite" });

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Variables"), h("span", { class: "spacer" }),
      h("span", { class: "muted small" }, "Variable.get(\"name\") in a flow, {{ var.name }} in templates")),
    form,
    h("section", { class: "panel", "aria-labelledby": "variables-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "variables-title" }, "All variables"), h("span", { class: "spacer" }), info),
      body));

  for (const input of [name, value]) input.addEventListener("input", () => showProblem(problem, "", input));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const n = name.value.trim();
    const bad = nameProblem(n);
    if (bad) { showProblem(problem, bad, name); return; }
    let parsed;
    try {
      parsed = parseValue(value.value);
    } catch (err) {
      showProblem(problem, err.message, value);
      return;
    }
    save.disabled = true;
    try {
      await api(`variables/${encodeURIComponent(n)}`, { method: "PUT", body: { value: parsed } });
      toast(`Saved variable ${n}.`);
      form.reset();
      showProblem(problem, "");
      await load();
    } catch (err) {
      showProblem(problem, `Could not save ${n}: ${err.message}`);
    } finally {
      save.disabled = false;
    }
  });

  function edit(v) {
    name.value = v.name;
    value.value = jsonText(v.value);
    showProblem(problem, "");
    form.scrollIntoView({ block: "nearest" });
    value.focus();
  }

  function table(items) {
    return h("table", { class: "data", id: "variables-table" },
      h("thead", null, h("tr", null,
        h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"),
        h("th", { scope: "col" }, "Last changed"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", null, items.map((v) => h("tr", { "data-name": v.name },
        h("td", { class: "mono" }, v.name),
        h("td", { "data-col": "value" }, h("pre", { class: "config-value" }, jsonText(v.value))),
        h("td", { title: fmtTime(v.updated_ts) }, fmtRelative(v.updated_ts)),
        h("td", { class: "row-actions" },
          h("button", { type: "button", class: "edit", "aria-label": `Edit ${v.name}`, onclick: () => edit(v) }, "Edit"),
          h("button", {
            type: "button", class: "danger delete", "aria-label": `Delete ${v.name}`,
            onclick: () => confirmDelete({
              kind: "variable", name: v.name, path: `variables/${encodeURIComponent(v.name)}`,
              text: "Flows that read it get their default (or None) from now on.", done: load,
            }),
          }, "Delete"))))));
  }

  async function load() {
    let data;
    try {
      data = await api("variables", { query: { limit: PAGE } });
    } catch (err) {
      clear(body).append(h("div", { class: "error-box" }, `Could not load variables: ${err.message}`));
      return;
    }
    clear(body).append(data.items.length ? table(data.items)
      : h("div", { class: "empty" }, "No variables yet. Add one above, or: orkest variable set batch_size 500"));
    info.textContent = data.total > data.items.length ? `first ${data.items.length} of ${data.total}` : `${data.total} variable${data.total === 1 ? "" : "s"}`;
    root.dataset.ready = "1";
  }

  load();
  return {};
}
