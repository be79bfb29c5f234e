// A small store: one state object, replaced (never mutated) on each change, and a hook that
// re-renders a component when the part it selects changes.
import { useEffect, useState } from "./html.js";

export function createStore(initial) {
  let state = initial;
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      const next = typeof patch === "function" ? patch(state) : patch;
      state = { ...state, ...next };
      for (const listener of listeners) listener(state);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useStore(store, select) {
  const [value, setValue] = useState(() => select(store.get()));
  useEffect(() => {
    setValue(select(store.get()));
    return store.subscribe((state) => setValue(select(state)));
  }, [store]);
  return value;
}

const TREND_POINTS = 60;
const TREND_EVERY_MS = 10000;

// The push channel's messages applied to the farm state.
export function applySnapshot(state, printers) {
  const byName = {};
  for (const card of printers) byName[card.name] = { ...card, trendAt: Date.now() };
  return { printers: byName, order: printers.map((card) => card.name) };
}

export function applyDiff(state, changes) {
  const printers = { ...state.printers };
  const now = Date.now();
  for (const [name, fields] of Object.entries(changes)) {
    const card = { ...(printers[name] || { name, trend: [] }), ...fields };
    if (fields.temperatures && now - (card.trendAt || 0) >= TREND_EVERY_MS) {
      const tool = fields.temperatures.tool0, bed = fields.temperatures.bed;
      card.trend = [...(card.trend || []), [tool ? tool.actual : null, bed ? bed.actual : null]].slice(-TREND_POINTS);
      card.trendAt = now;
    }
    printers[name] = card;
  }
  return { printers };
}
