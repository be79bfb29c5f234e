// History and statistics: filters by printer, result and date; success rate, hours printed,
// filament used and failures by reason for the farm and per printer; prints per day as a chart;
// the runs a page at a time; CSV export of what the filters select.
import uPlot from "uplot";
import { html, useEffect, useRef, useState } from "../html.js";
import { duration } from "../format.js";
import { useStore } from "../store.js";
import { ensureSession, metres, query, stylesheet, useArea, when } from "../data/page.js";

stylesheet("history");

const PAGE = 50;
const RESULTS = ["success", "failure", "cancelled", "aborted"];

const percent = (rate) => (rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)} %`);
const hours = (h) => (h >= 10 ? `${Math.round(h)} h` : `${h.toFixed(1)} h`);

function css(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function Filters({ filters, setFilters, printers }) {
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.target.value });
  return html`
    <form class="filters" role="search" aria-label="Filter the history" onSubmit=${(e) => e.preventDefault()}>
      <label>Printer <select value=${filters.printer} onChange=${set("printer")}>
        <option value="">all</option>${printers.map((p) => html`<option value=${p} key=${p}>${p}</option>`)}</select></label>
      <label>Result <select value=${filters.result} onChange=${set("result")}>
        <option value="">all</option>${RESULTS.map((r) => html`<option value=${r} key=${r}>${r}</option>`)}</select></label>
      <label>From <input type="date" value=${filters.since} onChange=${set("since")} /></label>
      <label>To <input type="date" value=${filters.until} onChange=${set("until")} /></label>
      <button type="button" class="quiet" onClick=${() => setFilters({ printer: "", result: "", since: "", until: "" })}>Clear</button>
    </form>`;
}

function Figure({ label, value, id }) {
  return html`<div class="figure" id=${id}><span class="figure-value">${value}</span><span class="figure-label">${label}</span></div>`;
}

function DayChart({ days }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current || !days.length) return undefined;
    const dates = [...new Set(days.map((d) => d.day))].sort();
    const count = (day, result) => days.filter((d) => d.day === day && d.result === result).reduce((s, d) => s + d.runs, 0);
    const x = dates.map((d) => new Date(`${d}T12:00:00`).getTime() / 1000);
    const data = [x, dates.map((d) => count(d, "success")), dates.map((d) => count(d, "failure")),
      dates.map((d) => count(d, "cancelled") + count(d, "aborted"))];
    const axis = css("--muted", "#666"), grid = { stroke: css("--line", "#ddd"), width: 1 };
    const bars = uPlot.paths.bars({ size: [0.6, 40] });
    const plot = new uPlot({
      width: box.current.clientWidth || 600, height: 200,
      scales: { x: { time: true, range: (u, lo, hi) => [lo - 43200, hi + 43200] }, y: { range: (u, lo, hi) => [0, Math.max(2, hi + 1)] } },
      axes: [{ stroke: axis, grid, space: 60 }, { stroke: axis, grid, label: "prints" }],
      series: [{},
        { label: "Success", fill: css("--ok", "#1a7f37"), stroke: css("--ok", "#1a7f37"), paths: bars },
        { label: "Failure", fill: css("--danger", "#b42318"), stroke: css("--danger", "#b42318"), paths: bars },
        { label: "Cancelled", fill: css("--offline", "#6e7781"), stroke: css("--offline", "#6e7781"), paths: bars }],
    }, data, box.current);
    const resize = new ResizeObserver(() => plot.setSize({ width: box.current.clientWidth, height: 200 }));
    resize.observe(box.current);
    return () => { resize.disconnect(); plot.destroy(); };
  }, [days]);
  if (!days.length) return null;
  const total = days.reduce((s, d) => s + d.runs, 0);
  return html`<div class="day-chart" ref=${box} role="img"
    aria-label=${`Prints per day: ${total} over ${new Set(days.map((d) => d.day)).size} day(s), by result`}></div>`;
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
        <table class="per-printer">
          <caption>Per printer</caption>
          <thead><tr><th scope="col">Printer</th><th scope="col">Success rate</th><th scope="col">Success</th>
            <th scope="col">Failed</th><th scope="col">Cancelled</th><th scope="col">Hours</th><th scope="col">Filament</th></tr></thead>
          <tbody>${printers.map(([name, t]) => html`<tr key=${name} data-printer=${name}><th scope="row">${name}</th>
            <td>${percent(t.successRate)}</td><td>${t.success}</td><td>${t.failure}</td><td>${t.cancelled + t.aborted}</td>
            <td>${hours(t.hours)}</td><td>${metres(t.filamentMm)}</td></tr>`)}</tbody>
        </table>
        <table class="reasons">
          <caption>Failures by reason</caption>
          <thead><tr><th scope="col">Reason</th><th scope="col">Prints</th></tr></thead>
          <tbody>${stats.failureReasons.length ? stats.failureReasons.map((r) => html`<tr key=${r.reason}><td>${r.reason}</td><td>${r.runs}</td></tr>`)
            : html`<tr><td colspan="2" class="hint">No failures.</td></tr>`}</tbody>
        </table>
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

