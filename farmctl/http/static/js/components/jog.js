// Jog X/Y/Z by a chosen step, home, extrude and retract, fan, motors off.
import { html, useState } from "../html.js";
import { act, printerAction } from "./actions.js";

const STEPS = [0.1, 1, 10, 100];

export function JogPanel({ ctx, name, disabled }) {
  const [step, setStep] = useState(10);
  const [length, setLength] = useState(5);
  const [fanPercent, setFan] = useState(100);
  const run = (what, action, extra) => act(ctx, `${what} on ${name}`, () => printerAction(ctx, name, action, extra));
  const jog = (axis, sign) => run(`Jog ${axis.toUpperCase()}`, "jog", { [axis]: sign * step });
  const button = (label, axis, sign, extra = "") => html`
    <button type="button" class=${`jog ${extra}`} disabled=${disabled} onClick=${() => jog(axis, sign)}
      aria-label=${`${axis.toUpperCase()} ${sign > 0 ? "+" : "−"}${step} mm`}>${label}</button>`;
  return html`
    <section class="jog-panel" aria-labelledby="jog-title">
      <h2 id="jog-title">Move</h2>
      <div class="row" role="radiogroup" aria-label="Step">
        ${STEPS.map((s) => html`<button type="button" role="radio" class="quiet" aria-checked=${step === s}
          onClick=${() => setStep(s)}>${s} mm</button>`)}
      </div>
      <div class="jog-grid">
        <span></span>${button("Y+", "y", 1)}<span></span><span></span>${button("Z+", "z", 1, "z-up")}
        ${button("X−", "x", -1)}
        <button type="button" disabled=${disabled} onClick=${() => run("Home X Y", "home", { axes: ["x", "y"] })}
          aria-label="Home X and Y">⌂</button>
        ${button("X+", "x", 1)}<span></span>
        <button type="button" disabled=${disabled} onClick=${() => run("Home Z", "home", { axes: ["z"] })}
          aria-label="Home Z">⌂Z</button>
        <span></span>${button("Y−", "y", -1)}<span></span><span></span>${button("Z−", "z", -1, "z-down")}
      </div>
      <div class="row">
        <button type="button" id="home-all" disabled=${disabled} onClick=${() => run("Home", "home", { axes: ["x", "y", "z"] })}>Home all</button>
        <button type="button" class="quiet" disabled=${disabled} onClick=${() => run("Motors off", "motors_off")}>Motors off</button>
      </div>
      <div class="row">
        <label>Filament <input type="number" min="0.1" max="100" step="0.1" value=${length}
          onInput=${(e) => setLength(Number(e.target.value))} /> mm</label>
        <button type="button" disabled=${disabled} onClick=${() => run("Extrude", "extrude", { amount: length })}>Extrude</button>
        <button type="button" disabled=${disabled} onClick=${() => run("Retract", "extrude", { amount: -length })}>Retract</button>
      </div>
      <div class="row">
        <label>Fan <input type="range" min="0" max="100" step="5" value=${fanPercent}
          onInput=${(e) => setFan(Number(e.target.value))} /> ${fanPercent} %</label>
        <button type="button" onClick=${() => run("Fan", "fan", { percent: fanPercent })}>Set fan</button>
        <button type="button" class="quiet" onClick=${() => run("Fan off", "fan", { percent: 0 })}>Fan off</button>
      </div>
    </section>`;
}
