// Toasts (what an action did, or why it failed) and the confirm dialog (before anything that
// cannot be undone). Both live in the store so any view can raise them through ctx.
import { html, useEffect, useRef } from "../html.js";
import { useStore } from "../store.js";

const TOAST_MS = 6000;
const TOASTS_SHOWN = 3; // the newest; more would cover a phone's screen
let nextToast = 1;

export function createToasts(store) {
  function toast(message, kind = "info") {
    const id = nextToast++;
    store.set((s) => ({ toasts: [...s.toasts, { id, message, kind }] }));
    setTimeout(() => store.set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })), TOAST_MS);
  }
  toast.error = (what, err) => toast(`${what}: ${err && err.message ? err.message : err}`, "error");
  return toast;
}

export function Toasts({ store }) {
  const toasts = useStore(store, (s) => s.toasts);
  const dismiss = (id) => store.set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
  return html`
    <div class="toasts" aria-live="polite">
      ${toasts.slice(-TOASTS_SHOWN).map((t) => html`
        <div class=${`toast ${t.kind}`} role=${t.kind === "error" ? "alert" : "status"} key=${t.id}>
          <span>${t.message}</span>
          <button type="button" class="quiet" aria-label="Dismiss" onClick=${() => dismiss(t.id)}>×</button>
        </div>`)}
    </div>`;
}

// confirm({title, message, action, danger}) resolves true when the person confirms.
export function createConfirm(store) {
  return (options) => new Promise((resolve) => store.set({ confirm: { ...options, resolve } }));
}

export function ConfirmDialog({ store }) {
  const request = useStore(store, (s) => s.confirm);
  const dialog = useRef(null);
  useEffect(() => {
    const element = dialog.current;
    if (request && element && !element.open) element.showModal();
    if (!request && element && element.open) element.close();
  }, [request]);
  const answer = (yes) => {
    if (!request) return;
    store.set({ confirm: null });
    request.resolve(yes);
  };
  return html`
    <dialog ref=${dialog} class="confirm" aria-labelledby="confirm-title" onClose=${() => answer(false)}>
      ${request && html`
        <form method="dialog" onSubmit=${(e) => { e.preventDefault(); answer(true); }}>
          <h2 id="confirm-title">${request.title}</h2>
          ${request.message && html`<p>${request.message}</p>`}
          <div class="actions">
            <button type="button" class="quiet" onClick=${() => answer(false)}>Keep going</button>
            <button type="submit" class=${request.danger ? "danger" : ""} autofocus>${request.action || "OK"}</button>
          </div>
        </form>`}
    </dialog>`;
}
