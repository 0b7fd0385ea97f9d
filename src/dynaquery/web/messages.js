// Telling the user: the message bar (errors), the toast (what was done), inline errors.

import { ApiError } from "./api.js";
import { $ } from "./dom.js";

export function errorText(error) {
  return error && error.message ? error.message : String(error);
}

export const isUnauthorized = (error) => error instanceof ApiError && error.status === 401;

export function showMessage(error) {
  $("#message .message-text").textContent = errorText(error);
  $("#message").hidden = false;
}

export function hideMessage() {
  $("#message").hidden = true;
}

let toastTimer = null;
export function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 4000);
}

export function showInline(element, error) {
  element.textContent = errorText(error);
  element.hidden = false;
}

export function hideInline(element) {
  element.hidden = true;
  element.textContent = "";
}

// Run an async action; an error goes to `where` (an inline area) or the message bar. A 401 is
// left to the sign-in form, which shows.
export async function guard(action, where = null) {
  try {
    return await action();
  } catch (error) {
    if (isUnauthorized(error)) return undefined;
    if (where) showInline(where, error);
    else showMessage(error);
    return undefined;
  }
}
