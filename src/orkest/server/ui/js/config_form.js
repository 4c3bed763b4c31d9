// What the variables and secrets pages share: the name rule, a labelled field, and the
// delete confirmation (names as the server checks them: orkest.config.values.check_name).

import { api } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { h, toast } from "./util.js";

export const NAME_RULE = /^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/;
export const NAME_HELP = "Letters, digits, _ . - ; starting with a letter or _ (at most 200).";

/** Why a name cannot be used, or "" when it can. */
export function nameProblem(name) {
  if (!name) return "A name is required.";
  return NAME_RULE.test(name) ? "" : `"${name}" is not a valid name. ${NAME_HELP}`;
}

/** A label above an input, with an optional hint the input is described by. */
export function field(id, label, input, hint) {
  input.id = id;
  const hintEl = hint ? h("span", { class: "muted small", id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

/** Show a form's problem (or hide it with ""), marking the input at fault. */
export function showProblem(box, text, input) {
  box.hidden = !text;
  box.textContent = text;
  if (input) {
    if (text) { input.setAttribute("aria-invalid", "true"); input.focus(); }
    else input.removeAttribute("aria-invalid");
  }
}

/** Ask, then DELETE `path`; `done()` after a deletion. */
export async function confirmDelete({ kind, name, path, text, done }) {
  const ok = await confirmDialog({
    title: `Delete ${kind} ${name}?`, text, confirm: "Delete", danger: true,
  });
  if (!ok) return;
  try {
    await api(path, { method: "DELETE" });
    toast(`Deleted ${kind} ${name}.`);
  } catch (err) {
    toast(`Could not delete ${kind} ${name}: ${err.message}`, "error", 8000);
  }
  done();
}
