// The REST API client: JSON in and out, the API key kept for the browser session.
//
// When a call answers 401 the user is asked for the key once (concurrent calls share the
// prompt); the key lives in sessionStorage and travels as `Authorization: Bearer <key>`.

import { h } from "./util.js";

const KEY_STORAGE = "orkest.apiKey";
const BASE = new URL("api/", document.baseURI);

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

let keyPrompt = null; // the pending prompt, shared by every call that got a 401

function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function forgetKey() {
  try { sessionStorage.removeItem(KEY_STORAGE); } catch { /* private mode */ }
}

/** Build a URL under /api with query parameters (arrays repeat the key, empty values drop). */
export function apiUrl(path, query) {
  const url = new URL(path.replace(/^\//, ""), BASE);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === "") continue;
      if (Array.isArray(v)) for (const item of v) url.searchParams.append(k, item);
      else url.searchParams.set(k, v);
    }
  }
  return url;
}

export async function api(path, { query, method = "GET", body, signal } = {}) {
  const url = apiUrl(path, query);
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: "application/json" };
    const key = apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(url, {
        method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      if (err.name !== "AbortError") setConnection(false);
      throw err;
    }
    if (resp.status === 401 && attempt < 5) {
      await askForKey(key ? "That key was not accepted. Try again." : null);
      continue;
    }
    setConnection(true);
    if (resp.status === 204) return null;
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = text; }
    }
    if (!resp.ok) {
      let detail = data && typeof data === "object" ? data.detail : data;
      if (typeof detail !== "string") detail = JSON.stringify(detail);
      throw new ApiError(resp.status, detail || resp.statusText);
    }
    return data;
  }
}

function setConnection(ok) {
  const el = document.getElementById("conn-status");
  if (el) el.textContent = ok ? "" : "Server unreachable, retrying…";
}

function askForKey(problem) {
  if (keyPrompt) return keyPrompt;
  keyPrompt = new Promise((resolve) => {
    const input = h("input", {
      type: "password", id: "api-key-input", name: "api-key", autocomplete: "current-password",
      required: true, "aria-describedby": "api-key-help",
    });
    const dialog = h("dialog", { id: "api-key-dialog", "aria-labelledby": "api-key-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "api-key-title" }, "API key required"),
        h("p", { id: "api-key-help", class: "muted small" },
          "This server needs an API key (ORKEST_API_KEY). It is kept for this browser tab only."),
        problem ? h("p", { class: "error-box small", role: "alert" }, problem) : null,
        h("div", { class: "field" }, h("label", { for: "api-key-input" }, "API key"), input),
        h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Continue"))));
    dialog.addEventListener("cancel", (e) => e.preventDefault()); // nothing works without it
    dialog.addEventListener("close", () => {
      const value = input.value.trim();
      if (!value) { dialog.showModal(); return; }
      try { sessionStorage.setItem(KEY_STORAGE, value); } catch { /* private mode */ }
      dialog.remove();
      keyPrompt = null;
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
  return keyPrompt;
}
