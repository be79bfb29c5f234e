// The farm's nodes as the cards tell them: each card names the node that drives its printer, and
// a node that stopped beating (or does not answer) marks every printer of it as out of reach.

export const NODE_STATE_TEXT = {
  up: "up", connecting: "connecting", unreachable: "not answering", gone: "went away",
};

// Is this card's printer out of reach (its node went away, does not answer, or has not reported yet)?
export function away(card) {
  return !!card.node && !card.node.local && card.node.state !== "up";
}

export function remote(card) {
  return !!card.node && !card.node.local;
}

export function heardAt(node) {
  if (!node || !node.since) return "";
  return new Date(node.since * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// Every node the cards name, this one first: {name, state, since, local, printers}.
export function nodesOf(cards) {
  const byName = new Map();
  for (const card of cards) {
    const node = card.node;
    if (!node) continue;
    const known = byName.get(node.name);
    if (known) known.printers += 1;
    else byName.set(node.name, { ...node, printers: 1 });
  }
  return [...byName.values()].sort((a, b) => (b.local - a.local) || a.name.localeCompare(b.name));
}

// One line per node for the summary: "pi-2: went away at 13:40:12 (8 printers)".
export function nodeText(node) {
  const count = `${node.printers} printer${node.printers === 1 ? "" : "s"}`;
  if (node.local) return `${node.name} (this node, ${count})`;
  if (node.state === "gone") return `${node.name} went away, last heard ${heardAt(node)} (${count})`;
  return `${node.name}: ${NODE_STATE_TEXT[node.state] || node.state} (${count})`;
}
