// A card's small temperature trend: the hotend (and the bed, fainter) over the last minutes.
import { html } from "../html.js";

function path(points, index, low, high, width, height) {
  const step = points.length > 1 ? width / (points.length - 1) : 0;
  let d = "";
  points.forEach((point, i) => {
    const value = point[index];
    if (value === null || value === undefined) return;
    const y = height - ((value - low) / (high - low || 1)) * height;
    d += `${d ? "L" : "M"}${(i * step).toFixed(1)},${y.toFixed(1)}`;
  });
  return d;
}

export function Sparkline({ points, label }) {
  const width = 100, height = 24;
  if (!points || points.length < 2) return null; // no trend yet: no empty box either
  const values = points.flat().filter((v) => v !== null && v !== undefined);
  const low = Math.min(20, ...values), high = Math.max(60, ...values);
  return html`
    <svg class="spark" viewBox=${`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label=${label}>
      <path class="spark-bed" d=${path(points, 1, low, high, width, height)} />
      <path class="spark-tool" d=${path(points, 0, low, high, width, height)} />
    </svg>`;
}
