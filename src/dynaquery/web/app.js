// dynaquery's page: sign-in, the views' navigation, and the wiring of the views (each in
// views/). Plain ES modules, no build step; everything goes through the JSON API (api.js).

import {
  ApiError,
  currentSession,
  onUnauthorized,
  signIn as startSession,
  signOut as endSession,
  takeTokenFromFragment,
} from "./api.js";
import { $, $$, renderFor, selectTab, tabKeys } from "./dom.js";
import { errorText, guard, hideMessage, isUnauthorized, showInline } from "./messages.js";
import * as state from "./state.js";
import { loadSettings } from "./views/connection-fields.js";
import * as datasources from "./views/datasources.js";
import * as history from "./views/history.js";
import * as itemEditor from "./views/item-editor.js";
import { loadOperations } from "./views/operation-picker.js";
import * as query from "./views/query.js";
import * as requestForm from "./views/request-form.js";
import * as results from "./views/results.js";
import * as savedQueries from "./views/saved-queries.js";
import * as tables from "./views/tables.js";
import * as users from "./views/users.js";

// For people at the sign-in form, not for API clients: what happened and what to do.
const TOKEN_HELP =
  "Open the address `dynaquery serve` printed when it started (it ends with #token=…), or copy " +
  "the token from it; if the server was started with DYNAQUERY_TOKEN, use that value. Lost it? " +
  "Restart with `dynaquery serve --new-token` to get a new one.";
const WRONG_TOKEN = `That token is not right. ${TOKEN_HELP}`;
const ENDED =
  "Your session has ended (it expired, you signed out elsewhere, or your account changed): " +
  "sign in again.";

let started = false; // the views have their first content
let shownTo = null; // the user and role whose things the page shows
let leaving = false; // the page reloads for another user: nothing of the last one to keep

// -- sign-in --------------------------------------------------------------------------------

let withToken = false; // the form asks for a token instead of a name and a password

function signInMode(token) {
  withToken = token;
  $("#signin-with-password").hidden = token;
  $("#signin-with-token").hidden = !token;
  $("#signin-mode").textContent = token
    ? "Sign in with a user name and password instead"
    : "Sign in with a token instead";
  $(token ? "#signin-token" : "#signin-name").focus();
}

function showSignIn(reason = "") {
  $("#app").hidden = true;
  $("#signin").hidden = false;
  const box = $("#signin-error");
  box.textContent = reason;
  box.hidden = !reason;
  for (const id of ["#signin-password", "#signin-token"]) $(id).value = "";
  signInMode(withToken);
}

// What the form sends, or an Error saying what is missing.
function credentials() {
  if (withToken) {
    const token = $("#signin-token").value.trim();
    if (!token) throw new Error("Enter the token.");
    return { token };
  }
  const name = $("#signin-name").value.trim();
  const password = $("#signin-password").value;
  if (!name || !password) throw new Error("Enter your user name and password.");
  return { name, password };
}

async function signIn(event) {
  event.preventDefault();
  const box = $("#signin-error");
  try {
    await enter(await startSession(credentials()));
  } catch (error) {
    // a wrong token gets help to find the right one; a wrong password, the server's words
    const help = withToken && isUnauthorized(error);
    showInline(box, help ? new Error(WRONG_TOKEN) : error);
    $(withToken ? "#signin-token" : "#signin-password").select();
  }
}

async function signOut() {
  await guard(endSession);
  showSignIn("Signed out.");
}

function showWho(session) {
  $("#session-info").textContent = `v${session.version}${session.demo ? " · demo" : ""}`;
  const who = session.user ? `${session.user} · ${session.role}` : session.role || "";
  $("#session-user").textContent = who;
}

async function enter(session) {
  const who = `${session.user}\n${session.role}`;
  if (shownTo !== null && shownTo !== who) {
    // another user (or role) signs in where one was: the page starts afresh with the new session
    leaving = true;
    window.location.reload();
    return;
  }
  shownTo = who;
  state.set("session", session);
  renderFor(state.can);
  $("#signin").hidden = true;
  $("#app").hidden = false;
  showWho(session);
  if (!started) {
    started = true;
    query.newQuery();
  }
  await Promise.all([
    state.can("manage") ? guard(loadSettings) : null,
    guard(datasources.loadDatasources),
    guard(loadOperations),
    guard(query.loadQueries),
  ]);
  if (state.get("view") === "history") guard(history.loadHistory);
}

// Signed in already (the session's cookie), by a #token= fragment, or the form.
async function resume() {
  const token = takeTokenFromFragment();
  try {
    await enter(await (token ? startSession({ token }) : currentSession()));
  } catch (error) {
    if (token) withToken = true; // the form shows the token that did not sign in, and why
    if (!(error instanceof ApiError && error.status === 401)) showSignIn(errorText(error));
    else showSignIn(token ? WRONG_TOKEN : "");
  }
}

// -- navigation -----------------------------------------------------------------------------

function showView(view) {
  selectTab($$(".views [role=tab]"), (tab) => tab.dataset.view === view);
}

function setUpNavigation() {
  state.subscribe("view", showView);
  for (const tab of $$(".views [role=tab]")) {
    tab.addEventListener("click", () => state.set("view", tab.dataset.view));
  }
  tabKeys($(".views"), (tab) => state.set("view", tab.dataset.view));
}

// -- wiring ---------------------------------------------------------------------------------

function setUp() {
  $("#message-close").addEventListener("click", hideMessage);
  $("#signin-form").addEventListener("submit", signIn);
  $("#signout").addEventListener("click", signOut);
  $("#signin-mode").addEventListener("click", () => signInMode(!withToken));
  // closing or reloading the tab with unsaved changes: the browser asks first
  window.addEventListener("beforeunload", (event) => {
    if (leaving || !query.unsavedChanges()) return;
    event.preventDefault();
    event.returnValue = "";
  });
  setUpNavigation();
  datasources.setUp();
  savedQueries.setUp();
  query.setUp();
  requestForm.setUp();
  results.setUp({ loadMore: () => query.run({ more: true }) });
  tables.setUp();
  history.setUp();
  itemEditor.setUp();
  users.setUp();
}

async function start() {
  setUp();
  onUnauthorized(() => showSignIn(ENDED));
  // a link with #token=... opened in this tab later on
  window.addEventListener("hashchange", () => {
    if (/(?:^#|&)token=/.test(window.location.hash)) resume();
  });
  await resume();
}

start();
