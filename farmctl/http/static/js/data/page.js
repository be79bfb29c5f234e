// What the files, queue, history and settings views share: their stylesheet, a session cookie for
// plain links and images, refetching the page a view shows when the push channel says its area
// changed, and how sizes and dates read.
import { useEffect, useState } from "../html.js";
import { useStore } from "../store.js";

const loaded = new Set();

// One stylesheet per view, added to the page the first time the view is shown.
export function stylesheet(name) {
  if (loaded.has(name)) return;
  loaded.add(name);
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = `/static/css/${name}.css`;
  document.head.appendChild(link);
}

let session = null;

// <img src> and <a download> cannot send X-Api-Key: a passive login turns the key into the
// session cookie they carry (the same role, ended when the key is revoked).
export function ensureSession(api) {
  if (!session) session = api.post("/api/login", { passive: true }).catch((err) => { session = null; throw err; });
  return session;
}

// load() again whenever `deps` or the push channel's revision of `area` change.
// Returns [data, error, reload]; data stays the last good answer while a new one loads.
export function useArea(ctx, area, load, deps) {
  const revision = useStore(ctx.store, (s) => (s.revisions || {})[area]);
  const [state, setState] = useState({ data: null, error: "" });
  const [nudge, setNudge] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (data) => current && setState({ data, error: "" }),
      (err) => current && setState((before) => ({ data: before.data, error: err.message })),
    );
    return () => { current = false; };
  }, [revision, nudge, ...deps]);
  return [state.data, state.error, () => setNudge((n) => n + 1)];
}

export function bytes(size) {
  if (size === null || size === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = size, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function when(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function metres(mm) {
  if (mm === null || mm === undefined) return "";
  return mm >= 1000 ? `${(mm / 1000).toFixed(2)} m` : `${Math.round(mm)} mm`;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== "" && value !== null && value !== undefined) search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}
