// A printer's G-code terminal: the wire's lines as they come (the push channel's terminal
// messages for the watched printer) and a line to send, checked by the server as the API does.
// Another node's printer has no lines on this node's channel: they are asked for once a second
// (the call goes on to that node) while this terminal is open.
import { html, useEffect, useRef, useState } from "../html.js";
import { act, printerAction } from "./actions.js";

const KEEP = 500;
const REMOTE_EVERY_MS = 1000;

export function Terminal({ ctx, name, initial, remoteSeq }) {
  const [lines, setLines] = useState(initial || []);
  const [hideTemps, setHideTemps] = useState(false);
  const [history, setHistory] = useState([]);
  const [text, setText] = useState("");
  const box = useRef(null);

  useEffect(() => {
    ctx.push.watch(name);
    const off = ctx.push.onTerminal((printer, fresh) => {
      if (printer === name) setLines((before) => [...before, ...fresh].slice(-KEEP));
    });
    return () => { off(); ctx.push.watch(null); };
  }, [name]);
  useEffect(() => {
    if (remoteSeq === undefined || remoteSeq === null) return undefined;
    let seq = remoteSeq;
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const fresh = await ctx.api.get(`/api/farm/printers/${encodeURIComponent(name)}/terminal?since=${seq}`);
        seq = fresh.seq;
        if (fresh.logs.length) setLines((before) => [...before, ...fresh.logs].slice(-KEEP));
      } catch (err) {
        // the node is away: the card says so; the next tick tries again
      } finally {
        busy = false;
      }
    }, REMOTE_EVERY_MS);
    return () => clearInterval(timer);
  }, [name, remoteSeq]);
  useEffect(() => {
    const element = box.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [lines]);

  async function send(event) {
    event.preventDefault();
    const command = text.trim();
    if (!command) return;
    const sent = await act(ctx, "Not sent", () => printerAction(ctx, name, "commands", { commands: [command] }));
    if (sent !== undefined) {
      setHistory((h) => [command, ...h.filter((c) => c !== command)].slice(0, 20));
      setText("");
    }
  }

  const shown = hideTemps ? lines.filter((l) => !/(^Recv:\s*(ok\s*)?T:)|M105\*/.test(l)) : lines;
  return html`
    <section class="terminal" aria-labelledby="terminal-title">
      <h2 id="terminal-title">Terminal</h2>
      <pre class="terminal-lines" ref=${box} tabindex="0" aria-label="Terminal output" aria-live="off">${shown.join("\n")}</pre>
      <form onSubmit=${send}>
        <label for="terminal-input" class="sr-only">G-code to send</label>
        <input id="terminal-input" list="terminal-history" autocomplete="off" spellcheck="false"
          placeholder="G-code, e.g. M105" value=${text} onInput=${(e) => setText(e.target.value)} />
        <datalist id="terminal-history">${history.map((c) => html`<option value=${c} />`)}</datalist>
        <button type="submit">Send</button>
      </form>
      <label class="check"><input type="checkbox" checked=${hideTemps} onChange=${(e) => setHideTemps(e.target.checked)} />
        Hide temperature reports</label>
    </section>`;
}
