// The farm view: needs attention, filters by state, group and node, selection and bulk actions, and
// a card per printer (or a table row, for big farms), every node's printers when the farm has
// several. Everything comes from the push channel's store.
import { html, useEffect, useMemo, useState } from "../html.js";
import { useStore } from "../store.js";
import { Card, progressText } from "../components/card.js";
import { AttentionStrip } from "../components/attention.js";
import { BulkBar } from "../components/bulk.js";
import { heater, stateClass } from "../format.js";
import { nodeText, nodesOf } from "../components/nodes.js";

const STATES = [["all", "All states"], ["printing", "Printing"], ["paused", "Paused"], ["ready", "Ready"],
  ["error", "Error"], ["offline", "Offline"], ["busy", "Connecting / other"]];

function Table({ cards, selected, onSelect, showNode }) {
  return html`
    <table class="farm-table">
      <thead><tr><th scope="col"><span class="sr-only">Selected</span></th><th scope="col">Printer</th>
        ${showNode && html`<th scope="col">Node</th>`}
        <th scope="col">State</th><th scope="col">File</th><th scope="col">Progress</th><th scope="col">Hotend</th>
        <th scope="col">Bed</th><th scope="col">Queue</th></tr></thead>
      <tbody>
        ${cards.map((card) => html`
          <tr data-printer=${card.name} key=${card.name} class=${stateClass(card.state)}>
            <td><input type="checkbox" checked=${selected.has(card.name)} aria-label=${`Select ${card.name}`}
              onChange=${(e) => onSelect(card.name, e.target.checked)} /></td>
            <td><a href=${`#/printer/${encodeURIComponent(card.name)}`}>${card.displayName || card.name}</a></td>
            ${showNode && html`<td>${card.node && card.node.name}</td>`}
            <td>${card.state.text}</td><td>${(card.job && card.job.path) || ""}</td><td>${progressText(card)}</td>
            <td>${heater(card.temperatures && card.temperatures.tool0)}</td>
            <td>${heater(card.temperatures && card.temperatures.bed)}</td><td>${card.queue && card.queue.status}</td>
          </tr>`)}
      </tbody>
    </table>`;
}

export default function View({ ctx }) {
  const printers = useStore(ctx.store, (s) => s.printers);
  const order = useStore(ctx.store, (s) => s.order);
  const connection = useStore(ctx.store, (s) => s.connection);
  const [stateFilter, setStateFilter] = useState("all");
  const [group, setGroup] = useState("");
  const [node, setNode] = useState("");
  const [layout, setLayout] = useState(localStorage.getItem("farmctl.layout") || "cards");
  const [selected, setSelected] = useState(() => new Set());

  const cards = order.map((name) => printers[name]).filter(Boolean);
  const groups = useMemo(() => [...new Set(cards.flatMap((c) => c.tags || []))].sort(), [printers]);
  const nodes = nodesOf(cards);
  const showNode = nodes.length > 1;
  const shown = cards.filter((c) => (stateFilter === "all" || stateClass(c.state) === stateFilter)
    && (!group || (c.tags || []).includes(group)) && (!node || (c.node && c.node.name === node)));

  const onSelect = (name, on) => setSelected((before) => {
    const next = new Set(before);
    if (on) next.add(name); else next.delete(name);
    return next;
  });
  const allShown = shown.length > 0 && shown.every((c) => selected.has(c.name));
  const selectShown = (on) => setSelected(new Set(on ? shown.map((c) => c.name) : []));
  const chooseLayout = (value) => { localStorage.setItem("farmctl.layout", value); setLayout(value); };

  if (!cards.length) {
    return html`<section><h1 class="sr-only">Farm</h1>
      <p class="hint">${connection.state === "live" ? "No printers configured: add a [[printers]] table to farm.toml."
        : "Connecting to the farm…"}</p></section>`;
  }
  const counts = {};
  for (const c of cards) counts[stateClass(c.state)] = (counts[stateClass(c.state)] || 0) + 1;
  return html`
    <h1 class="sr-only">Farm</h1>
    <${DemoOffer} ctx=${ctx} />
    <${AttentionStrip} cards=${cards} ctx=${ctx} />
    <div class="farm-tools">
      <p class="summary" aria-live="polite">${cards.length} printers:
        ${STATES.slice(1).filter(([k]) => counts[k]).map(([k, label]) => html` <span class=${`count ${k}`}>${counts[k]} ${label.toLowerCase()}</span>`)}</p>
      ${showNode && html`<p class="nodes" id="nodes">${nodes.length} nodes:
        ${nodes.map((n, i) => html`${i ? " · " : " "}<span class=${`node-state ${n.local ? "local" : n.state}`}
          data-node=${n.name}>${nodeText(n)}</span>`)}</p>`}
      <label>State <select id="filter-state" value=${stateFilter} onChange=${(e) => setStateFilter(e.target.value)}>
        ${STATES.map(([value, label]) => html`<option value=${value}>${label}</option>`)}</select></label>
      <label>Group <select id="filter-group" value=${group} onChange=${(e) => setGroup(e.target.value)}>
        <option value="">All groups</option>${groups.map((g) => html`<option value=${g}>${g}</option>`)}</select></label>
      ${showNode && html`<label>Node <select id="filter-node" value=${node} onChange=${(e) => setNode(e.target.value)}>
        <option value="">All nodes</option>${nodes.map((n) => html`<option value=${n.name}>${n.name}</option>`)}</select></label>`}
      <label class="check"><input type="checkbox" id="select-all" checked=${allShown}
        onChange=${(e) => selectShown(e.target.checked)} /> Select all shown</label>
      <span class="layout" role="group" aria-label="Layout">
        <button type="button" class="quiet" aria-pressed=${layout === "cards"} onClick=${() => chooseLayout("cards")}>Cards</button>
        <button type="button" class="quiet" aria-pressed=${layout === "table"} onClick=${() => chooseLayout("table")}>Table</button>
      </span>
    </div>
    <${BulkBar} ctx=${ctx} selected=${selected} clear=${() => setSelected(new Set())} />
    ${layout === "table"
      ? html`<${Table} cards=${shown} selected=${selected} onSelect=${onSelect} showNode=${showNode} />`
      : html`<div class="grid" id="printers">
          ${shown.map((card) => html`<${Card} key=${card.name} card=${card} ctx=${ctx} showNode=${showNode}
            selected=${selected.has(card.name)} onSelect=${onSelect} />`)}
        </div>`}
    ${shown.length === 0 && html`<p class="hint">No printer matches these filters.</p>`}`;
}

// On a fresh demo farm: the draft job of sample parts, one button away from printing.
export function DemoOffer({ ctx }) {
  const [offer, setOffer] = useState(null);
  const revision = useStore(ctx.store, (s) => s.revisions.queue);
  useEffect(() => {
    ctx.api.get("/api/farm/demo").then((d) => setOffer(d.offer), () => setOffer(null));
  }, [revision]);
  if (!offer) return null;
  const start = async () => {
    try {
      await ctx.api.post("/api/farm/demo/start");
      setOffer(null);
      ctx.toast(`${offer.name}: queued, and ${offer.printers.join(", ")} now take work from the queue`);
    } catch (err) {
      ctx.toast.error("Starting the demo", err);
    }
  };
  return html`
    <section class="panel demo" id="demo" aria-labelledby="demo-title">
      <h2 id="demo-title">Welcome: this is a demo farm of ${offer.printers.length} simulated printers</h2>
      <p>The draft job “${offer.name}” (${offer.copies} copies of a sample part in Files) is waiting.
        Start it and every printer takes a copy from the queue; when one is done, clear its plate from “Needs attention”.</p>
      <button type="button" id="demo-start" onClick=${start}>Start</button>
    </section>`;
}
