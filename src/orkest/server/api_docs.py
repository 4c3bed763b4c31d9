"""`/api/docs`: a reference of the API drawn from /api/openapi.json, with nothing fetched
from the internet (FastAPI's Swagger page loads its script from a CDN, which a server on a
closed network cannot reach and a careful team does not want)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>orkest API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;
color:#1f2328}
h1{font-size:1.4rem}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}
.op{border:1px solid #d0d7de;border-radius:6px;margin:.5rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4rem;font:600 12px ui-monospace,monospace;color:#fff;
border-radius:4px;padding:1px 6px;text-align:center;margin-right:.5rem}
.get{background:#1f6feb}.post{background:#2da44e}.delete{background:#cf222e}
.put,.patch{background:#9a6700}code{font:13px ui-monospace,monospace}
.p{color:#57606a;font-size:13px;margin:.2rem 0 0 4.6rem}
</style></head><body>
<h1>orkest API</h1>
<p>The machine-readable description is <a href="openapi.json"><code>/api/openapi.json</code></a>;
see also <code>docs/api.md</code>. Calls need <code>Authorization: Bearer &lt;key&gt;</code>
when the server has <code>ORKEST_API_KEY</code>.</p>
<div id="ops">Loading...</div>
<script>
fetch("openapi.json").then(r => r.json()).then(doc => {
  const root = document.getElementById("ops"); root.textContent = "";
  const groups = {};
  for (const [path, ops] of Object.entries(doc.paths || {}))
    for (const [method, op] of Object.entries(ops))
      (groups[(op.tags || ["api"])[0]] ||= []).push([method, path, op]);
  for (const [tag, ops] of Object.entries(groups)) {
    const h = document.createElement("h2"); h.textContent = tag; root.append(h);
    for (const [method, path, op] of ops) {
      const d = document.createElement("div"); d.className = "op";
      const m = document.createElement("span"); m.className = "m " + method;
      m.textContent = method.toUpperCase();
      const c = document.createElement("code"); c.textContent = path;
      const s = document.createElement("div"); s.className = "p";
      const params = (op.parameters || []).map(p => p.name + (p.required ? "*" : ""));
      s.textContent = [op.summary || "", params.length ? "parameters: " + params.join(", ")
                       : ""].filter(Boolean).join(" \u2014 ");
      d.append(m, c, s); root.append(d);
    }
  }
}).catch(e => { document.getElementById("ops").textContent = "Cannot load: " + e; });
</script></body></html>
"""


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    return HTMLResponse(PAGE)
