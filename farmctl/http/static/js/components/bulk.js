// Bulk actions on the selected printers: pause, resume, cancel (confirms), preheat with a preset,
// cool down, start/stop managing, and print one uploaded file on all of them.
import { html, useEffect, useState } from "../html.js";

export function BulkBar({ ctx, selected, clear }) {
  const [presets, setPresets] = useState([]);
  const [files, setFiles] = useState([]);
  const [preset, setPreset] = useState("");
  const [file, setFile] = useState("");
  const names = [...selected];
  const count = names.length;

  useEffect(() => {
    ctx.api.get("/api/farm/presets").then((data) => {
      setPresets(data.presets);
      if (data.presets.length) setPreset(data.presets[0].name);
    }, (err) => ctx.toast.error("Loading the temperature presets", err));
  }, []);

  async function loadFiles() {
    try {
      const data = await ctx.api.get("/api/farm/files?recursive=1");
      setFiles(data.entries);
      if (!file && data.entries.length) setFile(data.entries[0].path);
    } catch (err) {
      ctx.toast.error("Loading the files", err);
    }
  }
  useEffect(() => { loadFiles(); }, [ctx.store.get().revisions.files]);

  async function run(action, extra = {}, label = action) {
    try {
      const answer = await ctx.api.post("/api/farm/bulk", { action, printers: names, ...extra });
      const failed = answer.results.filter((r) => r.error);
      const done = answer.results.length - failed.length;
      if (done) ctx.toast(`${label}: done on ${done} printer${done === 1 ? "" : "s"}`);
      for (const result of failed) ctx.toast(`${label} on ${result.printer}: ${result.error}`, "error");
    } catch (err) {
      ctx.toast.error(label, err);
    }
  }

  async function cancelAll() {
    const yes = await ctx.confirm({
      title: `Cancel the prints on ${count} printer${count === 1 ? "" : "s"}?`,
      message: `${names.join(", ")}: their prints stop at once and cannot be resumed.`,
      action: "Cancel prints", danger: true,
    });
    if (yes) await run("cancel", {}, "Cancel");
  }

  async function uploadAndPrint(event) {
    const chosen = event.target.files[0];
    event.target.value = "";
    if (!chosen) return;
    const form = new FormData();
    form.append("file", chosen);
    try {
      const saved = await ctx.api.upload("/api/farm/files", form);
      await run("print", { path: saved.path }, `Print ${saved.path}`);
      loadFiles();
    } catch (err) {
      ctx.toast.error(`Uploading ${chosen.name}`, err);
    }
  }

  const none = count === 0;
  return html`
    <div class="bulk" role="toolbar" aria-label="Actions on the selected printers" id="bulk">
      <span class="count" aria-live="polite">${count} selected</span>
      <button type="button" disabled=${none} onClick=${() => run("pause", {}, "Pause")}>Pause</button>
      <button type="button" disabled=${none} onClick=${() => run("resume", {}, "Resume")}>Resume</button>
      <button type="button" class="danger" disabled=${none} onClick=${cancelAll}>Cancel</button>
      <span class="group">
        <label for="bulk-preset" class="sr-only">Preset</label>
        <select id="bulk-preset" value=${preset} onChange=${(e) => setPreset(e.target.value)}>
          ${presets.map((p) => html`<option value=${p.name}>${p.name} ${p.tool}/${p.bed} °C</option>`)}
        </select>
        <button type="button" id="bulk-preheat" disabled=${none || !preset}
          onClick=${() => run("preheat", { preset }, `Preheat ${preset}`)}>Preheat</button>
      </span>
      <button type="button" disabled=${none} onClick=${() => run("cooldown", {}, "Cool down")}>Cool down</button>
      <button type="button" disabled=${none} onClick=${() => run("manage", {}, "Start managing")}>Start managing</button>
      <button type="button" disabled=${none} onClick=${() => run("unmanage", {}, "Stop managing")}>Stop managing</button>
      <span class="group">
        <label for="bulk-file" class="sr-only">File to print</label>
        <select id="bulk-file" value=${file} onChange=${(e) => setFile(e.target.value)}>
          ${files.length === 0 && html`<option value="">no uploads yet</option>`}
          ${files.map((f) => html`<option value=${f.path}>${f.path}</option>`)}
        </select>
        <button type="button" id="bulk-print" disabled=${none || !file}
          onClick=${() => run("print", { path: file }, `Print ${file}`)}>Print</button>
        <label class="button">Upload and print…
          <input type="file" class="sr-only" accept=".gcode,.gco,.g" disabled=${none} onChange=${uploadAndPrint} /></label>
      </span>
      ${!none && html`<button type="button" class="quiet" onClick=${clear}>Clear selection</button>`}
    </div>`;
}
