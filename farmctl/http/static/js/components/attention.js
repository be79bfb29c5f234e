// The "needs attention" strip: every printer waiting for a person, why, and the one button that
// usually settles it (plate cleared, retry, the prompt's answers, reconnect), and every node that
// went away with its printers (a person has to bring it back).
import { html } from "../html.js";
import { act, printerAction } from "./actions.js";
import { heardAt, nodesOf } from "./nodes.js";

export function AttentionStrip({ cards, ctx }) {
  const waiting = cards.filter((card) => card.attention);
  const gone = nodesOf(cards).filter((node) => !node.local && node.state === "gone");
  if (!waiting.length && !gone.length) return null;
  const run = (card, choice) => act(ctx, `${choice.label} on ${card.name}`, () => printerAction(ctx, card.name,
    choice.action, choice.choice === null ? {} : { choice: choice.choice }));
  return html`
    <section class="attention-strip" id="attention" aria-labelledby="attention-title">
      <h2 id="attention-title">Needs attention (${waiting.length + gone.length})</h2>
      <ul>
        ${gone.map((node) => html`
          <li class="attention-item node-gone" data-node=${node.name} key=${`node ${node.name}`}>
            <span class="who">Node ${node.name}</span>
            <span class="why">${`went away (no heartbeat since ${heardAt(node)}): its ${node.printers} printer${
              node.printers === 1 ? " is" : "s are"} out of reach until it runs again`}</span>
          </li>`)}
        ${waiting.map((card) => html`
          <li class=${`attention-item ${card.attention.kind}`} data-printer=${card.name} key=${card.name}>
            <a class="who" href=${`#/printer/${encodeURIComponent(card.name)}`}>${card.displayName || card.name}</a>
            <span class="why">${card.attention.text}</span>
            <span class="choices">
              ${card.attention.choices.map((choice) => html`
                <button type="button" onClick=${() => run(card, choice)}>${choice.label}</button>`)}
            </span>
          </li>`)}
      </ul>
    </section>`;
}
