// Log in with an API key (kept in this browser) or a user and password (a session cookie).
import { html } from "../html.js";
import { api, setApiKey } from "../api.js";

export function Login({ enter, error, setError }) {
  async function useKey(event) {
    event.preventDefault();
    const input = event.target.elements.key;
    const key = input.value.trim();
    if (!key) return;
    setApiKey(key);
    try {
      await enter();
    } catch (err) {
      setApiKey(null);
      setError(`That key was not accepted: ${err.message}`);
    }
  }

  async function logIn(event) {
    event.preventDefault();
    const form = event.target.elements;
    setApiKey(null);
    try {
      await api.post("/api/login", { user: form.user.value, pass: form.password.value, remember: true });
      await enter();
    } catch (err) {
      setError(`Login failed: ${err.message}`);
    }
  }

  return html`
    <main class="login-page">
      <h1>farmctl</h1>
      <section id="login" class="panel login" aria-labelledby="login-title">
        <h2 id="login-title">Log in</h2>
        ${error && html`<p class="error-text" id="error" role="alert">${error}</p>`}
        <form id="key-form" class="stack" onSubmit=${useKey}>
          <label for="key-input">API key</label>
          <input id="key-input" name="key" type="password" autocomplete="off" required
            placeholder="paste the key 'farmctl serve' printed" />
          <button type="submit">Use key</button>
          <p class="hint">Kept in this browser only. Make more with <code>farmctl keys add</code>.</p>
        </form>
        <div class="or">or</div>
        <form id="password-form" class="stack" onSubmit=${logIn}>
          <label for="user-input">User</label>
          <input id="user-input" name="user" autocomplete="username" required />
          <label for="password-input">Password</label>
          <input id="password-input" name="password" type="password" autocomplete="current-password" required />
          <button type="submit">Log in</button>
        </form>
      </section>
    </main>`;
}
