// How numbers read on the page: durations, clock times, temperatures.

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${m} min`;
  return `${s} s`;
}

export function clockIn(seconds) {
  const at = new Date(Date.now() + seconds * 1000);
  return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function heater(reading) {
  if (!reading || reading.actual === null || reading.actual === undefined) return "—";
  const target = reading.target ? ` / ${Math.round(reading.target)}` : "";
  return `${Math.round(reading.actual)}${target} °C`;
}

// A card's state as one word class for colour: printing, paused, ready, error, offline, busy
// (a printer whose node is away, NODE_GONE and the like, is offline).
export function stateClass(state) {
  if (state.id.startsWith("NODE_")) return "offline";
  switch (state.id) {
    case "PRINTING": return "printing";
    case "PAUSED": case "PAUSING": return "paused";
    case "OPERATIONAL": return "ready";
    case "ERROR": return "error";
    case "OFFLINE": return "offline";
    default: return "busy";
  }
}

// A loaded material as Continuous Print keys it, "PLA_red_#ff0000": what it reads as and its colour.
export function material(key) {
  const [kind, colour, hex] = String(key).split("_");
  return { text: [kind, colour].filter(Boolean).join(" "), swatch: /^#[0-9a-f]{3,8}$/i.test(hex || "") ? hex : null };
}
