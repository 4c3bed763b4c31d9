// The hash is the app's address: a path and a query that pages read and write.

export function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = decodeURIComponent(q >= 0 ? raw.slice(0, q) : raw);
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
  return { path, query };
}

/** Change the hash's query; the router calls the current page's update(), not mount(). */
export function setQuery(query, { replace = false } = {}) {
  const { path } = parseHash();
  const qs = query.toString();
  const hash = `#${path}${qs ? `?${qs}` : ""}`;
  if (hash === location.hash) return;
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = hash;
  }
}
