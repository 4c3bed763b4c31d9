// Modal dialogs (native <dialog>): confirmations with an optional message or JSON input.

import { h } from "./util.js";

/**
 * Ask before acting. Resolves to null when cancelled, else {message, input}.
 * options: {title, text, confirm, danger, message: bool, json: bool}
 */
export function confirmDialog({ title, text, confirm = "Confirm", danger = false, message = false, json = false }) {
  return new Promise((resolve) => {
    const msg = message ? h("input", { type: "text", id: "dialog-message", name: "message", placeholder: "optional" }) : null;
    const area = json ? h("textarea", { id: "dialog-json", name: "input", spellcheck: "false", placeholder: '{"approved": true}' }) : null;
    const error = h("p", { class: "error-box small", role: "alert", hidden: true });
    const ok = h("button", { type: "submit", value: "ok", class: danger ? "primary danger-bg" : "primary", id: "dialog-confirm" }, confirm);
    const dialog = h("dialog", { id: "confirm-dialog", "aria-labelledby": "dialog-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "dialog-title" }, title),
        text ? h("p", { class: "muted" }, text) : null,
        msg ? h("div", { class: "field" }, h("label", { for: "dialog-message" }, "Message"), msg) : null,
        area ? h("div", { class: "field" }, h("label", { for: "dialog-json" }, "Input (JSON, optional)"), area) : null,
        error,
        h("div", { class: "actions" },
          h("button", { type: "submit", value: "cancel", id: "dialog-cancel", formnovalidate: true }, "Cancel"), ok)));
    let result = null;
    dialog.querySelector("form").addEventListener("submit", (e) => {
      if (e.submitter?.value !== "ok") return;
      let input;
      if (area && area.value.trim()) {
        try {
          input = JSON.parse(area.value);
        } catch (err) {
          e.preventDefault();
          error.hidden = false;
          error.textContent = `Not valid JSON: ${err.message}`;
          area.focus();
          return;
        }
      }
      result = { message: msg ? msg.value.trim() : "", input };
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    (msg || area || ok).focus();
  });
}
