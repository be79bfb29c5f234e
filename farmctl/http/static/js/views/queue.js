// The queue view: Continuous Print's model in full. Jobs of several sets, counts and remaining
// edited in place, drafts, drag (or ↑ ↓) to reorder, move between queues, material and profile
// requirements per set, .gjob import and export, reset and remove; the forecast on top. A long
// queue is shown a page at a time; the push channel's "queue changed" refetches the page shown.
import { html, useEffect, useState } from "../html.js";
import { stylesheet, useArea } from "../data/page.js";
import { Forecast } from "../data/forecast.js";

stylesheet("queue");

const PAGE = 50;
const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

function setBody(item) {
  return { id: item.id, path: item.path, sd: item.sd, count: item.count, remaining: item.remaining,
    materials: item.materials, profiles: item.profiles, metadata: item.metadata };
}

function useFiles(ctx) {
  const [files] = useArea(ctx, "files", () => ctx.api.get("/api/farm/files?recursive=1"), []);
  return files ? files.entries : [];
}

function NumberCell({ label, value, min, onSave }) {
  return html`<input type="number" class="num" min=${min} value=${value} aria-label=${label}
    onChange=${(e) => onSave(Number(e.target.value))} />`;
}

function SetRow({ job, item, index, save }) {
  const sets = job.sets.map(setBody);
  const change = (patch) => save({ sets: sets.map((s, n) => (n === index ? { ...s, ...patch } : s)) });
  const remove = () => save({ sets: sets.filter((_, n) => n !== index) });
  const label = (what) => `${what} of ${item.path} in ${job.name || "job " + job.id}`;
  return html`
    <tr class=${item.missing_file ? "missing" : ""}>
      <td class="set-path">${item.path}${item.missing_file && html` <strong class="warn-text">(file missing)</strong>`}</td>
      <td data-label="count"><${NumberCell} label=${label("Count")} value=${item.count} min="1" onSave=${(count) => change({ count, remaining: Math.min(item.remaining, count) })} /></td>
      <td data-label="left"><${NumberCell} label=${label("Remaining")} value=${item.remaining} min="0" onSave=${(remaining) => change({ remaining })} /></td>
      <td data-label="materials"><input class="req" value=${item.materials.map((m) => m || "").join(", ")} aria-label=${label("Materials")}
        placeholder="any" onChange=${(e) => change({ materials: e.target.value.split(",").map((m) => m.trim() || null) })} /></td>
      <td data-label="profiles"><input class="req" value=${item.profiles.join(", ")} aria-label=${label("Profiles")} placeholder="any"
        onChange=${(e) => change({ profiles: list(e.target.value) })} /></td>
      <td><button type="button" class="quiet" aria-label=${`Remove set ${item.path}`} onClick=${remove}>×</button></td>
    </tr>`;
}

function AddSet({ files, onAdd, label = "Add set" }) {
  const [path, setPath] = useState("");
  const [count, setCount] = useState(1);
  const chosen = path || (files[0] && files[0].path) || "";
  return html`
    <span class="add-set">
      <select aria-label="File of the new set" value=${chosen} onChange=${(e) => setPath(e.target.value)}>
        ${files.map((f) => html`<option value=${f.path} key=${f.path}>${f.path}</option>`)}
      </select>
      <input type="number" class="num" min="1" value=${count} aria-label="Copies of the new set"
        onInput=${(e) => setCount(Number(e.target.value))} />
      <button type="button" class="quiet" disabled=${!chosen} onClick=${() => onAdd({ path: chosen, count, remaining: count })}>${label}</button>
    </span>`;
}

function Job({ ctx, job, queues, files, index, move, drag }) {
  const title = job.name || `job ${job.id}`;
  async function save(changes) {
    try {
      await ctx.api.post(`/api/farm/queue/jobs/${job.id}`, changes);
    } catch (err) {
      ctx.toast.error(`Changing ${title}`, err);
    }
  }
  async function act(path, body, done) {
    try {
      const result = await ctx.api.post(path, body);
      if (done) ctx.toast(done(result));
    } catch (err) {
      ctx.toast.error(`${title}`, err);
    }
  }
  async function remove() {
    const where = job.queue === "local" ? "It goes to the archive." : "It is deleted.";
    if (await ctx.confirm({ title: `Remove ${title}?`, message: where, action: "Remove", danger: true })) {
      act("/api/farm/queue/remove", { queue: job.queue, ids: [job.id] }, () => `${title} removed`);
    }
  }
  return html`
    <li class=${`job${job.draft ? " draft" : ""}${job.acquired ? " acquired" : ""}`} data-job=${job.id} data-name=${job.name}
      draggable="true" onDragStart=${(e) => drag.start(e, job)} onDragOver=${(e) => drag.over(e, index)}
      onDrop=${(e) => drag.drop(e, index)} onDragEnd=${drag.end}>
      <div class="job-head">
        <span class="grip" aria-hidden="true" title="Drag to reorder">⠿</span>
        <input class="job-name" value=${job.name} aria-label=${`Name of ${title}`}
          onChange=${(e) => save({ name: e.target.value })} />
        <label>Count <${NumberCell} label=${`Count of ${title}`} value=${job.count} min="1"
          onSave=${(count) => save({ count, remaining: Math.min(job.remaining, count) })} /></label>
        <label>Remaining <${NumberCell} label=${`Remaining of ${title}`} value=${job.remaining} min="0"
          onSave=${(remaining) => save({ remaining })} /></label>
        <label class="draft-toggle"><input type="checkbox" checked=${job.draft}
          onChange=${(e) => save({ draft: e.target.checked })} /> Draft</label>
        ${job.acquiredBy && html`<span class="badge">printing on ${job.acquiredBy}</span>`}
        <span class="job-tools">
          <button type="button" class="quiet" aria-label=${`Move ${title} up`} onClick=${() => move(index, -1)}>↑</button>
          <button type="button" class="quiet" aria-label=${`Move ${title} down`} onClick=${() => move(index, 1)}>↓</button>
          <select aria-label=${`Move ${title} to queue`} value=""
            onChange=${(e) => e.target.value && act(`/api/farm/queue/jobs/${job.id}/move`, { after_id: null, to_queue: e.target.value },
              () => `${title} moved to ${e.target.value}`)}>
            <option value="">Move to…</option>
            ${queues.filter((q) => q !== job.queue).map((q) => html`<option value=${q} key=${q}>${q}</option>`)}
          </select>
          <button type="button" class="quiet" onClick=${() => act("/api/farm/queue/reset", { queue: job.queue, ids: [job.id] },
            () => `${title}: every copy owed again`)}>Reset</button>
          <button type="button" class="quiet" onClick=${() => act("/api/farm/queue/export", { ids: [job.id] },
            (r) => (r.errors.length ? r.errors.join("; ") : `Exported to ${r.paths.map((p) => p.split("/").pop()).join(", ")}`))}>Export .gjob</button>
          <button type="button" class="quiet danger-text" onClick=${remove}>Remove</button>
        </span>
      </div>
      <table class="sets">
        <thead><tr><th scope="col">File</th><th scope="col">Count</th><th scope="col">Remaining</th>
          <th scope="col">Materials (per tool)</th><th scope="col">Profiles</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
        <tbody>${job.sets.map((item, n) => html`<${SetRow} key=${item.id} job=${job} item=${item} index=${n} save=${save} />`)}</tbody>
      </table>
      <${AddSet} files=${files} onAdd=${(set) => save({ sets: [...job.sets.map(setBody), set] })} />
    </li>`;
}

function NewJob({ ctx, queue, files }) {
  const [name, setName] = useState("");
  const [count, setCount] = useState(1);
  const [sets, setSets] = useState([]);
  const [ready, setReady] = useState(true);
  async function submit(event) {
    event.preventDefault();
    try {
      const job = await ctx.api.post("/api/farm/queue/jobs", { name, count, queue, draft: !ready, sets });
      ctx.toast(`${job.name || "job"} added`);
      setName(""); setSets([]); setCount(1);
    } catch (err) {
      ctx.toast.error("Adding the job", err);
    }
  }
  return html`
    <form class="new-job panel" onSubmit=${submit} aria-labelledby="new-job-title">
      <h2 id="new-job-title">New job</h2>
      <div class="row">
        <label>Name <input id="new-job-name" value=${name} onInput=${(e) => setName(e.target.value)} required /></label>
        <label>Count <input type="number" class="num" min="1" value=${count} onInput=${(e) => setCount(Number(e.target.value))} /></label>
        <label><input type="checkbox" checked=${ready} onChange=${(e) => setReady(e.target.checked)} /> Ready to print</label>
      </div>
      <ul class="new-sets">${sets.map((s, n) => html`<li key=${n}>${s.count} × ${s.path}
        <button type="button" class="quiet" aria-label=${`Drop ${s.path}`} onClick=${() => setSets(sets.filter((_, m) => m !== n))}>×</button></li>`)}</ul>
      <div class="row">
        <${AddSet} files=${files} onAdd=${(set) => setSets([...sets, set])} />
        <button type="submit" disabled=${!sets.length}>Add job</button>
      </div>
    </form>`;
}

function Import({ ctx, queue, files }) {
  const gjobs = files.filter((f) => f.path.toLowerCase().endsWith(".gjob"));
  const [path, setPath] = useState("");
  if (!gjobs.length) return null;
  const chosen = path || gjobs[0].path;
  const run = async () => {
    try {
      const job = await ctx.api.post("/api/farm/queue/import", { path: chosen, queue });
      ctx.toast(`${job.name} imported as a draft`);
    } catch (err) {
      ctx.toast.error(`Importing ${chosen}`, err);
    }
  };
  return html`<span class="import">
    <select aria-label="A .gjob to import" value=${chosen} onChange=${(e) => setPath(e.target.value)}>
      ${gjobs.map((f) => html`<option value=${f.path} key=${f.path}>${f.path}</option>`)}</select>
    <button type="button" class="quiet" onClick=${run}>Import .gjob</button></span>`;
}

export default function View({ ctx }) {
  const [queue, setQueue] = useState("local");
  const [offset, setOffset] = useState(0);
  const [dragged, setDragged] = useState(null);
  const [target, setTarget] = useState(null);
  const files = useFiles(ctx);
  const [page, error] = useArea(ctx, "queue",
    () => ctx.api.get(`/api/farm/queue?queue=${encodeURIComponent(queue)}&offset=${offset}&limit=${PAGE}`), [queue, offset]);
  useEffect(() => setOffset(0), [queue]);
  const jobs = page ? page.jobs : [];

  async function place(job, afterId) {
    try {
      await ctx.api.post(`/api/farm/queue/jobs/${job.id}/move`, { after_id: afterId });
    } catch (err) {
      ctx.toast.error(`Moving ${job.name || "the job"}`, err);
    }
  }
  // The job ends up at `index` of this page: after the one above that spot (or the page's `before`).
  function moveTo(job, index) {
    const others = jobs.filter((j) => j.id !== job.id);
    const above = index > 0 ? others[index - 1] : null;
    place(job, above ? above.id : page.before);
  }
  const move = (index, step) => {
    const to = index + step;
    if (to < 0 || to >= jobs.length) return;
    moveTo(jobs[index], to);
  };
  const drag = {
    start(event, job) {
      setDragged(job);
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", String(job.id));
    },
    over(event, index) {
      event.preventDefault();
      setTarget(index);
    },
    drop(event, index) {
      event.preventDefault();
      const job = dragged || jobs.find((j) => String(j.id) === event.dataTransfer.getData("text/plain"));
      setDragged(null); setTarget(null);
      if (job) moveTo(job, index);
    },
    end() { setDragged(null); setTarget(null); },
  };

  return html`
    <section class="queue-view" aria-labelledby="view-title">
      <div class="view-head">
        <h1 id="view-title">Queue</h1>
        <div class="queue-tabs" role="group" aria-label="Queue">
          ${(page ? page.queues : ["local"]).map((name) => html`<button type="button" key=${name}
            class=${name === queue ? "" : "quiet"} aria-pressed=${name === queue} onClick=${() => setQueue(name)}>${name}</button>`)}
        </div>
        <${Import} ctx=${ctx} queue=${queue} files=${files} />
      </div>
      <${Forecast} ctx=${ctx} />
      ${error && html`<p class="error-text" role="alert">The queue could not be read: ${error}</p>`}
      <${NewJob} ctx=${ctx} queue=${queue} files=${files} />
      ${page && html`<p class="hint">${page.total} job(s) in ${queue}${page.total > PAGE ? `, ${offset + 1}–${Math.min(page.total, offset + PAGE)} shown` : ""}.
        Drag a job (or use ↑ ↓) to change the order.</p>`}
      <ol class=${`jobs${dragged ? " dragging" : ""}`} start=${offset + 1}>
        ${jobs.map((job, index) => html`<${Job} key=${job.id} ctx=${ctx} job=${job} index=${index}
          queues=${page.queues} files=${files} move=${move} drag=${drag} />`)}
      </ol>
      ${target !== null && dragged && html`<p class="hint" aria-live="polite">Drop to place ${dragged.name} at position ${offset + target + 1}</p>`}
      ${page && page.total > PAGE && html`<nav class="pager" aria-label="Pages of the queue">
        <button type="button" class="quiet" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
        <button type="button" class="quiet" disabled=${offset + PAGE >= page.total} onClick=${() => setOffset(offset + PAGE)}>Next</button>
      </nav>`}
    </section>`;
}
