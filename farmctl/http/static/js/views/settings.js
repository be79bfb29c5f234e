// Access and settings: app-key requests approved with a chosen role, API keys (create with a role,
// revoke), users, and the queue's automation (event scripts and preprocessors) with "Simulate",
// which runs a script and its preprocessor against sample values without touching a printer.
import { html, useEffect, useState } from "../html.js";
import { useStore } from "../store.js";
import { stylesheet, when } from "../data/page.js";

stylesheet("settings");

const ROLES = ["viewer", "operator", "admin"];
const APP_POLL_MS = 2000;
const ACCESS_POLL_MS = 4000;
const EVENTS = ["continuousprint_activate", "continuousprint_start_print", "continuousprint_success",
  "continuousprint_cancel", "continuousprint_cooldown", "continuousprint_finish",
  "continuousprint_awaiting_material", "continuousprint_deactivate"];

function RoleSelect({ value, onChange, label, id }) {
  return html`<select id=${id} aria-label=${label} value=${value} onChange=${(e) => onChange(e.target.value)}>
    ${ROLES.map((r) => html`<option value=${r} key=${r}>${r}</option>`)}</select>`;
}

function AppKeys({ ctx }) {
  const [requests, setRequests] = useState([]);
  const [roles, setRoles] = useState({});
  const [error, setError] = useState("");
  useEffect(() => {
    let alive = true;
    const load = () => ctx.api.get("/api/farm/appkeys").then(
      (data) => { if (alive) { setRequests(data.requests); setError(""); } },
      (err) => alive && setError(err.message));
    load();
    const timer = setInterval(load, APP_POLL_MS);
    return () => { alive = false; clearInterval(timer); };
  }, []);
  async function decide(request, allow) {
    const role = roles[request.id] || "operator";
    try {
      await ctx.api.post(`/api/farm/appkeys/${request.id}`, { decision: allow ? "allow" : "deny", role });
      ctx.toast(allow ? `${request.app} gets a ${role} key` : `${request.app} was refused`);
      setRequests((list) => list.filter((r) => r.id !== request.id));
    } catch (err) {
      ctx.toast.error(`Deciding for ${request.app}`, err);
    }
  }
  return html`
    <section class="panel" aria-labelledby="appkeys-title" id="appkeys">
      <h2 id="appkeys-title">Apps asking for a key</h2>
      ${error && html`<p class="error-text" role="alert">${error}</p>`}
      ${!requests.length ? html`<p class="hint">None waiting. A slicer or app that asks (OctoPrint's app-key flow) shows up here.</p>` : html`
        <ul class="requests">${requests.map((r) => html`
          <li key=${r.id} data-app=${r.app}>
            <strong>${r.app}</strong>${r.user ? ` for ${r.user}` : ""} <span class="hint">asked ${when(r.created)}</span>
            <label>Role <${RoleSelect} label=${`Role for ${r.app}`} value=${roles[r.id] || "operator"}
              onChange=${(role) => setRoles({ ...roles, [r.id]: role })} /></label>
            <button type="button" onClick=${() => decide(r, true)}>Allow</button>
            <button type="button" class="quiet" onClick=${() => decide(r, false)}>Deny</button>
          </li>`)}</ul>`}
    </section>`;
}

function Keys({ ctx, access, reload }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState("operator");
  const [made, setMade] = useState(null);
  async function create(event) {
    event.preventDefault();
    try {
      const result = await ctx.api.post("/api/farm/access/keys", { name, role });
      setMade({ name, ...result });
      setName("");
      reload();
    } catch (err) {
      ctx.toast.error(`Making key ${name}`, err);
    }
  }
  async function revoke(key) {
    const own = access.you.keyId === key.id ? " This is the key you are using: this page will log out." : "";
    if (!await ctx.confirm({ title: `Revoke ${key.name}?`, message: `Whatever uses it stops working at once.${own}`,
      action: "Revoke", danger: true })) return;
    try {
      await ctx.api.post(`/api/farm/access/keys/${key.id}/revoke`);
      ctx.toast(`${key.name} revoked`);
      reload();
    } catch (err) {
      ctx.toast.error(`Revoking ${key.name}`, err);
    }
  }
  return html`
    <section class="panel" aria-labelledby="keys-title" id="keys">
      <h2 id="keys-title">API keys</h2>
      <div class="table-scroll"><table>
        <thead><tr><th scope="col">Name</th><th scope="col">User</th><th scope="col">Role</th><th scope="col">Made</th>
          <th scope="col">Last used</th><th scope="col"><span class="sr-only">Revoke</span></th></tr></thead>
        <tbody>${access.keys.map((k) => html`<tr key=${k.id} data-key=${k.name}><td>${k.name}</td><td>${k.user}</td>
          <td>${k.role}</td><td>${when(k.created)}</td><td>${k.lastUsed ? when(k.lastUsed) : "never"}</td>
          <td><button type="button" class="quiet danger-text" onClick=${() => revoke(k)}>Revoke</button></td></tr>`)}</tbody>
      </table></div>
      <form class="row" onSubmit=${create}>
        <label>Name <input id="key-name" value=${name} required onInput=${(e) => setName(e.target.value)} /></label>
        <label>Role <${RoleSelect} id="key-role" label="Role of the new key" value=${role} onChange=${setRole} /></label>
        <button type="submit">Make key</button>
      </form>
      ${made && html`<div class="made-key" role="status">
        <p>Key <strong>${made.name}</strong> (${made.role}); copy it now, it is not shown again:</p>
        <code id="made-key">${made.key}</code>
        <button type="button" class="quiet" onClick=${() => setMade(null)}>Done</button></div>`}
    </section>`;
}

function Users({ ctx, access, reload }) {
  const [form, setForm] = useState({ name: "", password: "", role: "operator" });
  async function add(event) {
    event.preventDefault();
    try {
      await ctx.api.post("/api/farm/access/users", form);
      ctx.toast(`${form.name} can log in now`);
      setForm({ name: "", password: "", role: "operator" });
      reload();
    } catch (err) {
      ctx.toast.error(`Adding ${form.name}`, err);
    }
  }
  return html`
    <section class="panel" aria-labelledby="users-title" id="users">
      <h2 id="users-title">Users</h2>
      <ul class="users">${access.users.map((u) => html`<li key=${u.name}>${u.name} <span class="badge">${u.role}</span>
        ${u.canLogIn ? "" : html` <span class="hint">(holds keys only, no password)</span>`}</li>`)}</ul>
      <form class="row" onSubmit=${add}>
        <label>Name <input value=${form.name} required autocomplete="off" onInput=${(e) => setForm({ ...form, name: e.target.value })} /></label>
        <label>Password <input type="password" value=${form.password} required autocomplete="new-password"
          onInput=${(e) => setForm({ ...form, password: e.target.value })} /></label>
        <label>Role <${RoleSelect} label="Role of the new user" value=${form.role} onChange=${(role) => setForm({ ...form, role })} /></label>
        <button type="submit">Add user</button>
      </form>
    </section>`;
}

function Named({ title, items, setItems, kind }) {
  const entries = Object.entries(items);
  const rename = (old, name) => setItems(Object.fromEntries(entries.map(([k, v]) => [k === old ? name : k, v])));
  return html`
    <fieldset class="named"><legend>${title}</legend>
      ${entries.map(([name, body], n) => html`<div class="named-item" key=${n}>
        <input value=${name} aria-label=${`Name of ${kind} ${n + 1}`} onChange=${(e) => rename(name, e.target.value)} />
        <textarea rows="3" aria-label=${`${kind} ${name}`} onChange=${(e) => setItems({ ...items, [name]: e.target.value })}>${body}</textarea>
        <button type="button" class="quiet" aria-label=${`Delete ${kind} ${name}`}
          onClick=${() => setItems(Object.fromEntries(entries.filter(([k]) => k !== name)))}>×</button></div>`)}
      <button type="button" class="quiet" onClick=${() => setItems({ ...items, [`new ${kind} ${entries.length + 1}`]: "" })}>Add ${kind}</button>
    </fieldset>`;
}

function Simulate({ ctx, automation }) {
  const scripts = Object.keys(automation.scripts), pres = Object.keys(automation.preprocessors);
  const [script, setScript] = useState(scripts[0] || "");
  const [pre, setPre] = useState("");
  const [symbols, setSymbols] = useState('{"current": {"path": "part.gcode", "bed_temp": 60, "materials": ["PLA"]}}');
  const [result, setResult] = useState(null);
  async function run(event) {
    event.preventDefault();
    let parsed;
    try {
      parsed = JSON.parse(symbols);
    } catch (err) {
      setResult({ stderr: `The sample values are not JSON: ${err.message}`, gcode: "", stdout: "" });
      return;
    }
    try {
      setResult(await ctx.api.post("/api/farm/automation/simulate", {
        script: automation.scripts[script] || "", preprocessor: pre ? automation.preprocessors[pre] : null, symbols: parsed }));
    } catch (err) {
      setResult({ stderr: err.message, gcode: "", stdout: "" });
    }
  }
  return html`
    <form class="simulate" onSubmit=${run} aria-labelledby="simulate-title">
      <h3 id="simulate-title">Simulate</h3>
      <div class="row">
        <label>Script <select id="simulate-script" value=${script} onChange=${(e) => setScript(e.target.value)}>
          ${scripts.map((s) => html`<option value=${s} key=${s}>${s}</option>`)}</select></label>
        <label>Preprocessor <select id="simulate-pre" value=${pre} onChange=${(e) => setPre(e.target.value)}>
          <option value="">none</option>${pres.map((p) => html`<option value=${p} key=${p}>${p}</option>`)}</select></label>
      </div>
      <label class="stack">Sample values (JSON)
        <textarea id="simulate-symbols" rows="3" onInput=${(e) => setSymbols(e.target.value)}>${symbols}</textarea></label>
      <button type="submit" id="simulate-run">Simulate</button>
      ${result && html`<div class="simulation" role="status" aria-live="polite">
        ${result.stderr ? html`<p class="error-text">${result.stderr}</p>` : html`<p class="hint">The printer would receive:</p>`}
        <pre id="simulate-gcode">${result.gcode || "(nothing)"}</pre>
        ${result.stdout && html`<pre>${result.stdout}</pre>`}</div>`}
    </form>`;
}

function Automation({ ctx }) {
  const [automation, setAutomation] = useState(null);
  const [error, setError] = useState("");
  const load = () => ctx.api.get("/api/farm/automation").then(setAutomation, (err) => setError(err.message));
  useEffect(() => { load(); }, []);
  if (error) return html`<p class="error-text" role="alert">The automation could not be read: ${error}</p>`;
  if (!automation) return html`<p class="hint">Loading the automation…</p>`;
  const set = (key) => (value) => setAutomation({ ...automation, [key]: value });
  const hooks = automation.events;
  const setHook = (event, n, patch) => setAutomation({ ...automation, events: { ...hooks,
    [event]: (hooks[event] || []).map((h, m) => (m === n ? { ...h, ...patch } : h)) } });
  async function save() {
    try {
      setAutomation(await ctx.api.post("/api/farm/automation", automation));
      ctx.toast("Automation saved");
    } catch (err) {
      ctx.toast.error("Saving the automation", err);
    }
  }
  return html`
    <section class="panel automation" aria-labelledby="automation-title" id="automation">
      <h2 id="automation-title">Automation</h2>
      <p class="hint">Scripts run between prints (bed clearing, cool-down); a preprocessor decides whether its script runs
        and fills its {placeholders}. <code>@pause</code> waits for a person.</p>
      <${Named} title="Scripts" kind="script" items=${automation.scripts} setItems=${set("scripts")} />
      <${Named} title="Preprocessors" kind="preprocessor" items=${automation.preprocessors} setItems=${set("preprocessors")} />
      <fieldset class="hooks"><legend>Events</legend>
        ${EVENTS.map((event) => html`<div class="hook-row" key=${event}>
          <span class="event-name">${event.replace("continuousprint_", "").replace(/_/g, " ")}</span>
          ${(hooks[event] || []).map((hook, n) => html`<span class="hook" key=${n}>
            <select aria-label=${`Script for ${event}`} value=${hook.script} onChange=${(e) => setHook(event, n, { script: e.target.value })}>
              ${Object.keys(automation.scripts).map((s) => html`<option value=${s} key=${s}>${s}</option>`)}</select>
            <select aria-label=${`Preprocessor for ${event}`} value=${hook.preprocessor || ""}
              onChange=${(e) => setHook(event, n, { preprocessor: e.target.value || null })}>
              <option value="">always</option>
              ${Object.keys(automation.preprocessors).map((p) => html`<option value=${p} key=${p}>${p}</option>`)}</select>
            <button type="button" class="quiet" aria-label=${`Unhook ${hook.script} from ${event}`}
              onClick=${() => setAutomation({ ...automation, events: { ...hooks, [event]: hooks[event].filter((_, m) => m !== n) } })}>×</button>
          </span>`)}
          <button type="button" class="quiet" disabled=${!Object.keys(automation.scripts).length}
            onClick=${() => setAutomation({ ...automation, events: { ...hooks,
              [event]: [...(hooks[event] || []), { script: Object.keys(automation.scripts)[0], preprocessor: null }] } })}>Hook a script</button>
        </div>`)}
      </fieldset>
      <div class="row"><button type="button" onClick=${save}>Save automation</button>
        <button type="button" class="quiet" onClick=${load}>Undo changes</button></div>
      <${Simulate} ctx=${ctx} automation=${automation} />
    </section>`;
}

export default function View({ ctx }) {
  const user = useStore(ctx.store, (s) => s.user);
  const admin = user && user.role === "admin";
  const [access, setAccess] = useState(null);
  const [nudge, setNudge] = useState(0);
  useEffect(() => {
    if (!admin) return undefined;
    // Read again now and then: an approved app's key appears once the app has collected it.
    const load = () => ctx.api.get("/api/farm/access").then(setAccess, (err) => ctx.toast.error("Reading the keys", err));
    load();
    const timer = setInterval(load, ACCESS_POLL_MS);
    return () => clearInterval(timer);
  }, [admin, nudge]);
  const reload = () => setNudge((n) => n + 1);
  return html`
    <section class="settings-view" aria-labelledby="view-title">
      <h1 id="view-title">Settings</h1>
      ${admin ? html`
        <${AppKeys} ctx=${ctx} />
        ${access && html`<${Keys} ctx=${ctx} access=${access} reload=${reload} /><${Users} ctx=${ctx} access=${access} reload=${reload} />`}`
        : html`<p class="hint">Keys, users and app approvals need the admin role; you are ${user ? user.role : "not logged in"}.</p>`}
      <${Automation} ctx=${ctx} />
    </section>`;
}
