// Targets per heater, the presets (PLA, PETG...) with an editor, and cool down.
import { html, useEffect, useState } from "../html.js";
import { heater } from "../format.js";
import { act, printerAction } from "./actions.js";

const LABELS = { bed: "Bed", chamber: "Chamber" };
const label = (name) => LABELS[name] || (name === "tool0" ? "Hotend" : `Hotend ${Number(name.slice(4)) + 1}`);

function PresetEditor({ ctx, presets, done }) {
  const [rows, setRows] = useState(presets.map((p) => ({ ...p })));
  const change = (i, key, value) => setRows(rows.map((r, j) => (j === i ? { ...r, [key]: value } : r)));
  async function save(event) {
    event.preventDefault();
    const body = rows.filter((r) => r.name.trim()).map((r) => ({ name: r.name, tool: Number(r.tool), bed: Number(r.bed) }));
    const saved = await act(ctx, "Saving the presets", () => ctx.api.put("/api/farm/presets", { presets: body }));
    if (saved) done(saved.presets);
  }
  return html`
    <form class="preset-editor" onSubmit=${save}>
      <table>
        <thead><tr><th scope="col">Preset</th><th scope="col">Hotend °C</th><th scope="col">Bed °C</th><th></th></tr></thead>
        <tbody>${rows.map((r, i) => html`<tr>
          <td><input aria-label="Preset name" value=${r.name} onInput=${(e) => change(i, "name", e.target.value)} /></td>
          <td><input aria-label=${`${r.name} hotend`} type="number" min="0" max="400" value=${r.tool}
            onInput=${(e) => change(i, "tool", e.target.value)} /></td>
          <td><input aria-label=${`${r.name} bed`} type="number" min="0" max="400" value=${r.bed}
            onInput=${(e) => change(i, "bed", e.target.value)} /></td>
          <td><button type="button" class="quiet" aria-label=${`Remove ${r.name}`}
            onClick=${() => setRows(rows.filter((_, j) => j !== i))}>×</button></td></tr>`)}
        </tbody>
      </table>
      <div class="row">
        <button type="button" class="quiet" onClick=${() => setRows([...rows, { name: "", tool: 200, bed: 60 }])}>Add preset</button>
        <button type="submit">Save presets</button>
        <button type="button" class="quiet" onClick=${() => done(null)}>Close</button>
      </div>
    </form>`;
}

export function Heaters({ ctx, name, card, heaters }) {
  const [presets, setPresets] = useState([]);
  const [editing, setEditing] = useState(false);
  const [targets, setTargets] = useState({});
  useEffect(() => {
    ctx.api.get("/api/farm/presets").then((d) => setPresets(d.presets), (err) => ctx.toast.error("Loading presets", err));
  }, []);
  const temps = card.temperatures || {};
  const run = (what, action, extra) => act(ctx, `${what} on ${name}`, () => printerAction(ctx, name, action, extra));
  const setOne = (h) => {
    const value = Number(targets[h]);
    if (targets[h] === undefined || targets[h] === "" || Number.isNaN(value)) return;
    run(`Set ${label(h)}`, "targets", { targets: { [h]: value } });
  };
  const preheat = (p) => run(`Preheat ${p.name}`, "targets", {
    targets: Object.fromEntries(heaters.map((h) => [h, h === "bed" ? p.bed : p.tool])) });
  return html`
    <section class="heaters" aria-labelledby="heaters-title">
      <h2 id="heaters-title">Temperatures</h2>
      <table>
        <tbody>${heaters.map((h) => html`<tr>
          <th scope="row">${label(h)}</th><td class=${`now-${h}`}>${heater(temps[h])}</td>
          <td><input type="number" min="0" max="400" aria-label=${`${label(h)} target °C`} placeholder="target"
            value=${targets[h] ?? ""} onInput=${(e) => setTargets({ ...targets, [h]: e.target.value })}
            onKeyDown=${(e) => e.key === "Enter" && setOne(h)} /></td>
          <td><button type="button" onClick=${() => setOne(h)}>Set</button>
            <button type="button" class="quiet" onClick=${() => run(`${label(h)} off`, "targets", { targets: { [h]: 0 } })}>Off</button></td>
        </tr>`)}</tbody>
      </table>
      <div class="row">
        ${presets.map((p) => html`<button type="button" class="quiet" onClick=${() => preheat(p)}
          title=${`${p.tool} / ${p.bed} °C`}>${p.name}</button>`)}
        <button type="button" class="quiet" onClick=${() => run("Cool down", "cooldown")}>Cool down</button>
        <button type="button" class="quiet" aria-expanded=${editing} onClick=${() => setEditing(!editing)}>Edit presets</button>
      </div>
      ${editing && html`<${PresetEditor} ctx=${ctx} presets=${presets}
        done=${(saved) => { if (saved) setPresets(saved); setEditing(false); }} />`}
    </section>`;
}
