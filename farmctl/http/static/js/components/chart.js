// A printer's temperatures over the last 30 minutes (uPlot): hotend and bed, actual and target.
import uPlot from "uplot";
import { html, useEffect, useRef } from "../html.js";

const WINDOW_S = 30 * 60;
const steps = uPlot.paths.stepped({ align: 1 });

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// Samples [{time, tool0: {actual, target}, bed: {...}}] as uPlot's columns.
export function columns(samples) {
  const data = [[], [], [], [], []];
  for (const s of samples) {
    data[0].push(s.time);
    data[1].push(s.tool0 ? s.tool0.actual : null);
    data[2].push(s.tool0 ? s.tool0.target : null);
    data[3].push(s.bed ? s.bed.actual : null);
    data[4].push(s.bed ? s.bed.target : null);
  }
  return data;
}

export function TemperatureChart({ samples, name }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const hot = css("--danger") || "#c00", cold = css("--accent") || "#06c", axis = css("--muted") || "#666";
    const grid = { stroke: css("--line") || "#ddd", width: 1 };
    const options = {
      width: box.current.clientWidth || 600,
      height: 240,
      scales: { x: { time: true }, y: { range: (u, low, high) => [0, Math.max(60, Math.ceil((high + 10) / 10) * 10)] } },
      axes: [{ stroke: axis, grid }, { stroke: axis, grid, label: "°C" }],
      // A target changes in one step: drawn as steps, not as a ramp between two samples.
      series: [
        {},
        { label: "Hotend", stroke: hot, width: 2, points: { show: false } },
        { label: "Hotend target", stroke: hot, dash: [5, 5], width: 1, paths: steps, points: { show: false } },
        { label: "Bed", stroke: cold, width: 2, points: { show: false } },
        { label: "Bed target", stroke: cold, dash: [5, 5], width: 1, paths: steps, points: { show: false } },
      ],
      legend: { live: false },
    };
    plot.current = new uPlot(options, columns(samples), box.current);
    const resize = new ResizeObserver(() => plot.current && plot.current.setSize({ width: box.current.clientWidth, height: 240 }));
    resize.observe(box.current);
    return () => { resize.disconnect(); plot.current.destroy(); plot.current = null; };
  }, []);
  useEffect(() => {
    if (!plot.current || !samples.length) return;
    const last = samples[samples.length - 1].time;
    plot.current.setData(columns(samples.filter((s) => s.time > last - WINDOW_S)));
  }, [samples]);
  return html`<div class="chart" ref=${box} role="img"
    aria-label=${`${name}: hotend and bed temperatures over the last 30 minutes`}></div>`;
}
