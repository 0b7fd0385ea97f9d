// The JSON API: the bearer token (kept in localStorage), requests, and errors as ApiError.

import { parseExact, stringify } from "./json.js";

const TOKEN_KEY = "dynaquery.token";

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

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage unavailable (private mode): the token lives for this page only
  }
  current = token;
}

let current = getToken();

// A #token=... fragment signs in: the token is stored and removed from the address bar.
export function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return false;
  setToken(decodeURIComponent(match[1]));
  const url = window.location.pathname + window.location.search;
  window.history.replaceState(null, "", url);
  return true;
}

// signal: an AbortSignal; a request aborted with it fails as ApiError "Cancelled".
export async function api(method, path, body, { token, signal } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token ?? current;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const init = { method, headers, signal };
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
    if (response.status === 401 && token === undefined) unauthorized(error);
    throw error;
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body, options) => api("POST", path, body ?? {}, options);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);
export const q = encodeURIComponent;
