// The single-page app: a hash router that mounts one page at a time, never reloading.
//
//   #/                      dashboard
//   #/runs?state=..&flow=.. flow runs (filters live in the hash)
//   #/runs/<id>             flow run detail
//   #/task-runs/<id>        task run detail
//   #/deployments           deployments (#/deployments/<id> one of them)
//   #/work-pools            work pools and their workers
//   #/events?name=..        events and the runs they caused
//   #/variables             variables (JSON values): add, edit, delete
//   #/secrets               secrets: names and change times, a write-only form
//   #/blocks?type=..        blocks by type, secret fields as ***

import * as blocks from "./blocks.js";
import * as dashboard from "./dashboard.js";
import * as deploymentDetail from "./deployment_detail.js";
import * as deployments from "./deployments.js";
import * as events from "./events.js";
import * as runDetail from "./run_detail.js";
import * as runs from "./runs.js";
import * as secrets from "./secrets.js";
import * as taskDetail from "./task_detail.js";
import * as variables from "./variables.js";
import * as workPools from "./work_pools.js";
import { parseHash } from "./nav.js";
import { h } from "./util.js";

const ROUTES = [
  [/^\/?$/, dashboard, "dashboard"],
  [/^\/runs\/?$/, runs, "runs"],
  [/^\/runs\/([^/]+)$/, runDetail, "runs"],
  [/^\/task-runs\/([^/]+)$/, taskDetail, "runs"],
  [/^\/deployments\/?$/, deployments, "deployments"],
  [/^\/deployments\/(.+)$/, deploymentDetail, "deployments"], // an id, or FLOW/NAME
  [/^\/work-pools\/?$/, workPools, "work-pools"],
  [/^\/events\/?$/, events, "events"],
  [/^\/variables\/?$/, variables, "variables"],
  [/^\/secrets\/?$/, secrets, "secrets"],
  [/^\/blocks\/?$/, blocks, "blocks"],
];

const main = document.getElementById("main");
let current = null; // {key, page}
let mounted = 0;

function route() {
  const { path, query } = parseHash();
  for (const [re, module, nav] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    const key = `${re.source}|${m.slice(1).join("|")}`;
    markNav(nav);
    if (current && current.key === key && current.page.update) {
      current.page.update(query);
      return;
    }
    unmount();
    main.replaceChildren();
    for (const k of Object.keys(main.dataset)) delete main.dataset[k]; // pages' ready marks
    window.scrollTo(0, 0);
    current = { key, page: module.mount(main, m.slice(1), query) || {} };
    if (mounted++) main.focus({ preventScroll: true }); // screen readers land on the new page
    return;
  }
  unmount();
  markNav(null);
  main.replaceChildren(h("div", { class: "panel empty" },
    h("h1", null, "Page not found"), h("p", null, h("a", { href: "#/" }, "Back to the dashboard"))));
}

function unmount() {
  if (current && current.page.unmount) current.page.unmount();
  current = null;
}

function markNav(name) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

document.getElementById("skip-link").addEventListener("click", (e) => {
  e.preventDefault(); // the hash belongs to the router
  main.focus();
});
window.addEventListener("hashchange", route);
route();
