// Uploads dropped or chosen on the files view: one at a time, each with its progress, streamed by
// the browser (XMLHttpRequest reports progress, fetch cannot) and by the server to disk.
import { html } from "../html.js";
import { bytes } from "./page.js";

let nextId = 1;

// queue: [{id, name, size, sent, state: "waiting"|"sending"|"done"|"failed", error}]
export function createUploader(api, setQueue, onSaved) {
  let running = false;
  const waiting = [];

  function update(id, patch) {
    setQueue((queue) => queue.map((item) => (item.id === id ? { ...item, ...patch } : item)));
  }

  async function run() {
    if (running) return;
    running = true;
    while (waiting.length) {
      const { id, file, folder } = waiting.shift();
      update(id, { state: "sending" });
      const form = new FormData();
      form.append("file", file, file.name);
      const path = `/api/farm/files${folder ? `?folder=${encodeURIComponent(folder)}` : ""}`;
      try {
        const saved = await api.upload(path, form, (sent, total) => update(id, { sent, size: total }));
        update(id, { state: "done", sent: file.size });
        onSaved(saved);
      } catch (err) {
        update(id, { state: "failed", error: err.message });
      }
    }
    running = false;
  }

  return function add(files, folder) {
    const added = [...files].map((file) => ({ id: nextId++, name: file.name, size: file.size, sent: 0, state: "waiting", file, folder }));
    setQueue((queue) => [...queue.filter((item) => item.state !== "done"), ...added.map(({ file, folder, ...item }) => item)]);
    waiting.push(...added);
    run();
  };
}

export function UploadList({ queue, onClear }) {
  if (!queue.length) return null;
  return html`
    <section class="uploads panel" aria-labelledby="uploads-title">
      <div class="row"><h2 id="uploads-title">Uploads</h2>
        <button type="button" class="quiet" onClick=${onClear}>Clear finished</button></div>
      <ul>
        ${queue.map((item) => {
          const percent = item.size ? Math.floor((100 * item.sent) / item.size) : 0;
          const label = item.state === "failed" ? `failed: ${item.error}`
            : item.state === "done" ? "done" : item.state === "waiting" ? "waiting" : `${percent} %`;
          return html`
            <li class=${`upload ${item.state}`} key=${item.id} data-upload=${item.name}>
              <span class="upload-name">${item.name}</span>
              <progress max="100" value=${item.state === "done" ? 100 : percent}
                aria-label=${`Upload of ${item.name}`}></progress>
              <span class="upload-state" role=${item.state === "failed" ? "alert" : undefined}>
                ${label} · ${bytes(item.sent)} of ${bytes(item.size)}</span>
            </li>`;
        })}
      </ul>
    </section>`;
}
