// Secrets: names and when they changed, never a value. The form is write-only: a value
// typed here goes to the server (encrypted at rest) and is cleared from the page at once.
// This page never asks the server for a value (only a running flow does, via /reveal).

import { api } from "./api.js";
import { confirmDelete, field, nameProblem, NAME_HELP, showProblem } from "./config_form.js";
import { clear, fmtRelative, fmtTime, h, toast } from "./util.js";

const MASK = "***";

export function mount(root) {
  const name = h("input", { type: "text", name: "secret-name", autocomplete: "off", spellcheck: "false", required: true });
  const value = h("input", { type: "password", name: "secret-value", autocomplete: "new-password", spellcheck: "false", required: true });
  const problem = h("p", { class: "error-box small", role: "alert", id: "secret-problem", hidden: true });
  const save = h("button", { type: "submit", class: "primary", id: "secret-save" }, "Save secret");
  const form = h("form", { id: "secret-form", class: "panel config-form", "aria-labelledby": "secret-form-title", novalidate: true },
    h("h2", { id: "secret-form-title" }, "Set or replace a secret"),
    h("div", { class: "config-fields" },
      field("secret-name", "Name", name, NAME_HELP),
      field("secret-value", "Value", value, "Write-only: it is encrypted on the server and never shown again.")),
    problem, h("div", { class: "actions" }, save));
  const body = h("div", { class: "table-wrap", id: "secrets-body" }, h("div", { class: "loading" }, "Loading…"));

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Secrets"), h("span", { class: "spacer" }),
      h("span", { class: "muted small" }, "Secret(\"name\").get() in a flow; values show as *** everywhere")),
    form,
    h("section", { class: "panel", "aria-labelledby": "secrets-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "secrets-title" }, "All secrets")), body));

  for (const input of [name, value]) input.addEventListener("input", () => showProblem(problem, "", input));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const n = name.value.trim();
    const bad = nameProblem(n);
    if (bad) { showProblem(problem, bad, name); return; }
    if (!value.value) { showProblem(problem, "A value is required.", value); return; }
    const secret = value.value;
    value.value = ""; // out of the page before the request: nothing to read back
    save.disabled = true;
    try {
      await api(`secrets/${encodeURIComponent(n)}`, { method: "PUT", body: { value: secret } });
      toast(`Saved secret ${n}.`);
      form.reset();
      showProblem(problem, "");
      await load();
    } catch (err) {
      showProblem(problem, `Could not save ${n}: ${err.message}`);
    } finally {
      save.disabled = false;
    }
  });

  function replace(s) {
    name.value = s.name;
    value.value = "";
    showProblem(problem, "");
    form.scrollIntoView({ block: "nearest" });
    value.focus();
  }

  function table(items) {
    return h("table", { class: "data", id: "secrets-table" },
      h("thead", null, h("tr", null,
        h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"),
        h("th", { scope: "col" }, "Last changed"), h("th", { scope: "col" }, "Created"),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", null, items.map((s) => h("tr", { "data-name": s.name },
        h("td", { class: "mono" }, s.name),
        h("td", { class: "mono masked", "data-col": "value", "aria-label": "hidden" }, MASK),
        h("td", { "data-col": "updated", title: fmtTime(s.updated_ts) }, fmtTime(s.updated_ts),
          h("span", { class: "muted small" }, ` · ${fmtRelative(s.updated_ts)}`)),
        h("td", { class: "muted" }, fmtTime(s.created_ts)),
        h("td", { class: "row-actions" },
          h("button", { type: "button", class: "replace", "aria-label": `Replace the value of ${s.name}`, onclick: () => replace(s) }, "Replace"),
          h("button", {
            type: "button", class: "danger delete", "aria-label": `Delete ${s.name}`,
            onclick: () => confirmDelete({
              kind: "secret", name: s.name, path: `secrets/${encodeURIComponent(s.name)}`,
              text: "Flows that read it fail with \"No secret\" from now on (unless ORKEST_SECRET_<NAME> is set where they run).",
              done: load,
            }),
          }, "Delete"))))));
  }

  async function load() {
    let data;
    try {
      data = await api("secrets");
    } catch (err) {
      clear(body).append(h("div", { class: "error-box" }, `Could not load secrets: ${err.message}`));
      return;
    }
    clear(body).append(data.items.length ? table(data.items)
      : h("div", { class: "empty" }, "No secrets yet. Set one above, or: orkest secret set NAME"));
    root.dataset.ready = "1";
  }

  load();
  return {};
}
