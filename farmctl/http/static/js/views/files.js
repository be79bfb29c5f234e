// The files view: folders, drag-and-drop upload with progress, each file's analysis and slicer
// thumbnail (cached at upload), and what to do with it: queue, print now on…, rename, move,
// download, delete. The folder is part of the address: #/files/<folder>/<sub folder>.
import { html, useEffect, useState } from "../html.js";
import { useStore } from "../store.js";
import { duration } from "../format.js";
import { bytes, ensureSession, metres, stylesheet, useArea, when } from "../data/page.js";
import { UploadList, createUploader } from "../data/upload.js";

stylesheet("files");

const FOLDER_LINK = (path) => `#/files/${path.split("/").map(encodeURIComponent).join("/")}`;

function preview(entry) {
  const images = entry.thumbnails || [];
  if (!images.length) return null;
  const fitting = images.filter((image) => image.width <= 400);  // the largest that fits, else the smallest
  return fitting.length ? fitting.reduce((a, b) => (b.width > a.width ? b : a))
    : images.reduce((a, b) => (b.width < a.width ? b : a));
}

function Thumbnail({ entry, session }) {
  const image = preview(entry);
  if (!image || !session) return html`<div class="thumb none" aria-hidden="true">G</div>`;
  return html`<img class="thumb" src=${image.url} width=${image.width} height=${image.height}
    alt=${`Preview of ${entry.name}`} loading="lazy" />`;
}

function Facts({ entry }) {
  const a = entry.analysis;
  const facts = [bytes(entry.size)];
  if (a) {
    facts.unshift(`${duration(a.estimatedPrintTime)}${a.timeSource === "slicer" ? "" : " (estimated here)"}`);
    const filament = (a.filamentMm || []).reduce((sum, mm) => sum + mm, 0);
    if (filament) facts.push(`${metres(filament)} filament`);
    if (a.layers) facts.push(`${a.layers} layers`);
    const d = a.dimensions;
    if (d && d.width) facts.push(`${d.width.toFixed(0)} × ${d.depth.toFixed(0)} × ${d.height.toFixed(1)} mm`);
  }
  facts.push(when(entry.date));
  return html`<p class="facts">${facts.filter(Boolean).join(" · ")}</p>`;
}

function QueueForm({ ctx, entry, done }) {
  const [count, setCount] = useState(1);
  async function submit(event) {
    event.preventDefault();
    try {
      await ctx.api.post("/api/farm/files/queue", { path: entry.path, count: Number(count) });
      ctx.toast(`${entry.name}: ${count} × queued`);
      done();
    } catch (err) {
      ctx.toast.error(`Queueing ${entry.name}`, err);
    }
  }
  return html`
    <form class="action-form" onSubmit=${submit}>
      <label>Copies <input type="number" min="1" max="1000" value=${count} required
        onInput=${(e) => setCount(e.target.value)} /></label>
      <button type="submit">Add to queue</button>
      <button type="button" class="quiet" onClick=${done}>Cancel</button>
    </form>`;
}

function PrintForm({ ctx, entry, done }) {
  const printers = useStore(ctx.store, (s) => s.printers);
  const order = useStore(ctx.store, (s) => s.order);
  const [chosen, setChosen] = useState(() => new Set());
  const toggle = (name, on) => setChosen((before) => {
    const next = new Set(before);
    if (on) next.add(name); else next.delete(name);
    return next;
  });
  async function submit(event) {
    event.preventDefault();
    try {
      const result = await ctx.api.post("/api/farm/files/print", { path: entry.path, printers: [...chosen] });
      if (result.started.length) ctx.toast(`${entry.name} started on ${result.started.join(", ")}`);
      for (const refused of result.refused) ctx.toast(`Not started on ${refused.printer}: ${refused.error}`, "error");
      done();
    } catch (err) {
      ctx.toast.error(`Printing ${entry.name}`, err);
    }
  }
  return html`
    <form class="action-form" onSubmit=${submit}>
      <fieldset><legend>Print now on</legend>
        ${order.map((name) => {
          const card = printers[name];
          const ready = card && card.state && card.state.id === "OPERATIONAL";
          return html`<label key=${name} class=${ready ? "" : "unready"}>
            <input type="checkbox" disabled=${!ready} checked=${chosen.has(name)}
              onChange=${(e) => toggle(name, e.target.checked)} />
            ${(card && card.displayName) || name}${ready ? "" : ` (${card ? card.state.text.toLowerCase() : "unknown"})`}</label>`;
        })}
      </fieldset>
      <button type="submit" disabled=${!chosen.size}>Start ${chosen.size || ""}</button>
      <button type="button" class="quiet" onClick=${done}>Cancel</button>
    </form>`;
}

function RenameForm({ ctx, entry, done, mode }) {
  const folderOf = (path) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
  const [value, setValue] = useState(mode === "rename" ? entry.name : folderOf(entry.path));
  async function submit(event) {
    event.preventDefault();
    const body = mode === "rename"
      ? { path: entry.path, to: [folderOf(entry.path), value.trim()].filter(Boolean).join("/") }
      : { path: entry.path, folder: value.trim() };
    try {
      const moved = await ctx.api.post("/api/farm/files/move", body);
      ctx.toast(`${entry.name} is now ${moved.path}`);
      done();
    } catch (err) {
      ctx.toast.error(mode === "rename" ? `Renaming ${entry.name}` : `Moving ${entry.name}`, err);
    }
  }
  return html`
    <form class="action-form" onSubmit=${submit}>
      <label>${mode === "rename" ? "New name" : "Into folder (empty: the top)"}
        <input value=${value} required=${mode === "rename"} onInput=${(e) => setValue(e.target.value)} /></label>
      <button type="submit">${mode === "rename" ? "Rename" : "Move"}</button>
      <button type="button" class="quiet" onClick=${done}>Cancel</button>
    </form>`;
}

const FORMS = { queue: QueueForm, print: PrintForm, rename: RenameForm, move: RenameForm };

function Entry({ ctx, entry, open, setOpen, session }) {
  const isFolder = entry.type === "folder";
  const Form = open && FORMS[open];
  async function remove() {
    const what = isFolder ? `the folder ${entry.name} and everything in it` : entry.name;
    if (!await ctx.confirm({ title: `Delete ${entry.name}?`, message: `This deletes ${what}; it cannot be undone.`,
      action: "Delete", danger: true })) return;
    try {
      await ctx.api.post("/api/farm/files/delete", { path: entry.path });
      ctx.toast(`${entry.name} deleted`);
    } catch (err) {
      ctx.toast.error(`Deleting ${entry.name}`, err);
    }
  }
  const act = (kind) => () => setOpen(open === kind ? null : kind);
  return html`
    <li class=${`entry ${entry.type}`} data-path=${entry.path}>
      ${isFolder ? html`<div class="thumb folder" aria-hidden="true">▤</div>` : html`<${Thumbnail} entry=${entry} session=${session} />`}
      <div class="entry-main">
        <h3 class="entry-name">${isFolder ? html`<a href=${FOLDER_LINK(entry.path)}>${entry.name}/</a>` : entry.name}</h3>
        ${isFolder ? html`<p class="facts">${bytes(entry.size)} · ${when(entry.date)}</p>` : html`<${Facts} entry=${entry} />`}
        <div class="entry-actions" role="group" aria-label=${`Actions for ${entry.name}`}>
          ${!isFolder && html`
            <button type="button" onClick=${act("queue")} aria-expanded=${open === "queue"}>Queue</button>
            <button type="button" onClick=${act("print")} aria-expanded=${open === "print"}>Print now on…</button>`}
          <button type="button" class="quiet" onClick=${act("rename")} aria-expanded=${open === "rename"}>Rename</button>
          <button type="button" class="quiet" onClick=${act("move")} aria-expanded=${open === "move"}>Move</button>
          ${!isFolder && session && html`<a class="button quiet" download=${entry.name}
            href=${`/api/farm/files/download?path=${encodeURIComponent(entry.path)}`}>Download</a>`}
          <button type="button" class="quiet danger-text" onClick=${remove}>Delete</button>
        </div>
        ${Form && html`<${Form} ctx=${ctx} entry=${entry} mode=${open} done=${() => setOpen(null)} />`}
      </div>
    </li>`;
}

function Breadcrumbs({ folder }) {
  const parts = folder ? folder.split("/") : [];
  return html`
    <nav aria-label="Folder" class="crumbs">
      <a href="#/files" aria-current=${parts.length ? undefined : "page"}>uploads</a>
      ${parts.map((part, n) => html`<span aria-hidden="true">/</span>
        <a href=${FOLDER_LINK(parts.slice(0, n + 1).join("/"))}
          aria-current=${n === parts.length - 1 ? "page" : undefined}>${part}</a>`)}
    </nav>`;
}

function NewFolder({ ctx, folder }) {
  const [name, setName] = useState("");
  async function submit(event) {
    event.preventDefault();
    const path = [folder, name.trim()].filter(Boolean).join("/");
    try {
      await ctx.api.post("/api/farm/files/folder", { path });
      setName("");
    } catch (err) {
      ctx.toast.error(`Making folder ${name}`, err);
    }
  }
  return html`<form class="new-folder" onSubmit=${submit}>
    <label for="new-folder">New folder</label>
    <input id="new-folder" value=${name} required onInput=${(e) => setName(e.target.value)} />
    <button type="submit" class="quiet">Make</button></form>`;
}

export default function View({ ctx }) {
  const folder = (ctx.params || []).filter(Boolean).join("/");
  const [session, setSession] = useState(false);
  const [open, setOpen] = useState({ path: null, kind: null });
  const [uploads, setUploads] = useState([]);
  const [dragging, setDragging] = useState(false);
  const [listing, error] = useArea(ctx, "files", () => ctx.api.get(`/api/farm/files?folder=${encodeURIComponent(folder)}`), [folder]);
  const [add] = useState(() => createUploader(ctx.api, setUploads, (saved) => ctx.toast(`${saved.path} uploaded`)));

  useEffect(() => {
    ensureSession(ctx.api).then(() => setSession(true), (err) => ctx.toast.error("Showing thumbnails", err));
  }, []);

  const drop = (event) => {
    event.preventDefault();
    setDragging(false);
    if (event.dataTransfer && event.dataTransfer.files.length) add(event.dataTransfer.files, folder);
  };
  const over = (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    setDragging(true);
  };
  const entries = listing ? [...listing.entries].sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name)
    : a.type === "folder" ? -1 : 1)) : [];

  return html`
    <section class=${`files-view${dragging ? " dragging" : ""}`} aria-labelledby="view-title"
      onDragOver=${over} onDragLeave=${(e) => e.currentTarget === e.target && setDragging(false)} onDrop=${drop}>
      <div class="view-head">
        <h1 id="view-title">Files</h1>
        <${Breadcrumbs} folder=${folder} />
        ${listing && html`<span class="hint">${bytes(listing.free)} free of ${bytes(listing.total)}</span>`}
      </div>
      <div class="drop-zone" id="drop-zone">
        <p>Drop G-code files here to upload them${folder ? ` into ${folder}` : ""}, or</p>
        <label class="button" for="file-input">Choose files…</label>
        <input id="file-input" class="sr-only" type="file" multiple accept=".gcode,.gco,.g,.gjob"
          onChange=${(e) => { add(e.target.files, folder); e.target.value = ""; }} />
        <${NewFolder} ctx=${ctx} folder=${folder} />
      </div>
      <${UploadList} queue=${uploads} onClear=${() => setUploads((q) => q.filter((i) => i.state === "sending" || i.state === "waiting"))} />
      ${error && html`<p class="error-text" role="alert">Listing ${folder || "the uploads"} failed: ${error}</p>`}
      ${listing && !entries.length && html`<p class="hint">No files here yet.</p>`}
      <ul class="entries">
        ${entries.map((entry) => html`<${Entry} key=${entry.path} ctx=${ctx} entry=${entry} session=${session}
          open=${open.path === entry.path ? open.kind : null}
          setOpen=${(kind) => setOpen({ path: kind ? entry.path : null, kind })} />`)}
      </ul>
    </section>`;
}
