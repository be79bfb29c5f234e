// The settings view (a placeholder heading until the view itself lands).
import { html } from "../html.js";

export default function View({ ctx }) {
  return html`<section aria-labelledby="view-title"><h1 id="view-title">Access and settings</h1></section>`;
}
