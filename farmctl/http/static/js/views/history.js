// History and statistics: filters by printer, result and date; success rate, hours printed,
// filament used and failures by reason for the farm and per printer; prints per day as a bar chart;
// the runs a page at a time; CSV export of what the filters select.
import { html, useEffect, useState } from "../html.js";
import { duration } from "../format.js";
import { useStore } from "../store.js";
import { ensureSession, metres, query, stylesheet, useArea, when } from "../data/page.js";

stylesheet("history");

const PAGE = 50;
const RESULTS = ["success", "failure", "cancelled", "aborted"];

const percent = (rate) => (rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)} %`);
const hours = (h) => (h >= 10 ? `${Math.round(h)} h` : h >= 1 ? `${h.toFixed(1)} h` : duration(h * 3600) || "0 s");

function Filters({ filters, setFilters, printers }) {
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.target.value });
  return html`
    <form class="filters" role="search" aria-label="Filter the history" onSubmit=${(e) => e.preventDefault()}>
      <label>Printer <select id="filter-printer" value=${filters.printer} onChange=${set("printer")}>
        <option value="">all</option>${printers.map((p) => html`<option value=${p} key=${p}>${p}</option>`)}</select></label>
      <label>Result <select id="filter-result" value=${filters.result} onChange=${set("result")}>
        <option value="">all</option>${RESULTS.map((r) => html`<option value=${r} key=${r}>${r}</option>`)}</select></label>
      <label>From <input type="date" value=${filters.since} onChange=${set("since")} /></label>
      <label>To <input type="date" value=${filters.until} onChange=${set("until")} /></label>
      <button type="button" class="quiet" onClick=${() => setFilters({ printer: "", result: "", since: "", until: "" })}>Clear</button>
    </form>`;
}

function Figure({ label, value, id }) {
  return html`<div class="figure" id=${id}><span class="figure-value">${value}</span><span class="figure-label">${label}</span></div>`;
}

const SERIES = [["success", "Success"], ["failure", "Failure"], ["other", "Cancelled or aborted"]];
const MAX_DAYS = 60;

// Prints per day, stacked by result: plain boxes sized by count (themed by CSS, nothing to redraw).
function DayChart({ days }) {
  if (!days.length) return null;
  const byDay = new Map();
  for (const d of days) {
    const row = byDay.get(d.day) || { success: 0, failure: 0, other: 0 };
    row[d.result === "success" || d.result === "failure" ? d.result : "other"] += d.runs;
    byDay.set(d.day, row);
  }
  const shown = [...byDay.entries()].sort(([a], [b]) => a.localeCompare(b)).slice(-MAX_DAYS);
  const top = Math.max(...shown.map(([, r]) => r.success + r.failure + r.other));
  const total = shown.reduce((sum, [, r]) => sum + r.success + r.failure + r.other, 0);
  return html`
    <figure class="day-chart">
      <div class="day-bars" role="img" aria-label=${`Prints per day: ${total} over ${shown.length} day(s), by result`}>
        ${shown.map(([day, r]) => html`<div class="day" key=${day}
          title=${`${day}: ${r.success} succeeded, ${r.failure} failed, ${r.other} cancelled or aborted`}>
          <div class="day-stack">${SERIES.map(([key]) => r[key] > 0 && html`<span class=${`seg ${key}`}
            style=${{ height: `${(100 * r[key]) / top}%` }}></span>`)}</div>
          <span class="day-label">${day.slice(5)}</span></div>`)}
      </div>
      <figcaption class="legend">Prints per day (most ${top}):
        ${SERIES.map(([key, label]) => html`<span class="key" key=${key}><span class=${`swatch ${key}`}></span>${label}</span>`)}
      </figcaption>
    </figure>`;
}

function Statistics({ stats }) {
  const farm = stats.farm;
  const printers = Object.entries(stats.printers);
  return html`
    <section class="stats panel" aria-labelledby="stats-title">
      <h2 id="stats-title">Statistics</h2>
      <div class="figures">
        <${Figure} id="stat-success-rate" label="success rate" value=${percent(farm.successRate)} />
        <${Figure} id="stat-prints" label="prints" value=${`${farm.success} of ${farm.success + farm.failure + farm.cancelled + farm.aborted}`} />
        <${Figure} id="stat-hours" label="printed" value=${hours(farm.hours)} />
        <${Figure} id="stat-filament" label="filament" value=${metres(farm.filamentMm) || "0 mm"} />
        <${Figure} id="stat-failures" label="failures" value=${farm.failure} />
      </div>
      <${DayChart} days=${stats.days} />
      <div class="stats-tables">
        <div class="table-scroll"><table class="per-printer">
          <caption>Per printer</caption>
          <thead><tr><th scope="col">Printer</th><th scope="col">Success rate</th><th scope="col">Success</th>
            <th scope="col">Failed</th><th scope="col">Cancelled</th><th scope="col">Hours</th><th scope="col">Filament</th></tr></thead>
          <tbody>${printers.map(([name, t]) => html`<tr key=${name} data-printer=${name}><th scope="row">${name}</th>
            <td>${percent(t.successRate)}</td><td>${t.success}</td><td>${t.failure}</td><td>${t.cancelled + t.aborted}</td>
            <td>${hours(t.hours)}</td><td>${metres(t.filamentMm)}</td></tr>`)}</tbody>
        </table></div>
        <div class="table-scroll"><table class="reasons">
          <caption>Failures by reason</caption>
          <thead><tr><th scope="col">Reason</th><th scope="col">Prints</th></tr></thead>
          <tbody>${stats.failureReasons.length ? stats.failureReasons.map((r) => html`<tr key=${r.reason}><td>${r.reason}</td><td>${r.runs}</td></tr>`)
            : html`<tr><td colspan="2" class="hint">No failures.</td></tr>`}</tbody>
        </table></div>
      </div>
    </section>`;
}

function Runs({ ctx, filters }) {
  const [offset, setOffset] = useState(0);
  useEffect(() => setOffset(0), [filters]);
  const [page, error] = useArea(ctx, "history", () => ctx.api.get(`/api/farm/history${query({ ...filters, offset, limit: PAGE })}`),
    [filters, offset]);
  if (error) return html`<p class="error-text" role="alert">The history could not be read: ${error}</p>`;
  if (!page) return html`<p class="hint">Loading the history…</p>`;
  return html`
    <section class="runs" aria-labelledby="runs-title">
      <h2 id="runs-title">Prints <span class="hint">(${page.total})</span></h2>
      <div class="table-scroll"><table class="runs-table">
        <thead><tr><th scope="col">Started</th><th scope="col">Printer</th><th scope="col">Job</th><th scope="col">File</th>
          <th scope="col">Result</th><th scope="col">Took</th><th scope="col">Filament</th></tr></thead>
        <tbody>${page.runs.map((run) => html`
          <tr key=${run.run_id} class=${`result-${run.result || "printing"}`} data-run=${run.run_id}>
            <td>${when(run.start)}</td><td>${run.printer}</td><td>${run.job_name}</td><td>${run.set_path}</td>
            <td><span class="result">${run.result || "printing"}</span>${run.reason && run.result !== "success" ? html`<br /><span class="reason">${run.reason}</span>` : ""}</td>
            <td>${run.printSeconds !== null ? duration(run.printSeconds) : run.end ? duration(run.end - run.start) : ""}</td>
            <td>${metres(run.filamentMm)}</td></tr>`)}</tbody>
      </table></div>
      ${page.total > PAGE && html`<nav class="pager" aria-label="Pages of the history">
        <button type="button" class="quiet" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Newer</button>
        <span>${offset + 1}–${Math.min(page.total, offset + PAGE)} of ${page.total}</span>
        <button type="button" class="quiet" disabled=${offset + PAGE >= page.total} onClick=${() => setOffset(offset + PAGE)}>Older</button>
      </nav>`}
    </section>`;
}

export default function View({ ctx }) {
  const [filters, setFilters] = useState({ printer: "", result: "", since: "", until: "" });
  const [session, setSession] = useState(false);
  const [stats, error] = useArea(ctx, "history", () => ctx.api.get(`/api/farm/statistics${query(filters)}`), [filters]);
  const [known] = useArea(ctx, "history", () => ctx.api.get("/api/farm/history?limit=1"), []);
  const configured = useStore(ctx.store, (s) => s.order || []);
  const printers = [...new Set([...configured, ...(known ? known.printers : [])])];
  useEffect(() => { ensureSession(ctx.api).then(() => setSession(true), () => setSession(false)); }, []);
  return html`
    <section class="history-view" aria-labelledby="view-title">
      <div class="view-head">
        <h1 id="view-title">History</h1>
        ${session && html`<a class="button quiet" id="csv-export" href=${`/api/farm/history.csv${query(filters)}`}
          download>Export CSV</a>`}
      </div>
      <${Filters} filters=${filters} setFilters=${setFilters} printers=${printers} />
      ${error && html`<p class="error-text" role="alert">The statistics could not be read: ${error}</p>`}
      ${stats && html`<${Statistics} stats=${stats} />`}
      <${Runs} ctx=${ctx} filters=${filters} />
    </section>`;
}

