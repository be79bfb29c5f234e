// farmctl dashboard: polls /api/farm/summary and acts through the farm's existing APIs.
// Plain JavaScript, no build step and nothing from the network but this server.
"use strict";

const KEY_STORAGE = "farmctl.apikey";
const POLL_MS = 1500;
const FILES_MS = 15000;
const ETA_AFTER_S = 3; // a time left extrapolated from less printing than this is noise
const TERMINAL_LINES = 200; // kept in a card's terminal; older lines scroll away
const CP = "/farm/plugin/continuousprint";

const $ = (id) => document.getElementById(id);
let pollTimer = null;
let filesTimer = null;
let lastQueue = "";
let lastHistory = "";
let lastAppkeys = "";
let role = "viewer";

// -- talking to the server --------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function authHeaders() {
  const key = localStorage.getItem(KEY_STORAGE);
  return key ? { "X-Api-Key": key } : {};
}

async function api(method, path, body) {
  const options = { method, headers: authHeaders(), credentials: "same-origin" };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new ApiError(0, `cannot reach the farm server (${err.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const message = data && data.error ? data.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

function showError(message) {
  $("error-text").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

// Run an action from a button: disable it meanwhile, show any error, refresh afterwards.
async function act(button, what, call) {
  if (button) button.disabled = true;
  try {
    await call();
    clearError();
  } catch (err) {
    if (!handleAuthError(err)) showError(`${what}: ${err.message}`);
  } finally {
    if (button) button.disabled = false;
    refresh();
  }
}

// A key that stopped working (revoked) or a session that ended: back to the login form.
function handleAuthError(err) {
  if (err.status === 403 && /invalid API key|API key is required/i.test(err.message)) {
    localStorage.removeItem(KEY_STORAGE);
    showLogin("Please log in again: " + err.message);
    return true;
  }
  return false;
}

// -- login ------------------------------------------------------------------------------------

function showLogin(message) {
  stopPolling();
  $("farm").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  if (message) showError(message);
}

async function enter() {
  const data = await api("GET", "/api/farm/summary");
  $("login").hidden = true;
  $("farm").hidden = false;
  $("who").hidden = false;
  clearError();
  render(data);
  loadFiles();
  startPolling();
}

async function useKey(event) {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  localStorage.setItem(KEY_STORAGE, key);
  try {
    await enter();
    $("key-input").value = "";
  } catch (err) {
    localStorage.removeItem(KEY_STORAGE);
    showError(`That key was not accepted: ${err.message}`);
  }
}

async function logIn(event) {
  event.preventDefault();
  localStorage.removeItem(KEY_STORAGE);
  try {
    await api("POST", "/api/login", { user: $("user-input").value, pass: $("password-input").value, remember: true });
    $("password-input").value = "";
    await enter();
  } catch (err) {
    showError(`Login failed: ${err.message}`);
  }
}

async function logOut() {
  localStorage.removeItem(KEY_STORAGE);
  try {
    await api("POST", "/api/logout");
  } catch (err) {
    // Logging out with a key only forgets the key; there is no session to end.
  }
  lastQueue = lastHistory = lastAppkeys = "";
  showLogin();
}

// -- polling ----------------------------------------------------------------------------------

function startPolling() {
  stopPolling();
  pollTimer = setInterval(refresh, POLL_MS);
  filesTimer = setInterval(loadFiles, FILES_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  clearInterval(filesTimer);
  pollTimer = filesTimer = null;
}

let refreshing = false;
async function refresh() {
  if (refreshing || $("farm").hidden || document.hidden) return;
  refreshing = true;
  try {
    render(await api("GET", "/api/farm/summary"));
    for (const open of document.querySelectorAll(".card .terminal[open]")) await loadTerminal(open.closest(".card"));
    if (role === "admin") await loadAppkeys();
  } catch (err) {
    if (!handleAuthError(err)) showError(`Refreshing the farm: ${err.message}`);
  } finally {
    refreshing = false;
  }
}

async function loadFiles() {
  try {
    const data = await api("GET", "/api/farm/files?recursive=1");
    const select = $("add-file");
    const chosen = select.value;
    select.replaceChildren(...data.entries.map((file) => {
      const option = document.createElement("option");
      const estimate = file.analysis && file.analysis.estimatedPrintTime;
      option.value = file.path;
      option.textContent = estimate ? `${file.path} (~${duration(estimate)})` : file.path;
      return option;
    }));
    if (data.entries.some((f) => f.path === chosen)) select.value = chosen;
    $("add-button").disabled = data.entries.length === 0;
    if (data.entries.length === 0) {
      const option = document.createElement("option");
      option.textContent = "no uploads yet";
      option.value = "";
      select.append(option);
    }
  } catch (err) {
    if (!handleAuthError(err)) showError(`Listing the uploads: ${err.message}`);
  }
}

async function loadAppkeys() {
  const data = await api("GET", "/api/farm/appkeys");
  const pending = data.requests.filter((r) => r.state === "pending");
  const signature = JSON.stringify(pending);
  if (signature === lastAppkeys) return;
  lastAppkeys = signature;
  $("appkeys").hidden = pending.length === 0;
  $("appkey-list").replaceChildren(...pending.map((request) => {
    const item = document.createElement("li");
    const what = document.createElement("span");
    what.className = "what";
    what.textContent = `${request.app}` + (request.user ? ` for user ${request.user}` : "");
    const allow = button("Approve", "", () => decide(allow, request.id, "allow"));
    const deny = button("Deny", "danger", () => decide(deny, request.id, "deny"));
    item.append(what, allow, deny);
    return item;
  }));
}

function decide(source, id, decision) {
  lastAppkeys = "";
  act(source, decision === "allow" ? "Approving the app" : "Denying the app",
    () => api("POST", `/api/farm/appkeys/${encodeURIComponent(id)}`, { decision }));
}

// -- rendering ----------------------------------------------------------------------------------

function render(data) {
  role = data.user.role;
  $("who-name").textContent = `${data.user.name} (${data.user.role})`;
  renderPrinters(data.printers);
  renderQueue(data.queues);
  renderHistory(data.history);
  const canChange = role !== "viewer";
  for (const form of [$("add-form"), $("upload-form")]) form.hidden = !canChange;
}

function renderPrinters(printers) {
  const grid = $("printers");
  const seen = new Set();
  for (const printer of printers) {
    seen.add(printer.name);
    let card = grid.querySelector(`[data-printer="${CSS.escape(printer.name)}"]`);
    if (!card) {
      card = $("card-template").content.firstElementChild.cloneNode(true);
      card.dataset.printer = printer.name;
      card.querySelector(".manage").addEventListener("click", (e) => manage(e.target, card));
      card.querySelector(".pause").addEventListener("click", (e) => pauseOrResume(e.target, card));
      card.querySelector(".cancel").addEventListener("click", (e) => cancel(e.target, card));
      card.querySelector(".terminal").addEventListener("toggle", (e) => openTerminal(e.target, card));
      grid.append(card);
    }
    updateCard(card, printer);
  }
  for (const card of [...grid.children]) {
    if (!seen.has(card.dataset.printer)) card.remove();
  }
  $("no-printers").hidden = printers.length > 0;
}

function updateCard(card, printer) {
  const flags = printer.state.flags;
  const q = (selector) => card.querySelector(selector);
  q(".name").textContent = printer.name;
  const badge = q(".state");
  badge.textContent = printer.state.text;
  badge.className = `badge state ${printer.state.text.toLowerCase()}`;
  badge.title = printer.state.error || "";
  q(".meta").textContent = [printer.profile, printer.firmware, printer.port].filter(Boolean).join(" · ");
  q(".tool").textContent = temperature(printer.temperatures.tool0);
  q(".bed").textContent = temperature(printer.temperatures.bed);
  q(".z").textContent = printer.currentZ === null ? "—" : `${printer.currentZ.toFixed(2)} mm`;
  const active = flags.printing || flags.paused || flags.pausing || flags.cancelling;
  const job = printer.job;
  if (job.script) {
    q(".file").textContent = active ? `Event script${job.path ? ` after ${job.path}` : ""}` : (job.path ? `Last: ${job.path}` : "No file");
  } else {
    q(".file").textContent = job.path ? `${active ? "" : "Last: "}${job.path}` : "No file";
  }
  const percent = job.script ? null : printer.progress.completion;
  const shown = percent === null ? 0 : Math.min(100, Math.max(0, percent));
  q(".fill").style.width = `${shown}%`;
  q(".bar").setAttribute("aria-valuenow", String(Math.round(shown)));
  q(".bar").hidden = percent === null;
  let progress = percent === null ? "" : `${Math.round(shown)}%`;
  if (active && percent !== null) {
    const { printTime, printTimeLeft } = printer.progress;
    progress += printTimeLeft !== null && printTime >= ETA_AFTER_S ? ` · ${duration(printTimeLeft)} left` : " · estimating time left";
    if (printTime !== null) progress += ` · ${duration(printTime)} so far`;
  }
  q(".progress-text").textContent = progress;
  const status = q(".queue-status");
  status.textContent = `Queue: ${printer.queue.status}`;
  status.className = `queue-status status-${printer.queue.statusType}`;
  if (printer.state.error) status.textContent += ` — ${printer.state.error}`;

  const canChange = role !== "viewer";
  const manage = q(".manage");
  manage.textContent = printer.queue.active ? "Stop managing" : "Start managing";
  manage.className = printer.queue.active ? "manage secondary" : "manage";
  manage.dataset.active = printer.queue.active ? "true" : "false";
  const pause = q(".pause");
  const paused = flags.paused || flags.pausing;
  pause.textContent = paused ? "Resume" : "Pause";
  pause.dataset.action = paused ? "resume" : "pause";
  pause.disabled = !(flags.printing || paused);
  q(".cancel").disabled = !active || flags.cancelling;
  for (const b of card.querySelectorAll(".actions button")) b.hidden = !canChange;
  updatePrompt(card, printer.prompt, canChange);
}

// The firmware's question (filament change, purge more?): its choices answer it, for whoever may act.
function updatePrompt(card, prompt, canChange) {
  const box = card.querySelector(".prompt");
  const signature = prompt ? JSON.stringify(prompt) + canChange : "";
  if (box.dataset.signature === signature) return;
  box.dataset.signature = signature;
  box.hidden = !prompt;
  if (!prompt) return;
  box.querySelector(".prompt-text").textContent = `${card.dataset.printer} asks: ${prompt.text}`;
  const choices = (prompt.choices.length ? prompt.choices : ["OK"]).map((label, choice) => {
    const answer = button(label, "", () => act(answer, "Answering the printer",
      () => api("POST", `${printerPath(card)}/api/plugin/action_command_prompt`, { command: "select", choice })));
    answer.hidden = !canChange;
    return answer;
  });
  box.querySelector(".choices").replaceChildren(...choices);
}

function renderQueue(queues) {
  const jobs = queues.flatMap((queue) => queue.jobs.map((job) => ({ ...job, queue: queue.name })));
  const signature = JSON.stringify(jobs);
  if (signature === lastQueue) return;
  lastQueue = signature;
  $("no-jobs").hidden = jobs.length > 0;
  $("jobs").replaceChildren(...jobs.map((job) => {
    const row = document.createElement("tr");
    row.dataset.job = String(job.id);
    const name = cell(job.name || "(unnamed)");
    if (job.draft) name.append(" ", badge("draft", ""));
    if (job.acquired) name.append(" ", badge("printing", "open"));
    else if (job.remaining === 0) name.append(" ", badge("done", "success"));
    const sets = document.createElement("td");
    for (const set of job.sets) {
      const line = document.createElement("span");
      line.className = "set";
      line.textContent = `${set.path} — ${set.remaining} / ${set.count}`;
      if (set.missing_file) line.append(" ", badge("file missing", "danger"));
      sets.append(line);
    }
    const left = cell(`${job.remaining} / ${job.count}`, "num");
    const actions = document.createElement("td");
    if (role !== "viewer") {
      const remove = button("Remove", "danger", () => act(remove, "Removing the job",
        () => api("POST", `${CP}/job/rm`, { queue: job.queue, job_ids: [job.id] })));
      actions.append(remove);
    }
    row.append(name, sets, left, actions);
    return row;
  }));
}

function renderHistory(history) {
  const signature = JSON.stringify(history);
  if (signature === lastHistory) return;
  lastHistory = signature;
  $("no-history").hidden = history.length > 0;
  $("history").replaceChildren(...history.map((run) => {
    const row = document.createElement("tr");
    const ended = run.end ? new Date(run.end * 1000).toLocaleString() : "printing…";
    const result = document.createElement("td");
    result.append(badge(run.result || "printing", run.result || "open"));
    row.append(cell(ended, "num"), cell(run.printer), cell(run.set_path), result);
    return row;
  }));
}

// A card's read-only terminal: what crossed the printer's wire, fetched while it is open.
function openTerminal(details, card) {
  if (!details.open) return;
  card.dataset.seq = "0";
  details.querySelector(".lines").textContent = "";
  loadTerminal(card).catch((err) => {
    if (!handleAuthError(err)) showError(`Reading the terminal: ${err.message}`);
  });
}

async function loadTerminal(card) {
  const data = await api("GET", `/api/farm/printers/${encodeURIComponent(card.dataset.printer)}/terminal?since=${card.dataset.seq || 0}`);
  card.dataset.seq = String(data.seq); // lower after a server restart: then it starts again from there
  if (!data.logs.length) return;
  const pre = card.querySelector(".terminal .lines");
  const following = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const lines = (pre.textContent ? pre.textContent.split("\n") : []).concat(data.logs);
  pre.textContent = lines.slice(-TERMINAL_LINES).join("\n");
  if (following) pre.scrollTop = pre.scrollHeight;
}

// -- actions --------------------------------------------------------------------------------------

function printerPath(card) {
  return `/printers/${encodeURIComponent(card.dataset.printer)}`;
}

function manage(source, card) {
  const active = source.dataset.active !== "true";
  act(source, active ? "Starting to manage" : "Stopping",
    () => api("POST", `${printerPath(card)}/plugin/continuousprint/set_active`, { active }));
}

function pauseOrResume(source, card) {
  const action = source.dataset.action;
  act(source, action === "pause" ? "Pausing" : "Resuming",
    () => api("POST", `${printerPath(card)}/api/job`, { command: "pause", action }));
}

function cancel(source, card) {
  if (!window.confirm(`Cancel the print on ${card.dataset.printer}?`)) return;
  act(source, "Cancelling", () => api("POST", `${printerPath(card)}/api/job`, { command: "cancel" }));
}

function addToQueue(event) {
  event.preventDefault();
  const path = $("add-file").value;
  const count = parseInt($("add-count").value, 10);
  if (!path) {
    showError("Upload a G-code file first.");
    return;
  }
  act($("add-button"), "Adding to the queue",
    () => api("POST", `${CP}/set/add`, { path, count, sd: false, jobDraft: false, jobName: "" }));
}

function upload(event) {
  event.preventDefault();
  const input = $("upload-input");
  if (!input.files.length) return;
  const body = new FormData();
  body.append("file", input.files[0]);
  const submit = event.submitter || null;
  act(submit, "Uploading", async () => {
    const saved = await api("POST", "/api/farm/files", body);
    input.value = "";
    await loadFiles();
    $("add-file").value = saved.path;
  });
}

// -- small helpers ------------------------------------------------------------------------------

function temperature(reading) {
  if (!reading) return "—";
  const actual = reading.actual.toFixed(1);
  return reading.target ? `${actual} / ${reading.target.toFixed(0)} °C` : `${actual} °C`;
}

function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function badge(text, kind) {
  const span = document.createElement("span");
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

function button(text, className, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (className) b.className = className;
  b.addEventListener("click", onClick);
  return b;
}

// -- start ----------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", useKey);
  $("password-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  $("error-close").addEventListener("click", clearError);
  $("add-form").addEventListener("submit", addToQueue);
  $("upload-form").addEventListener("submit", upload);
  document.addEventListener("visibilitychange", refresh);
  // A stored key or a session cookie may already let us in; otherwise show the login form.
  enter().catch((err) => {
    if (err.status === 403) {
      if (localStorage.getItem(KEY_STORAGE)) localStorage.removeItem(KEY_STORAGE);
      showLogin();
    } else {
      showLogin(`The farm did not answer: ${err.message}`);
    }
  });
});
