// The JSON API: the session (sign-in, its CSRF token), requests, and errors as ApiError.

import { parseExact, stringify } from "./json.js";

export class ApiError extends Error {
  // body: the API's error object {error, message, line?, column?, problems?, ...}
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.name = body.error || "Error";
  }
  get line() {
    return this.body.line;
  }
  get problems() {
    return this.body.problems || [];
  }
}

let unauthorized = () => {};

export function onUnauthorized(handler) {
  unauthorized = handler;
}

// The session is an HttpOnly cookie the server sets at sign-in: the page never holds a secret.
// It keeps only the session's CSRF token, in memory, for the requests that change something.
let csrf = null;
const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

// Sign in: {name, password} or {token} (the server's token, or a user's API token). A wrong one
// is an ApiError 401 (429 after too many), not a session ended.
export async function signIn(credentials) {
  const session = await api("POST", "/api/session", credentials, { signingIn: true });
  csrf = session.csrf || null;
  return session;
}

// The session of the cookie, when there is one (the page loaded again); a 401 otherwise.
export async function currentSession() {
  const session = await api("GET", "/api/session", undefined, { signingIn: true });
  csrf = session.csrf || null;
  return session;
}

export async function signOut() {
  try {
    await api("DELETE", "/api/session", undefined, { signingIn: true });
  } finally {
    csrf = null;
  }
}

// A #token=... fragment (the address `dynaquery serve` prints): its token, removed from the
// address bar at once; null without one.
export function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return null;
  const url = window.location.pathname + window.location.search;
  window.history.replaceState(null, "", url);
  return decodeURIComponent(match[1]);
}

// signal: an AbortSignal; a request aborted with it fails as ApiError "Cancelled".
// signingIn: a 401 is the answer to give, not a session that ended.
export async function api(method, path, body, { signal, signingIn = false } = {}) {
  const headers = { Accept: "application/json" };
  if (csrf && CHANGES.has(method)) headers["X-CSRF-Token"] = csrf;
  const init = { method, headers, signal, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (signal && signal.aborted)
      throw new ApiError(0, { error: "Cancelled", message: "Cancelled." });
    throw new ApiError(0, {
      error: "NetworkError",
      message: `The server did not answer (${error.message}). Is \`dynaquery serve\` still running?`,
    });
  }
  let text;
  try {
    text = await response.text();
  } catch (error) {
    if (signal && signal.aborted)
      throw new ApiError(0, { error: "Cancelled", message: "Cancelled." });
    throw error;
  }
  let data = null;
  if (text) {
    try {
      data = parseExact(text);
    } catch {
      data = response.ok
        ? text
        : { error: "HTTPError", message: `HTTP ${response.status}: ${text.slice(0, 500)}` };
    }
  }
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      data && typeof data === "object" && !Array.isArray(data)
        ? { ...data, message: data.message || data.detail || `HTTP ${response.status}` }
        : { error: "HTTPError", message: `HTTP ${response.status} ${response.statusText}` },
    );
    if (response.status === 401 && !signingIn) unauthorized(error);
    throw error;
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body, options) => api("POST", path, body ?? {}, options);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);
export const q = encodeURIComponent;
