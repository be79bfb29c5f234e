// One printer: its state and print, the temperature chart, targets and presets, jog and
// extrusion, the G-code terminal, the webcam, connect/disconnect, emergency stop, maintenance
// and groups. Live state comes from the push channel's card; the chart's past from one GET.
import { html, useEffect, useState } from "../html.js";
import { useStore } from "../store.js";
import { progressText } from "../components/card.js";
import { TemperatureChart } from "../components/chart.js";
import { Heaters } from "../components/heaters.js";
import { JogPanel } from "../components/jog.js";
import { Terminal } from "../components/terminal.js";
import { act, cancelPrint, printerAction } from "../components/actions.js";
import { stateClass } from "../format.js";
import { away, remote } from "../components/nodes.js";

const HISTORY_S = 30 * 60;

function Webcam({ webcam, name }) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!webcam || webcam.stream || !webcam.snapshot) return undefined;
    const timer = setInterval(() => setTick((n) => n + 1), 5000);
    return () => clearInterval(timer);
  }, [webcam]);
  if (!webcam || (!webcam.stream && !webcam.snapshot)) return null;
  const source = webcam.stream || `${webcam.snapshot}${webcam.snapshot.includes("?") ? "&" : "?"}t=${tick}`;
  return html`<section class="webcam" aria-labelledby="webcam-title"><h2 id="webcam-title">Camera</h2>
    <img src=${source} alt=${`${name} camera`} /></section>`;
}

function Maintenance({ ctx, name, card }) {
  const [note, setNote] = useState("");
  const on = card.maintenance !== null && card.maintenance !== undefined;
  const set = (value) => act(ctx, `Maintenance of ${name}`, () => ctx.api.put(
    `/api/farm/printers/${encodeURIComponent(name)}/maintenance`, { on: value, note }));
  return html`
    <section aria-labelledby="maintenance-title">
      <h2 id="maintenance-title">Maintenance</h2>
      ${on ? html`<p>In maintenance${card.maintenance ? `: ${card.maintenance}` : ""}. It takes no work from any queue.</p>
          <button type="button" onClick=${() => set(false)}>End maintenance</button>`
        : html`<form class="row" onSubmit=${(e) => { e.preventDefault(); set(true); }}>
          <label for="maintenance-note">Note</label>
          <input id="maintenance-note" value=${note} maxlength="500" placeholder="e.g. nozzle swap"
            onInput=${(e) => setNote(e.target.value)} />
          <button type="submit">Start maintenance</button></form>`}
    </section>`;
}

function Groups({ ctx, name, card }) {
  const [text, setText] = useState((card.tags || []).join(", "));
  useEffect(() => setText((card.tags || []).join(", ")), [(card.tags || []).join(",")]);
  const save = (event) => {
    event.preventDefault();
    const tags = text.split(",").map((t) => t.trim()).filter(Boolean);
    act(ctx, `Groups of ${name}`, () => ctx.api.put(`/api/farm/printers/${encodeURIComponent(name)}/tags`, { tags }));
  };
  return html`
    <section aria-labelledby="groups-title">
      <h2 id="groups-title">Groups</h2>
      <form class="row" onSubmit=${save}>
        <label for="groups-input" class="sr-only">Groups, separated by commas</label>
        <input id="groups-input" value=${text} placeholder="e.g. left-wall, petg" onInput=${(e) => setText(e.target.value)} />
        <button type="submit">Save groups</button>
      </form>
    </section>`;
}

function appendSample(samples, card) {
  const t = card.temperatures || {};
  if (!t.tool0 && !t.bed) return samples;
  const now = Math.floor(Date.now() / 1000);
  const last = samples[samples.length - 1];
  if (last && last.time >= now) return samples;
  return [...samples.filter((s) => s.time > now - HISTORY_S), { time: now, tool0: t.tool0, bed: t.bed }];
}

export default function View({ ctx }) {
  const name = ctx.params[0];
  const card = useStore(ctx.store, (s) => s.printers[name]);
  const [detail, setDetail] = useState(null);
  const [samples, setSamples] = useState([]);
  const [error, setError] = useState("");

  useEffect(() => {
    setDetail(null);
    ctx.api.get(`/api/farm/printers/${encodeURIComponent(name)}`).then((d) => {
      setDetail(d);
      setSamples(d.temperatureHistory);
    }, (err) => setError(err.message));
  }, [name]);
  useEffect(() => { if (card && detail) setSamples((s) => appendSample(s, card)); }, [card && card.temperatures]);

  if (error) return html`<section><h1>${name}</h1><p class="error-text" role="alert">${error}</p>
    <p><a href="#/farm">Back to the farm</a></p></section>`;
  if (!card || !detail) return html`<p class="hint">Loading ${name}…</p>`;

  const state = card.state;
  const running = ["PRINTING", "PAUSED", "PAUSING"].includes(state.id);
  const paused = state.id === "PAUSED" || state.id === "PAUSING";
  const online = !away(card) && !["OFFLINE", "ERROR"].includes(state.id);
  const run = (what, action, extra) => act(ctx, `${what} on ${name}`, () => printerAction(ctx, name, action, extra));
  async function emergencyStop() {
    const yes = await ctx.confirm({ title: `Emergency stop ${name}?`, danger: true, action: "Emergency stop",
      message: "M112 halts the firmware at once: heaters and motors off, the print is lost. The printer must be reset (reconnect) afterwards." });
    if (yes) run("Emergency stop", "emergency_stop");
  }
  return html`
    <div class=${`detail-head ${stateClass(state)}`}>
      <a href="#/farm">← Farm</a>
      <h1 id="printer-name">${card.displayName || name}</h1>
      <span class="badge state" id="printer-state">${state.text}</span>
      <span class="hint">${card.profile}${card.firmware ? ` · ${card.firmware}` : ""} · ${card.port}${
        remote(card) ? ` · on node ${card.node.name}` : ""}</span>
      <span class="row" style="margin-left:auto">
        ${online ? html`<button type="button" class="quiet" onClick=${() => run("Disconnect", "disconnect")}>Disconnect</button>`
          : html`<button type="button" onClick=${() => run("Connect", "connect")}>Connect</button>`}
        <button type="button" class="danger" id="emergency-stop" disabled=${!online} onClick=${emergencyStop}>Emergency stop</button>
      </span>
    </div>
    ${state.error && html`<p class="error-text">${state.error}</p>`}
    ${card.attention && html`<p class="attention-strip" role="status">${card.attention.text}
      ${card.attention.choices.map((c) => html` <button type="button" onClick=${() => run(c.label, c.action,
        c.choice === null ? {} : { choice: c.choice })}>${c.label}</button>`)}</p>`}
    <div class="detail">
      <div>
        <section class="panel" aria-labelledby="job-title">
          <h2 id="job-title">${card.job && card.job.path ? card.job.path : "No file"}</h2>
          <div class="bar" role="progressbar" aria-label="Progress" aria-valuemin="0" aria-valuemax="100"
            aria-valuenow=${Math.round((card.progress && card.progress.completion) || 0)}>
            <div class="fill" style=${`width:${(card.progress && card.progress.completion) || 0}%`}></div></div>
          <p class="progress-text">${progressText(card)}</p>
          <p class="hint">${card.queue.status} · Z ${card.currentZ === null ? "—" : `${card.currentZ.toFixed(2)} mm`}</p>
          <div class="row">
            <button type="button" onClick=${() => run(card.queue.active ? "Stop managing" : "Start managing",
              card.queue.active ? "unmanage" : "manage")}>${card.queue.active ? "Stop managing" : "Start managing"}</button>
            <button type="button" disabled=${!running} onClick=${() => run(paused ? "Resume" : "Pause", paused ? "resume" : "pause")}>
              ${paused ? "Resume" : "Pause"}</button>
            <button type="button" class="danger" disabled=${!running} onClick=${() => cancelPrint(ctx, name)}>Cancel</button>
          </div>
        </section>
        <section class="panel" aria-labelledby="chart-title">
          <h2 id="chart-title">Last 30 minutes</h2>
          <${TemperatureChart} samples=${samples} name=${name} />
        </section>
        <div class="panel"><${Terminal} ctx=${ctx} name=${name} initial=${detail.terminal.logs}
          remoteSeq=${remote(card) ? detail.terminal.seq : null} /></div>
      </div>
      <div>
        <div class="panel"><${Heaters} ctx=${ctx} name=${name} card=${card} heaters=${detail.heaters} /></div>
        <div class="panel"><${JogPanel} ctx=${ctx} name=${name} disabled=${!online || running} /></div>
        <${Webcam} webcam=${card.webcam} name=${name} />
        <div class="panel"><${Maintenance} ctx=${ctx} name=${name} card=${card} />
          <${Groups} ctx=${ctx} name=${name} card=${card} /></div>
      </div>
    </div>`;
}
