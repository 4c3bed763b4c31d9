// A form generated from a flow's parameter JSON Schema (pydantic's shape): one field per
// parameter, defaults filled in, required ones marked, every value checked before sending.
//
// string -> text, integer/number -> text checked as a number (so a wrong value gets a
// message of ours, not a browser's silent refusal), boolean -> checkbox, enum -> select,
// anything else (array, object, unions) -> a JSON textarea.

import { h } from "./util.js";

const NONE = "__none__";

/** Follow a local `$ref` ("#/$defs/Color") and unwrap a single allOf. */
function resolve(schema, root) {
  let s = schema || {};
  for (let depth = 0; depth < 10; depth++) {
    if (s.$ref && s.$ref.startsWith("#/")) {
      let target = root;
      for (const part of s.$ref.slice(2).split("/")) target = target?.[part];
      const { $ref: _ref, ...rest } = s;
      s = { ...(target || {}), ...rest };
    } else if (Array.isArray(s.allOf) && s.allOf.length === 1) {
      const { allOf, ...rest } = s;
      s = { ...resolve(allOf[0], root), ...rest };
    } else {
      return s;
    }
  }
  return s;
}

/** What kind of field a property needs: {kind, nullable, schema}. */
export function fieldKind(prop, root) {
  let s = resolve(prop, root);
  let nullable = false;
  const union = s.anyOf || s.oneOf;
  if (Array.isArray(union)) {
    const others = union.filter((u) => resolve(u, root).type !== "null");
    nullable = others.length < union.length;
    if (others.length !== 1) return { kind: "json", nullable, schema: s };
    const { anyOf: _a, oneOf: _o, ...rest } = s;
    s = { ...resolve(others[0], root), ...rest };
  }
  if (Array.isArray(s.type)) {
    nullable = nullable || s.type.includes("null");
    const types = s.type.filter((t) => t !== "null");
    s = { ...s, type: types.length === 1 ? types[0] : undefined };
  }
  if (Array.isArray(s.enum)) return { kind: "enum", nullable, schema: s };
  if (s.const !== undefined) return { kind: "enum", nullable, schema: { ...s, enum: [s.const] } };
  const kind = { string: "string", integer: "integer", number: "number", boolean: "boolean" }[s.type];
  return { kind: kind || "json", nullable, schema: s };
}

/** A short type name for people: "integer", "one of a, b", "list (JSON)"... */
export function typeLabel(prop, root) {
  const { kind, nullable, schema } = fieldKind(prop, root);
  let label = kind;
  if (kind === "enum") label = `one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  else if (kind === "json") label = schema.type === "array" ? "list (JSON)" : schema.type === "object" ? "object (JSON)" : "JSON";
  return nullable ? `${label} or null` : label;
}

/** The parameters of a schema in order: [{name, prop, title, required}]. */
export function schemaParameters(schema) {
  const props = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  return Object.entries(props).map(([name, prop]) => ({
    name, prop, title: prop.title || name, required: required.has(name),
    description: prop.description || resolve(prop, schema).description || "",
  }));
}

const fieldId = (name) => `param-${name.replace(/[^\w-]/g, "_")}`;

/**
 * Build the form's fields. `values` are the deployment's own parameters, which win over the
 * schema's defaults. Returns {element, collect}: collect() gives {values, errors}, where
 * errors maps a parameter name to a message (also shown next to its field).
 */
export function parameterFields(schema, values = {}) {
  const params = schemaParameters(schema);
  const fields = [];
  const element = h("div", { class: "param-fields", id: "param-fields" });
  if (!params.length) {
    element.append(h("p", { class: "muted small", id: "param-none" }, "This flow takes no parameters."));
  }
  for (const p of params) {
    const info = fieldKind(p.prop, schema);
    const given = Object.prototype.hasOwnProperty.call(values, p.name);
    const initial = given ? values[p.name] : resolve(p.prop, schema).default ?? info.schema.default;
    const hasInitial = given || info.schema.default !== undefined || "default" in resolve(p.prop, schema);
    const id = fieldId(p.name);
    const error = h("div", { class: "field-error small", id: `${id}-error`, role: "alert", hidden: true });
    let input;
    if (info.kind === "boolean" && !info.nullable) {
      input = h("input", { type: "checkbox", id, name: p.name, checked: initial === true });
    } else if (info.kind === "enum" || info.kind === "boolean") {
      const options = info.kind === "boolean" ? [true, false] : info.schema.enum;
      input = h("select", { id, name: p.name },
        (info.nullable || !hasInitial) ? h("option", { value: NONE }, info.nullable ? "null" : "— choose —") : null,
        options.map((v, i) => h("option", { value: String(i) }, typeof v === "string" ? v : JSON.stringify(v))));
      const at = options.findIndex((v) => JSON.stringify(v) === JSON.stringify(initial));
      input.value = at >= 0 ? String(at) : NONE;
      input._options = options;
    } else if (info.kind === "json") {
      input = h("textarea", { id, name: p.name, spellcheck: "false", rows: 3, class: "param-json" });
      input.value = hasInitial ? JSON.stringify(initial, null, 2) : "";
      input.placeholder = info.schema.type === "array" ? "[1, 2, 3]" : info.schema.type === "object" ? '{"key": "value"}' : "JSON";
    } else {
      const numeric = info.kind === "integer" || info.kind === "number";
      input = h("input", {
        type: "text", id, name: p.name, autocomplete: "off",
        inputmode: numeric ? (info.kind === "integer" ? "numeric" : "decimal") : null,
        placeholder: info.nullable && !hasInitial ? "empty: not given" : null,
      });
      input.value = hasInitial && initial !== null ? String(initial) : "";
    }
    input.setAttribute("aria-describedby", `${id}-help ${id}-error`);
    if (p.required) input.setAttribute("aria-required", "true");
    const help = [typeLabel(p.prop, schema), p.description].filter(Boolean).join(" · ");
    const label = h("label", { for: id },
      h("span", { class: "param-name" }, p.name),
      p.required ? h("span", { class: "required", title: "required" }, " *") : null,
      p.title && p.title.toLowerCase() !== p.name.toLowerCase().replace(/_/g, " ") ? h("span", { class: "muted" }, ` (${p.title})`) : null);
    const row = input.type === "checkbox"
      ? h("div", { class: "field param-field", "data-param": p.name },
        h("div", { class: "check-row" }, input, label), h("div", { class: "muted small", id: `${id}-help` }, help), error)
      : h("div", { class: "field param-field", "data-param": p.name },
        label, input, h("div", { class: "muted small", id: `${id}-help` }, help), error);
    element.append(row);
    fields.push({ ...p, info, input, error });
  }

  function collect() {
    const out = {};
    const errors = {};
    for (const f of fields) {
      const result = readField(f);
      f.error.hidden = !result.error;
      f.error.textContent = result.error || "";
      f.input.setAttribute("aria-invalid", result.error ? "true" : "false");
      if (result.error) errors[f.name] = result.error;
      else if (result.value !== undefined) out[f.name] = result.value;
    }
    return { values: out, errors };
  }

  return { element, collect, fields };
}

/** One field's value ({value} or {error}); an empty optional field is left out (undefined). */
function readField(f) {
  const { kind, nullable, schema } = f.info;
  const name = f.name;
  const missing = () => (f.required ? { error: `${name} is required.` } : { value: undefined });
  if (f.input.type === "checkbox") return { value: f.input.checked };
  if (f.input.tagName === "SELECT") {
    if (f.input.value === NONE) return nullable ? { value: null } : missing();
    return { value: f.input._options[Number(f.input.value)] };
  }
  const raw = f.input.value.trim();
  if (kind === "json") {
    if (!raw) return missing();
    let value;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      return { error: `${name} is not valid JSON: ${err.message}` };
    }
    if (value === null && nullable) return { value };
    if (schema.type === "array" && !Array.isArray(value)) return { error: `${name} must be a JSON list, like [1, 2].` };
    if (schema.type === "object" && (typeof value !== "object" || value === null || Array.isArray(value))) {
      return { error: `${name} must be a JSON object, like {"key": "value"}.` };
    }
    return { value };
  }
  if (!raw && kind !== "string") return missing();
  if (kind === "integer" || kind === "number") {
    const value = Number(raw);
    if (kind === "integer" && !/^[-+]?\d+$/.test(raw)) {
      return { error: `${name} must be a whole number, not ${JSON.stringify(raw)}.` };
    }
    if (!Number.isFinite(value) || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) {
      return { error: `${name} must be a number, not ${JSON.stringify(raw)}.` };
    }
    return bounds(name, value, schema);
  }
  // string
  const value = f.input.value;
  if (!value) {
    if (f.required) return { error: `${name} is required.` };
    return { value: undefined };
  }
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    return { error: `${name} must be at least ${schema.minLength} characters long.` };
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    return { error: `${name} must be at most ${schema.maxLength} characters long.` };
  }
  if (schema.pattern) {
    try {
      if (!new RegExp(schema.pattern, "u").test(value)) return { error: `${name} must match ${schema.pattern}.` };
    } catch { /* a pattern JavaScript cannot read: the server checks it */ }
  }
  return { value };
}

function bounds(name, value, schema) {
  if (schema.minimum !== undefined && value < schema.minimum) return { error: `${name} must be ≥ ${schema.minimum}.` };
  if (schema.maximum !== undefined && value > schema.maximum) return { error: `${name} must be ≤ ${schema.maximum}.` };
  if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return { error: `${name} must be > ${schema.exclusiveMinimum}.` };
  if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) return { error: `${name} must be < ${schema.exclusiveMaximum}.` };
  return { value };
}
