// The one way the page talks to the server: the API key as X-Api-Key (or the session cookie),
// and every {"error": ...} answer turned into an Error whose message the page shows as it is.

const KEY_STORAGE = "farmctl.apikey";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }

  // A key that stopped working or a login that ended (not a refusal of one action).
  get loggedOut() {
    return this.status === 403 && /invalid API key|API key is required/i.test(this.message);
  }
}

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, "X-Api-Key": key } : extra;
}

function failure(status, statusText, text) {
  let message = `${status} ${statusText}`.trim();
  try {
    const data = JSON.parse(text);
    if (data && data.error) message = data.error;
  } catch (err) {
    // not JSON: the status line says enough
  }
  const error = new ApiError(status, message);
  if (error.loggedOut) window.dispatchEvent(new CustomEvent("farmctl:logged-out", { detail: message }));
  return error;
}

export async function request(method, path, body) {
  const options = { method, headers: headers(), credentials: "same-origin" };
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
    throw new ApiError(0, "cannot reach the farm server: check that farmctl is running and the network is up");
  }
  const text = await response.text();
  if (!response.ok) throw failure(response.status, response.statusText, text);
  return text ? JSON.parse(text) : null;
}

// An upload with progress (fetch cannot report it): onProgress(sentBytes, totalBytes).
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress && event.lengthComputable && onProgress(event.loaded, event.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
      else reject(failure(xhr.status, xhr.statusText, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, "the upload was interrupted: cannot reach the farm server"));
    xhr.send(form);
  });
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body) => request("POST", path, body ?? {}),
  put: (path, body) => request("PUT", path, body ?? {}),
  delete: (path) => request("DELETE", path),
  request,
  upload,
};
