// One printer in the farm view: state and reason, progress with time left and the clock time it
// ends, the file, hotend and bed with a trend, the queue, and the everyday buttons. Another node's
// printer carries that node's name; while the node is away the card says so and its buttons rest.
import { html } from "../html.js";
import { away, heardAt, remote } from "./nodes.js";
import { clockIn, duration, heater, material, stateClass } from "../format.js";
import { Sparkline } from "./sparkline.js";
import { act, cancelPrint, printerAction } from "./actions.js";

export function progressText(card) {
  const p = card.progress || {};
  if (p.completion === null || p.completion === undefined) return "";
  const running = ["PRINTING", "PAUSED", "PAUSING"].includes(card.state.id);
  let text = `${Math.floor(p.completion)} %`;
  if (running && p.printTimeLeft !== null && p.printTimeLeft !== undefined && p.printTime >= 3) {
    text += ` · ${duration(p.printTimeLeft)} left · ends ${clockIn(p.printTimeLeft)}`;
  } else if (!running && p.printTime) {
    text += ` · took ${duration(p.printTime)}`;
  }
  return text;
}

function fileText(card) {
  const job = card.job || {};
  if (!job.path && !job.script) return "No file";
  const running = ["PRINTING", "PAUSED", "PAUSING", "CANCELLING"].includes(card.state.id);
  if (job.script) return job.path ? `${job.path} · ${job.script}` : job.script;
  return running ? job.path : `Last: ${job.path}`;
}

// An away card's two short lines (the server's full reason is the first one's tooltip).
function awayLines(card) {
  const node = card.node;
  const why = node.state === "gone" ? `Node ${node.name} stopped beating`
    : node.state === "unreachable" ? `Node ${node.name} is not answering` : `Waiting for node ${node.name}`;
  const seen = card.state.lastSeen ? `Last seen: ${card.state.lastSeen}` : "Not seen from this node yet";
  return [why, node.state === "gone" ? `${seen} · heard ${heardAt(node)}` : seen];
}

// The materials loaded per tool (when the printer tracks them) and the printer's groups.
function Loadout({ card }) {
  const loaded = (card.materials || []).map((key, tool) => [tool, key]).filter(([, key]) => key);
  const tags = card.tags || [];
  if (!loaded.length && !tags.length) return null;
  const several = (card.materials || []).length > 1;
  return html`<p class="tags">
    ${loaded.map(([tool, key]) => {
      const { text, swatch } = material(key);
      return html`<span class="tag material" title=${`Tool ${tool}: ${key}`}>${swatch && html`<i class="spool"
        style=${`background:${swatch}`}></i>`}${several ? `T${tool} ` : ""}${text}</span>`;
    })}
    ${tags.map((t) => html`<span class="tag">${t}</span>`)}</p>`;
}

export function Card({ card, ctx, selected, onSelect, showNode }) {
  const name = card.name;
  const state = card.state;
  const out = away(card);
  const running = !out && ["PRINTING", "PAUSED", "PAUSING"].includes(state.id);
  const paused = state.id === "PAUSED" || state.id === "PAUSING";
  const manage = card.queue && card.queue.active;
  const completion = (card.progress && card.progress.completion) || 0;
  const tool = card.temperatures && card.temperatures.tool0;
  const bed = card.temperatures && card.temperatures.bed;
  const titleId = `card-${name}`;
  const toggleManage = () => act(ctx, `${manage ? "Stop" : "Start"} managing ${name}`,
    () => printerAction(ctx, name, manage ? "unmanage" : "manage"));
  const togglePause = () => act(ctx, `${paused ? "Resume" : "Pause"} ${name}`,
    () => printerAction(ctx, name, paused ? "resume" : "pause"));
  return html`
    <article class=${`card ${stateClass(state)}${card.attention ? " attention" : ""}${out ? " away" : ""}`}
      data-printer=${name} data-node=${card.node && card.node.name} aria-labelledby=${titleId}>
      <header>
        <input type="checkbox" class="select" checked=${selected} onChange=${(e) => onSelect(name, e.target.checked)}
          aria-label=${`Select ${name}`} />
        <h2 id=${titleId} class="name"><a href=${`#/printer/${encodeURIComponent(name)}`}>${card.displayName || name}</a></h2>
        ${showNode && card.node && html`<span class=${`badge node${remote(card) ? " remote" : ""}`}
          title=${`Driven by node ${card.node.name}${remote(card) ? "" : " (this node)"}`}>${card.node.name}</span>`}
        <span class="badge state">${state.text}</span>
      </header>
      ${out ? html`<p class="reason" title=${state.error}>${awayLines(card)[0]}</p>
          <p class="last-seen">${awayLines(card)[1]}</p>`
        : state.error && html`<p class="reason" title=${state.error}>${state.error}</p>`}
      <p class="file" title=${fileText(card)}>${fileText(card)}</p>
      <div class="bar" role="progressbar" aria-label=${`${name} progress`} aria-valuemin="0" aria-valuemax="100"
        aria-valuenow=${Math.round(completion)}><div class="fill" style=${`width:${completion}%`}></div></div>
      <p class="progress-text">${progressText(card)}</p>
      <div class="temps">
        <span>Hotend <b class="tool">${heater(tool)}</b></span>
        <span>Bed <b class="bed">${heater(bed)}</b></span>
        <span>Z <b class="z">${card.currentZ === null || card.currentZ === undefined ? "—" : `${card.currentZ.toFixed(2)} mm`}</b></span>
        <${Sparkline} points=${card.trend} label=${`${name} temperature trend`} />
      </div>
      <p class="queue-status">${card.maintenance ? `Maintenance: ${card.maintenance}` : card.queue ? card.queue.status : ""}</p>
      <${Loadout} card=${card} />
      <div class="actions">
        <button type="button" class="manage" onClick=${toggleManage} disabled=${out || (!!card.maintenance && !manage)}>
          ${manage ? "Stop managing" : "Start managing"}</button>
        <button type="button" class="pause" onClick=${togglePause} disabled=${!running}>${paused ? "Resume" : "Pause"}</button>
        <button type="button" class="cancel danger" onClick=${() => cancelPrint(ctx, name)} disabled=${!running}>Cancel</button>
      </div>
    </article>`;
}
