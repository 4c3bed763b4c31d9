// Blocks: typed configuration saved from code (DatabaseConnection(...).save("prod")),
// listed by type with their data; secret fields always show as ***.

import { api } from "./api.js";
import { confirmDelete } from "./config_form.js";
import { setQuery } from "./nav.js";
import { clear, fmtRelative, fmtTime, h, jsonText } from "./util.js";

const MASK = "***";
const SECRET_MARK = "$secret"; // {"$secret": "str"} stands where a secret value was

/** The data with every secret placeholder shown as ***. */
export function shownData(value) {
  if (Array.isArray(value)) return value.map(shownData);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === SECRET_MARK) return MASK;
    return Object.fromEntries(keys.map((k) => [k, shownData(value[k])]));
  }
  return value;
}

export function mount(root, _params, query) {
  let type = query.get("type") || "";
  const select = h("select", { id: "blocks-type", name: "type" });
  const body = h("div", { id: "blocks-body" }, h("div", { class: "loading" }, "Loading…"));
  select.addEventListener("change", () => setQuery(new URLSearchParams(select.value ? { type: select.value } : {})));

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Blocks"), h("span", { class: "spacer" }),
      h("div", { class: "field inline" }, h("label", { for: "blocks-type" }, "Type"), select)),
    h("p", { class: "muted small" },
      "Saved from code: DatabaseConnection(url=..., password=...).save(\"prod\"); loaded in flows with DatabaseConnection.load(\"prod\"). ",
      "Secret fields are encrypted and shown as ***."),
    body);

  function table(items) {
    return h("table", { class: "data blocks-table" },
      h("thead", null, h("tr", null,
        h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Data"),
        h("th", { scope: "col" }, "Secret fields"), h("th", { scope: "col" }, "Schema"),
        h("th", { scope: "col" }, "Last changed"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", null, items.map((b) => h("tr", { "data-name": b.name, "data-type": b.block_type },
        h("td", { class: "mono" }, b.name),
        h("td", { "data-col": "data" }, h("pre", { class: "config-value" }, jsonText(shownData(b.data)))),
        h("td", { "data-col": "secrets" }, b.secret_fields.length
          ? h("ul", { class: "secret-fields" }, b.secret_fields.map((f) => h("li", null, h("span", { class: "mono" }, f), ": ", h("span", { class: "mono masked" }, MASK))))
          : h("span", { class: "muted" }, "none")),
        h("td", { class: "mono small", title: "A hash of the class's fields when it was saved" }, b.schema_version),
        h("td", { title: fmtTime(b.updated_ts) }, fmtRelative(b.updated_ts)),
        h("td", null, h("button", {
          type: "button", class: "danger delete", "aria-label": `Delete ${b.block_type}/${b.name}`,
          onclick: () => confirmDelete({
            kind: "block", name: `${b.block_type}/${b.name}`,
            path: `blocks/${encodeURIComponent(b.block_type)}/${encodeURIComponent(b.name)}`,
            text: "Flows and automations that load it fail from now on.", done: load,
          }),
        }, "Delete"))))));
  }

  async function load() {
    let data;
    try {
      data = await api("blocks");
    } catch (err) {
      clear(body).append(h("div", { class: "error-box" }, `Could not load blocks: ${err.message}`));
      return;
    }
    const groups = new Map();
    for (const b of data.items) {
      if (!groups.has(b.block_type)) groups.set(b.block_type, []);
      groups.get(b.block_type).push(b);
    }
    select.replaceChildren(h("option", { value: "" }, "All types"),
      ...[...groups.keys()].map((t) => h("option", { value: t, selected: t === type }, `${t} (${groups.get(t).length})`)));
    if (type && !groups.has(type)) select.append(h("option", { value: type, selected: true }, `${type} (0)`));
    const shown = [...groups].filter(([t]) => !type || t === type);
    clear(body).append(...(shown.length
      ? shown.map(([t, items]) => h("section", { class: "panel block-type", "data-type": t, "aria-labelledby": `blocks-${t}` },
        h("div", { class: "panel-head" }, h("h2", { id: `blocks-${t}`, class: "mono" }, t), h("span", { class: "spacer" }),
          h("span", { class: "muted small" }, `${items.length} block${items.length === 1 ? "" : "s"}`)),
        h("div", { class: "table-wrap" }, table(items))))
      : [h("div", { class: "panel empty" }, type ? `No blocks of type ${type}.`
        : "No blocks yet. Save one from code: WebhookNotification(url=\"https://...\").save(\"ops\")")]));
    root.dataset.ready = "1";
  }

  load();
  return {
    update(q) {
      type = q.get("type") || "";
      load();
    },
  };
}
