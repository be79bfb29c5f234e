// Says so while the push channel is down, with a countdown to the next try and a button to try now.
import { html, useEffect, useState } from "../html.js";
import { useStore } from "../store.js";

export function ConnectionBanner({ store, push }) {
  const connection = useStore(store, (s) => s.connection);
  const [, tick] = useState(0);
  useEffect(() => {
    if (connection.state !== "waiting") return undefined;
    const timer = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(timer);
  }, [connection]);
  if (connection.state !== "waiting") return null;
  const seconds = Math.max(0, Math.ceil((connection.retryAt - Date.now()) / 1000));
  return html`
    <div class="banner" id="connection" role="status">
      <span>${`Lost the connection to the farm server. Reconnecting${seconds ? ` in ${seconds} s` : "…"} `
        + "(the printers carry on without this page)."}</span>
      <button type="button" class="quiet" onClick=${() => push.retryNow()}>Try now</button>
    </div>`;
}
