// The queue's forecast as a timeline: one lane per printer, a bar per queued copy from when it is
// expected to start to when it should end, and "now". A table below says the same in words, for
// screen readers and for reading exact times.
import { html, useEffect, useState } from "../html.js";
import { duration } from "../format.js";
import { clock, useArea } from "./page.js";

const REFRESH_MS = 30000;
const TICK_CHOICES = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

function ticks(start, end) {
  const span = Math.max(1, end - start);
  const step = TICK_CHOICES.find((s) => span / s <= 8) || 86400;
  const out = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) out.push(t);
  return out;
}

function colour(jobId) {
  return `hsl(${(jobId * 67) % 360} 60% 30%)`;  // dark enough for white text at any hue
}

function Lanes({ forecast }) {
  const copies = forecast.copies;
  const start = Math.min(forecast.now, ...copies.map((c) => c.start));
  const end = Math.max(forecast.now + 60, ...copies.map((c) => c.end));
  const at = (t) => `${(100 * (t - start)) / (end - start)}%`;
  const width = (c) => `max(3px, ${(100 * (c.end - c.start)) / (end - start)}%)`;
  return html`
    <div class="timeline" aria-hidden="true">
      <div class="axis">
        ${ticks(start, end).map((t) => html`<span class="tick" style=${{ left: at(t) }} key=${t}>${clock(t)}</span>`)}
      </div>
      ${forecast.printers.map((printer) => html`
        <div class="lane" key=${printer}>
          <span class="lane-name">${printer}</span>
          <div class="lane-track">
            <div class="now" style=${{ left: at(forecast.now) }}></div>
            ${copies.filter((c) => c.printer === printer).map((c, n) => html`
              <div class=${`copy${c.running ? " running" : ""}${c.estimated ? "" : " guess"}`} key=${n}
                style=${{ left: at(c.start), width: width(c), background: colour(c.jobId) }}
                title=${`${c.jobName}: ${c.path}, ${clock(c.start)} – ${clock(c.end)}`}>
                <span>${c.jobName} · ${c.path.split("/").pop()}</span>
              </div>`)}
          </div>
        </div>`)}
    </div>`;
}

export function Forecast({ ctx }) {
  const [changeover, setChangeover] = useState(2);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  const [forecast, error] = useArea(ctx, "queue", () => ctx.api.get(`/api/farm/forecast?changeover=${changeover * 60}`),
    [changeover, tick]);
  if (error) return html`<p class="error-text" role="alert">The forecast failed: ${error}</p>`;
  if (!forecast) return html`<p class="hint">Working out the forecast…</p>`;
  const copies = forecast.copies;
  return html`
    <section class="forecast panel" aria-labelledby="forecast-title">
      <div class="row">
        <h2 id="forecast-title">Forecast</h2>
        ${forecast.finish && html`<span class="finish">All done by <strong>${clock(forecast.finish)}</strong>${" "}
          (in ${duration(forecast.finish - forecast.now)})</span>`}
        <label class="changeover">Plate change takes
          <input type="number" min="0" max="240" value=${changeover} onChange=${(e) => setChangeover(Number(e.target.value) || 0)} />
          min</label>
      </div>
      ${forecast.assumedManaged && html`<p class="hint">No printer's queue is managed yet: this is what happens
        if every connected printer starts managing now.</p>`}
      ${forecast.truncated && html`<p class="hint">Only the first ${copies.length} copies are shown; more follow.</p>`}
      ${forecast.unplaced.length > 0 && html`<p class="warn-text">${forecast.unplaced.length} set(s) have copies owed that no
        printer here may print (their profile or material does not match).</p>`}
      ${copies.length === 0 ? html`<p class="hint">Nothing queued to print.</p>` : html`
        <${Lanes} forecast=${forecast} />
        <details class="forecast-list">
          <summary>Every copy, in order of start (${copies.length})</summary>
          <table>
            <thead><tr><th scope="col">Printer</th><th scope="col">Job</th><th scope="col">File</th>
              <th scope="col">Starts</th><th scope="col">Ends</th></tr></thead>
            <tbody>
              ${[...copies].sort((a, b) => a.start - b.start).slice(0, 200).map((c, n) => html`
                <tr key=${n} data-printer=${c.printer}><td>${c.printer}</td><td>${c.jobName}</td><td>${c.path}</td>
                  <td>${c.running ? "printing now" : clock(c.start)}</td>
                  <td>${clock(c.end)}${c.estimated ? "" : " (no estimate)"}</td></tr>`)}
            </tbody>
          </table>
        </details>`}
    </section>`;
}
