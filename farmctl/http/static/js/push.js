// The dashboard's push client: one websocket to /api/farm/push. It keeps the store's farm state
// (a snapshot, then small diffs), tells views when the queue, history or files changed (by
// revision), and reconnects by itself with back-off, saying so in store.connection meanwhile.
import { api, apiKey } from "./api.js";
import { applyDiff, applySnapshot } from "./store.js";

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10000;

export function createPush(store) {
  let socket = null;
  let attempt = 0;
  let timer = null;
  let stopped = true;
  let watching = null;
  const terminalListeners = new Set();

  function url() {
    const target = new URL("/api/farm/push", location.href);
    target.protocol = target.protocol === "https:" ? "wss:" : "ws:";
    const key = apiKey();
    if (key) target.searchParams.set("apikey", key);
    return target.href;
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function handle(message) {
    switch (message.type) {
      case "hello":
        store.set({ user: message.user });
        break;
      case "snapshot":
        store.set((state) => ({ ...applySnapshot(state, message.printers), revisions: message.revisions }));
        break;
      case "diff":
        store.set((state) => applyDiff(state, message.printers));
        break;
      case "changed":
        store.set((state) => ({ revisions: { ...state.revisions, ...message.areas } }));
        break;
      case "terminal":
        for (const listener of terminalListeners) listener(message.printer, message.lines);
        break;
      case "logout":
        window.dispatchEvent(new CustomEvent("farmctl:logged-out", { detail: message.reason }));
        break;
    }
  }

  function open() {
    clearTimeout(timer);
    const ws = new WebSocket(url());
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      store.set({ connection: { state: "live" } });
      if (watching) send({ watch: watching });
    };
    ws.onmessage = (event) => handle(JSON.parse(event.data));
    ws.onclose = () => {
      if (socket === ws) socket = null;
      if (!stopped) retryLater();
    };
  }

  function retryLater() {
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
    attempt += 1;
    store.set({ connection: { state: "waiting", retryAt: Date.now() + delay, attempt } });
    timer = setTimeout(check, delay);
  }

  // Before a new socket: is the server back, and does it still know us? (A websocket refused for
  // a bad key only closes, so the reason is asked over HTTP.)
  async function check() {
    if (stopped) return;
    try {
      await api.get("/api/farm/me");
    } catch (err) {
      if (!err.loggedOut) retryLater();
      return; // logged out: the app shows the login form and stops this client
    }
    open();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      attempt = 0;
      store.set({ connection: { state: "connecting" } });
      open();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (socket) socket.close();
      socket = null;
    },
    // This page shows one printer's terminal: its new lines come as "terminal" messages.
    watch(name) {
      watching = name;
      send({ watch: name });
    },
    onTerminal(listener) {
      terminalListeners.add(listener);
      return () => terminalListeners.delete(listener);
    },
    retryNow() {
      if (!stopped && !socket) check();
    },
  };
}
