// The app shell: login, the nav bar, the hash router, toasts, the confirm dialog and the
// connection banner. Each view is views/<name>.js, loaded when first shown, and gets
// ctx = {api, store, push, toast, confirm, navigate}.
import { html, render, useEffect, useState } from "./html.js";
import { api, setApiKey } from "./api.js";
import { createStore, useStore } from "./store.js";
import { createPush } from "./push.js";
import { ConfirmDialog, Toasts, createConfirm, createToasts } from "./components/feedback.js";
import { Login } from "./components/login.js";
import { ConnectionBanner } from "./components/connection.js";

const VIEWS = {
  farm: { title: "Farm", load: () => import("./views/farm.js") },
  printer: { title: "Printer", load: () => import("./views/printer.js"), hidden: true },
  files: { title: "Files", load: () => import("./views/files.js") },
  queue: { title: "Queue", load: () => import("./views/queue.js") },
  history: { title: "History", load: () => import("./views/history.js") },
  settings: { title: "Settings", load: () => import("./views/settings.js") },
};
const THEMES = ["auto", "light", "dark"];

const store = createStore({
  user: null, printers: {}, order: [], revisions: {}, connection: { state: "connecting" }, toasts: [], confirm: null,
});
const push = createPush(store);
const toast = createToasts(store);
const confirm = createConfirm(store);

function parseRoute() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: VIEWS[name] ? name : "farm", params: rest.map(decodeURIComponent) };
}

function navigate(path) {
  location.hash = path.startsWith("#") ? path : `#${path}`;
}

const ctx = { api, store, push, toast, confirm, navigate };

function useRoute() {
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const changed = () => setRoute(parseRoute());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function ViewHost({ route }) {
  const [loaded, setLoaded] = useState(null);
  useEffect(() => {
    let current = true;
    VIEWS[route.name].load().then(
      (module) => current && setLoaded({ name: route.name, View: module.default }),
      (err) => current && setLoaded({ name: route.name, error: err.message }),
    );
    return () => { current = false; };
  }, [route.name]);
  if (!loaded || loaded.name !== route.name) return html`<p class="hint">Loading…</p>`;
  if (loaded.error) return html`<p class="error-text" role="alert">This view failed to load: ${loaded.error}. Reload the page.</p>`;
  const View = loaded.View;
  return html`<${View} ctx=${{ ...ctx, params: route.params }} />`;
}

function ThemeButton() {
  const [theme, setTheme] = useState(document.documentElement.dataset.theme || "auto");
  const next = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  const change = () => {
    localStorage.setItem("farmctl.theme", next);
    document.documentElement.dataset.theme = next;
    setTheme(next);
  };
  return html`<button type="button" class="quiet" id="theme" onClick=${change}
    title="Colour theme" aria-label=${`Theme: ${theme} (switch to ${next})`}>Theme: ${theme}</button>`;
}

function Nav({ route, user, onLogout }) {
  const active = route.name === "printer" ? "farm" : route.name;
  return html`
    <header class="top">
      <a class="brand" href="#/farm">farmctl</a>
      <nav aria-label="Main">
        <ul>
          ${Object.entries(VIEWS).filter(([, view]) => !view.hidden).map(([name, view]) => html`
            <li><a href=${`#/${name}`} aria-current=${active === name ? "page" : undefined}>${view.title}</a></li>`)}
        </ul>
      </nav>
      <div class="who">
        <${ThemeButton} />
        <span id="who-name">${user.name} (${user.role})</span>
        <button type="button" class="quiet" id="logout" onClick=${onLogout}>Log out</button>
      </div>
    </header>`;
}

function App() {
  const user = useStore(store, (s) => s.user);
  const [checked, setChecked] = useState(false);
  const [loginError, setLoginError] = useState("");
  const route = useRoute();

  // The push channel opens alongside the login check (its snapshot is what the farm view waits
  // for); if the check says nobody is logged in, the channel stops and the login form shows.
  async function enter() {
    push.start();
    let me;
    try {
      me = await api.get("/api/farm/me");
    } catch (err) {
      push.stop();
      throw err;
    }
    store.set({ user: me });
    setLoginError("");
  }

  useEffect(() => {
    enter().catch(() => {}).finally(() => setChecked(true));
    const loggedOut = (event) => {
      push.stop();
      setApiKey(null);
      store.set({ user: null });
      setLoginError(`Please log in again: ${event.detail}`);
    };
    window.addEventListener("farmctl:logged-out", loggedOut);
    return () => window.removeEventListener("farmctl:logged-out", loggedOut);
  }, []);

  useEffect(() => {
    const title = VIEWS[route.name].title;
    document.title = route.name === "printer" ? `${route.params[0]} · farmctl` : `${title} · farmctl`;
  }, [route.name, route.params[0]]);

  async function logOut() {
    push.stop();
    setApiKey(null);
    try {
      await api.post("/api/logout");
    } catch (err) {
      // with a key there is no session to end: forgetting the key is the logout
    }
    store.set({ user: null, printers: {}, order: [] });
  }

  if (!checked) return html`<p class="boot">Loading farmctl…</p>`;
  if (!user) return html`<${Login} enter=${enter} error=${loginError} setError=${setLoginError} />`;
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <${Nav} route=${route} user=${user} onLogout=${logOut} />
    <${ConnectionBanner} store=${store} push=${push} />
    <main id="main" tabindex="-1"><${ViewHost} route=${route} /></main>
    <${Toasts} store=${store} />
    <${ConfirmDialog} store=${store} />`;
}

render(html`<${App} />`, document.getElementById("app"));
