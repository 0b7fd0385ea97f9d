// dynaquery's page: sign-in, the views' navigation, and the wiring of the views (each in
// views/). Plain ES modules, no build step; everything goes through the JSON API (api.js).

import {
  ApiError,
  api,
  get,
  getToken,
  onUnauthorized,
  setToken,
  takeTokenFromFragment,
} from "./api.js";
import { $, $$, selectTab, tabKeys } from "./dom.js";
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

// For people at the sign-in form, not for API clients: what happened and what to do.
const WRONG_TOKEN =
  "That token is not right. Open the address `dynaquery serve` printed when it started (it ends " +
  "with #token=…), or copy the token from it; if the server was started with DYNAQUERY_TOKEN, use " +
  "that value. Lost it? Restart with `dynaquery serve --new-token` to get a new one.";
const STALE_TOKEN =
  "The token this page kept is not accepted any more (the server's token has changed). Open the " +
  "address `dynaquery serve` printed, or paste its token here to sign in again.";

let started = false; // the views have their first content

// -- sign-in --------------------------------------------------------------------------------

function showSignIn(reason = "") {
  $("#app").hidden = true;
  $("#signin").hidden = false;
  const box = $("#signin-error");
  box.textContent = reason;
  box.hidden = !reason;
  $("#signin-token").value = "";
  $("#signin-token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const token = $("#signin-token").value.trim();
  const box = $("#signin-error");
  if (!token) {
    showInline(box, new Error("Enter the token."));
    return;
  }
  try {
    const session = await api("GET", "/api/session", undefined, { token });
    setToken(token);
    await enter(session);
  } catch (error) {
    showInline(box, isUnauthorized(error) ? new Error(WRONG_TOKEN) : error);
    $("#signin-token").select();
  }
}

function signOut() {
  setToken("");
  showSignIn("Signed out.");
}

async function enter(session) {
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#session-info").textContent = `v${session.version}${session.demo ? " · demo" : ""}`;
  if (!started) {
    started = true;
    query.newQuery();
  }
  await Promise.all([
    guard(loadSettings),
    guard(datasources.loadDatasources),
    guard(loadOperations),
    guard(query.loadQueries),
  ]);
  if (state.get("view") === "history") guard(history.loadHistory);
}

async function resume() {
  if (!getToken()) {
    showSignIn();
    return;
  }
  try {
    await enter(await get("/api/session"));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showSignIn(errorText(error));
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
  // closing or reloading the tab with unsaved changes: the browser asks first
  window.addEventListener("beforeunload", (event) => {
    if (!query.unsavedChanges()) return;
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
}

async function start() {
  setUp();
  takeTokenFromFragment();
  onUnauthorized(() => showSignIn(STALE_TOKEN));
  // a link with #token=... opened in this tab later on
  window.addEventListener("hashchange", () => {
    if (takeTokenFromFragment()) resume();
  });
  await resume();
}

start();
