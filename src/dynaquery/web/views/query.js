// The query manager: the form of the query in the editor (name, data source, operation,
// parameters, transformation, description), Run, Save and Delete. Its parts have their own
// modules: the open queries' tabs, the operation picker, the check as you type, the
// placeholders' values, the completion, the code and cost, the result.
//
// Several queries are open at once, one per tab (query-tabs.js): the form shows the tab
// selected. Opening a query (saved, new, from the history or the table browser) opens a tab, or
// shows the one it is already in; an untouched new query's tab is reused. A tab keeps its form,
// editor text, placeholders' values, error and last result, and a run goes on in its tab when
// another is shown.

import { ApiError, del, get, post, put, q } from "../api.js";
import { $, $$, fillSelect } from "../dom.js";
import { JsonEditor } from "../editor.js";
import { datasourceLabel } from "../format.js";
import { html, setHtml } from "../html.js";
import { errorText, guard, hideInline, isUnauthorized, showInline, toast } from "../messages.js";
import * as state from "../state.js";
import * as autocomplete from "./autocomplete.js";
import { tableOf } from "./autocomplete.js";
import * as code from "./code.js";
import * as picker from "./operation-picker.js";
import * as placeholders from "./placeholders.js";
import { markErrors, scheduleCheck, setUp as setUpCheck } from "./query-check.js";
import * as tabs from "./query-tabs.js";
import * as results from "./results.js";

let editor = null;
let loading = false; // filling the form from a query: no "unsaved changes"
const running = new Map(); // tab id -> the AbortController of its run in flight
let deleteArmed = null; // the first click on "Delete query": the second one deletes

const query = () => state.get("query");

export async function loadQueries() {
  state.set("queries", await get("/api/queries"));
}

// -- the form -------------------------------------------------------------------------------

function fillForm(loaded, params) {
  loading = true;
  try {
    state.set("query", loaded);
    $("#q-name").value = loaded.name || "";
    $("#q-transform").value = loaded.transform || "";
    $("#q-description").value = loaded.description || "";
    fillDatasources();
    placeholders.resetValues(loaded.placeholders || [], loaded.defaults || {});
    editor.setErrors([]);
    editor.setValue(params);
    chooseOperation(loaded.operation, { quiet: true });
    $("#q-delete").hidden = !loaded.id;
    $("#q-delete").textContent = "Delete query";
    hideInline($("#query-error"));
  } finally {
    loading = false;
  }
  state.set("dirty", false);
}

// -- the tabs -------------------------------------------------------------------------------

// What a new query opens with. defaults: placeholder values to start with.
function blankInit(
  { datasource_id = null, operation = null, params = "", name = "" } = {},
  defaults = {},
) {
  const loaded = {
    id: null,
    name,
    datasource_id: datasource_id || state.get("currentDs"),
    operation,
    transform: "",
    description: "",
    defaults,
    placeholders: Object.keys(defaults),
  };
  return { loaded, params };
}

// The tab shown, when it holds nothing yet (a new query untouched, without a result): opening
// another query there loses nothing.
function untouchedTab() {
  const tab = tabs.current();
  const empty = tab && !query().id && !query().operation && !editor.value.trim();
  return empty && !state.get("dirty") && !tab.result && !running.has(tab.id) ? tab : null;
}

// A new query, in the tab shown when it is untouched, else in a new tab. values: placeholder
// values to start with (a run reopened from the history).
export function newQuery(fields = {}, { values = {} } = {}) {
  tabs.open(blankInit(fields, values), { reuse: untouchedTab() });
}

// A saved query: the tab it is open in, else a new tab (or the untouched one).
export function openQuery(saved) {
  const open = tabs.find((about) => about.queryId === saved.id);
  if (open) tabs.show(open);
  else
    tabs.open(
      { loaded: { ...saved, defaults: saved.defaults || {} }, params: saved.params },
      { reuse: untouchedTab() },
    );
  state.set("view", "query");
}

const placeholderNames = () => $$("#q-values-fields .value-row").map((row) => row.dataset.name);
const copyValues = (map) => new Map([...map].map(([name, entry]) => [name, { ...entry }]));

// What the form shows, to keep in its tab while another is shown.
function capture() {
  const box = $("#query-error");
  return {
    query: { ...query() },
    dirty: state.get("dirty"),
    params: editor.value,
    name: $("#q-name").value,
    transform: $("#q-transform").value,
    description: $("#q-description").value,
    allPages: $("#q-all-pages").checked,
    names: placeholderNames(),
    values: copyValues(placeholders.typedValues()),
    error: box.hidden ? "" : box.textContent,
    scrollTop: editor.textarea.scrollTop,
  };
}

function restoreSnap(snap) {
  loading = true;
  try {
    state.set("query", { ...snap.query });
    $("#q-name").value = snap.name;
    $("#q-transform").value = snap.transform;
    $("#q-description").value = snap.description;
    $("#q-all-pages").checked = snap.allPages;
    fillDatasources();
    placeholders.resetValues([], {});
    placeholders.keepTyped(copyValues(snap.values));
    placeholders.setPlaceholders(snap.names);
    editor.setErrors([]);
    editor.setValue(snap.params);
    editor.textarea.scrollTop = snap.scrollTop;
    chooseOperation(snap.query.operation, { quiet: true });
    $("#q-delete").hidden = !snap.query.id;
    $("#q-delete").textContent = "Delete query";
    if (snap.error) showInline($("#query-error"), new Error(snap.error));
    else hideInline($("#query-error"));
  } finally {
    loading = false;
  }
  state.set("dirty", snap.dirty);
}

// Show a tab's content in the form, and its last result.
function restore(tab) {
  autocomplete.close();
  if (tab.snap) restoreSnap(tab.snap);
  else {
    $("#q-all-pages").checked = false;
    fillForm(tab.init.loaded, tab.init.params);
  }
  showTabResult(tab);
  setRunning(running.has(tab.id));
  code.tabShown();
}

function showTabResult(tab) {
  if (!tab.result) {
    results.clearResult();
    return;
  }
  const [first, ...more] = tab.result.answers;
  results.showResult(first, tab.result.request);
  for (const answer of more) results.appendResult(answer);
}

function describe(tab) {
  const shown = tab === tabs.current();
  const snap = shown ? null : tab.snap;
  const held = shown ? query() : snap ? snap.query : tab.init.loaded;
  const name = shown ? $("#q-name").value.trim() : snap ? snap.name : held.name;
  const text = shown ? editor.value : snap ? snap.params : tab.init.params;
  const dirty = shown ? Boolean(held && state.get("dirty")) : Boolean(snap && snap.dirty);
  const operation = held && held.operation;
  const table = tableOf(text);
  const title =
    (held && held.id && held.name) ||
    name ||
    (operation ? `${operation}${table ? ` ${table}` : ""}` : blankTitle());
  return { title, dirty, queryId: held && held.id, running: running.has(tab.id) };
}

function tabQuestion(about) {
  const what = about.queryId
    ? `The query “${about.title}” has unsaved changes.`
    : `The new query “${about.title}” is not saved.`;
  return `${what}\n\nClose it and lose the changes? (Cancel keeps it open.)`;
}

function mayClose(tab) {
  const about = describe(tab);
  if (!about.dirty) return true;
  if (tab !== tabs.current()) tabs.show(tab); // the question is about what is shown
  return window.confirm(tabQuestion(about));
}

function closed(tab) {
  const controller = running.get(tab.id);
  if (controller) {
    running.delete(tab.id);
    controller.abort();
  }
}

// The query's parameters as text, and their replacement (a form that builds the request writes
// it here; the user can undo it with Ctrl+Z).
export const paramsText = () => editor.value;

export function setParams(text) {
  editor.setValue(text, { undoable: true });
}

// The operation of the query in the editor (null before one is chosen).
export const currentOperation = () => (query() ? query().operation : null);

// Unsaved changes in any tab (leaving the page asks first).
export const unsavedChanges = () => tabs.anyUnsaved();

// Asked by the views that open a query before they do: opening one no longer replaces a tab's
// content (it opens a tab, or reuses an untouched one), so nothing is lost and nothing is
// asked. Closing a tab with unsaved changes asks (mayClose).
export function mayLeaveQuery() {
  return true;
}

function markDirty() {
  if (loading || !query()) return;
  if (!state.get("dirty")) state.set("dirty", true);
  else tabs.render(); // the tab's title follows the name and the table
  code.requestChanged();
}

function renderState() {
  const badge = $("#q-state");
  const [text, kind] = !query().id
    ? ["unsaved", "warn"]
    : state.get("dirty")
      ? ["unsaved changes", "warn"]
      : ["saved", "ok"];
  badge.textContent = text;
  badge.className = `badge ${kind}`;
  $("#query-heading").textContent = query().id ? query().name : blankTitle();
  renderAbout();
}

const blankTitle = () => (state.can("edit") ? "New query" : "Run a saved query");

// A role that runs saved queries only sees what the query does, not its text.
function renderAbout() {
  const box = $("#q-about");
  box.hidden = state.can("edit");
  if (box.hidden) return;
  const open = query();
  const about = open.id
    ? html`<strong>${open.operation}</strong> on <strong>${open.datasource}</strong>${
        open.description ? html` — ${open.description}` : ""
      }`
    : NOTHING_TO_RUN;
  setHtml(box, about);
}

// The data source select: the query's, or the one picked in the sidebar.
function fillDatasources() {
  const items = state.get("datasources").map((d) => [d.id, datasourceLabel(d)]);
  const select = $("#q-datasource");
  const value = (query() && query().datasource_id) || state.get("currentDs") || "";
  fillSelect(select, items, { empty: items.length ? null : "no data source yet", value });
  if (query() && !query().datasource_id) query().datasource_id = select.value || null;
}

// A data source picked in the sidebar: a new query runs against it.
function followCurrentDs() {
  const id = state.get("currentDs");
  if (!id || !query() || query().id) return;
  $("#q-datasource").value = id;
  query().datasource_id = id;
}

function chooseOperation(name, { quiet = false } = {}) {
  query().operation = name || null;
  $("#q-operation").value = name || "";
  state.set("query", query()); // the views that follow the operation (the request form) hear it
  if (!quiet) markDirty();
  picker.showOperationInfo(name);
  scheduleCheck(0);
}

async function insertExample() {
  const name = query().operation;
  if (!name) {
    const first = new Error("Choose an operation first: its example goes into the editor.");
    showInline($("#query-error"), first);
    $("#q-operation").focus();
    return;
  }
  const detail = await guard(() => picker.operationDetail(name), $("#query-error"));
  if (!detail) return;
  editor.setValue(detail.example, { undoable: true });
  toast(`Inserted the example of ${detail.name} (Ctrl+Z takes it back).`);
}

// -- Save and Delete ------------------------------------------------------------------------

// A mistake in the form, and the field to go to.
class FormProblem extends Error {
  constructor(message, field = null) {
    super(message);
    this.field = field;
  }
}

const NO_DATASOURCE = "Add a data source first (+ Add in the sidebar): a query runs against one.";
const NOTHING_TO_RUN = "Open a saved query from the list on the left: fill its values, then Run.";

// What Save sends (a FormProblem when something is missing).
function saveBody() {
  const name = $("#q-name").value.trim();
  if (!name) throw new FormProblem("Give the query a name to save it.", "#q-name");
  const datasource = $("#q-datasource").value;
  if (!datasource) throw new FormProblem(NO_DATASOURCE);
  if (!query().operation) throw new FormProblem("Choose an operation.", "#q-operation");
  return {
    name,
    datasource,
    operation: query().operation,
    params: editor.value,
    transform: $("#q-transform").value.trim(),
    description: $("#q-description").value.trim(),
    defaults: placeholders.placeholderValues(), // throws on a value ticked JSON that is not
  };
}

async function saveQuery() {
  if (!state.can("edit")) return; // Ctrl+S where the role only runs saved queries
  const box = $("#query-error");
  hideInline(box);
  let body;
  try {
    body = saveBody();
  } catch (error) {
    showInline(box, error);
    if (error.field) $(error.field).focus();
    return;
  }
  let saved;
  try {
    const id = query().id;
    saved = id ? await put(`/api/queries/${q(id)}`, body) : await post("/api/queries", body);
  } catch (error) {
    queryError(error);
    return;
  }
  const typed = placeholders.typedValues();
  fillForm(saved, saved.params);
  placeholders.keepTyped(typed); // what was typed stays (empty fields take the defaults)
  await guard(loadQueries);
  toast(`Saved the query “${saved.name}”.`);
}

async function deleteQuery() {
  const button = $("#q-delete");
  if (!query().id) return;
  if (!deleteArmed) {
    button.textContent = "Click again to delete";
    deleteArmed = setTimeout(() => {
      deleteArmed = null;
      button.textContent = "Delete query";
    }, 4000);
    return;
  }
  clearTimeout(deleteArmed);
  deleteArmed = null;
  const { id, name } = query();
  const done = await guard(() => del(`/api/queries/${q(id)}`).then(() => true), $("#query-error"));
  if (!done) return;
  tabs.open(blankInit(), { reuse: tabs.current() }); // its tab goes on with a new query
  await guard(loadQueries);
  toast(`Deleted the query “${name}”.`);
}

// An error of a save or a run: shown under the form, and marked at its line in the editor.
function queryError(error) {
  if (isUnauthorized(error)) return;
  showInline($("#query-error"), error);
  if (!(error instanceof ApiError && (error.body.line || error.problems.length))) return;
  markErrors(error.body);
  const first = error.body.line || (error.problems.find((p) => p.line) || {}).line;
  if (first) editor.reveal(first, error.body.column || 1);
}

// -- Run ------------------------------------------------------------------------------------

// The request of the form, unsaved: {datasource, operation, params, values} (what the code and
// the cost are asked for; a FormProblem when something is missing).
export function formRequest() {
  const datasource = $("#q-datasource").value;
  if (!datasource) throw new FormProblem(NO_DATASOURCE);
  if (!query().operation) throw new FormProblem("Choose an operation.");
  const values = placeholders.placeholderValues();
  return { datasource, operation: query().operation, params: editor.value, values };
}

// What Run sends: the saved query when it is unchanged, else the form's text.
function runRequest() {
  const runsSavedOnly = !state.can("edit");
  if (runsSavedOnly && !query().id) throw new FormProblem(NOTHING_TO_RUN);
  const { datasource, values } = formRequest();
  const allPages = $("#q-all-pages").checked;
  const saved = query().id && (runsSavedOnly || !state.get("dirty"));
  // only to put the table's key columns first in the result
  const table = tableOf(editor.value) || undefined;
  const context = { label: saved ? query().name : "", table, datasource };
  const body = saved
    ? { all_pages: allPages }
    : { datasource, operation: query().operation, params: editor.value, all_pages: allPages };
  if (Object.keys(values).length) body.values = values;
  const transform = $("#q-transform").value.trim();
  if (!saved && transform) body.transform = transform;
  const path = saved ? `/api/queries/${q(query().id)}/run` : "/api/run";
  return { path, body, ...context };
}

// Run and Cancel as the run of the tab shown is.
function setRunning(on) {
  state.set("running", on);
  $("#q-run").disabled = on;
  $("#q-run").textContent = on ? "Running…" : "Run";
  $("#q-cancel").hidden = !on;
}

// Stop waiting for the shown tab's run at once. The server may still finish a request DynamoDB
// already has.
function cancelRun() {
  const tab = tabs.current();
  const controller = running.get(tab.id);
  if (!controller) return;
  running.delete(tab.id);
  controller.abort();
  setRunning(false);
  const cancelled =
    "Cancelled. The page stopped waiting; a request that had already reached DynamoDB may " +
    "still complete (the History shows how it ended).";
  showInline($("#query-error"), new Error(cancelled));
}

// Send a request; an operation that deletes data or changes a table (428: the server decides
// which) is sent again with "confirm" once the user agrees. null: not agreed.
async function send(request, signal) {
  try {
    return await post(request.path, request.body, { signal });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 428) || signal.aborted) throw error;
    const question = error.body.question || error.message;
    if (!window.confirm(`${question}\n\nIt deletes data or changes a table.`)) return null;
    return post(request.path, { ...request.body, confirm: true }, { signal });
  }
}

// What the history needs to reopen a run of the page, or run it again.
function lastRun(request) {
  const { body } = request;
  if (!body.operation) {
    return { queryId: query().id, operation: query().operation, table: request.table || "" };
  }
  const { datasource, operation, params, values } = body;
  return { datasource, operation, params, values: values || {}, table: request.table || "" };
}

// An error of a tab's run: shown, or kept for when its tab is shown again.
function runError(tab, error) {
  if (tab === tabs.current()) queryError(error);
  else if (tab.snap && !isUnauthorized(error)) tab.snap.error = errorText(error);
}

// The answer of a tab's run: kept in the tab, shown when it is the tab shown.
function runAnswer(tab, answer, request, more) {
  if (more && tab.result) tab.result.answers.push(answer);
  else tab.result = { request, answers: [answer] };
  if (tab !== tabs.current()) {
    toast(`The run in the tab “${describe(tab).title}” has ended.`);
    return;
  }
  if (more) results.appendResult(answer);
  else {
    results.showResult(answer, request);
    revealResult();
  }
}

// Run the query of the tab shown (more: load the next page of its result).
export async function run({ more = false } = {}) {
  const tab = tabs.current();
  if (running.has(tab.id)) return;
  const box = $("#query-error");
  hideInline(box);
  let request;
  try {
    request = more ? results.nextPageRequest() : runRequest();
  } catch (error) {
    showInline(box, error);
    return;
  }
  const controller = new AbortController();
  running.set(tab.id, controller);
  setRunning(true);
  const mine = () => running.get(tab.id) === controller;
  let answer;
  let sent = true; // a run the server recorded in the history (as far as the page can tell)
  try {
    answer = await send(request, controller.signal);
    if (answer === null) runError(tab, new Error("Not run."));
    sent = answer !== null;
  } catch (error) {
    sent = error instanceof ApiError && ![0, 401, 404, 428].includes(error.status);
    if (mine()) runError(tab, error); // else cancelled: cancelRun said so
  } finally {
    if (mine()) {
      running.delete(tab.id);
      if (tab === tabs.current()) setRunning(false);
      else tabs.render();
    }
    if (sent && !more) state.set("lastRun", lastRun(request));
    state.set("runs", state.get("runs") + 1);
  }
  if (!answer || controller.signal.aborted) return;
  runAnswer(tab, answer, request, more);
}

// A new result comes into view: the page scrolls to its top when it is out of sight.
function revealResult() {
  const box = $("#results");
  if (box.hidden) return;
  $("#view-query").classList.add("has-result"); // the split now (its observer comes after)
  const { top } = box.getBoundingClientRect();
  if (top < 0 || top > window.innerHeight - 120) box.scrollIntoView({ block: "start" });
  // the form's part keeps the editor in sight, above the result
  const form = $("#query-form");
  const [pane, text] = [form.getBoundingClientRect(), $("#editor").getBoundingClientRect()];
  if (text.top < pane.top || text.top > pane.bottom - 120)
    form.scrollTop += text.top - pane.top - 40;
}

function saveOnCtrlS(event) {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
    event.preventDefault();
    saveQuery();
  }
}

// -- the split between the form and the result ------------------------------------------------

const SPLIT_KEY = "dynaquery.formHeight";
const MIN_FORM = 160;

function setFormHeight(px, { keep = false } = {}) {
  const max = Math.max(MIN_FORM, window.innerHeight - 160);
  const height = Math.round(Math.max(MIN_FORM, Math.min(max, px)));
  $("#view-query").style.setProperty("--form-height", `${height}px`);
  $("#split-handle").setAttribute("aria-valuenow", String(height));
  if (!keep) return;
  try {
    localStorage.setItem(SPLIT_KEY, String(height));
  } catch {
    // storage unavailable: the split is kept for this page only
  }
}

function storedFormHeight() {
  try {
    return Number(localStorage.getItem(SPLIT_KEY)) || 0;
  } catch {
    return 0;
  }
}

// Drag the handle (or arrow keys on it) to share the height between the form and the result.
function setUpSplit() {
  const handle = document.createElement("div");
  Object.assign(handle, { id: "split-handle", className: "split-handle", tabIndex: 0 });
  handle.setAttribute("role", "separator");
  handle.setAttribute("aria-orientation", "horizontal");
  handle.setAttribute("aria-label", "Resize the query form and the result");
  handle.dataset.testid = "split-handle";
  handle.title = "Drag to resize (double-click: back to the default)";
  $("#results").before(handle);
  const stored = storedFormHeight();
  if (stored) setFormHeight(stored);
  const form = $("#query-form");
  handle.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    handle.setPointerCapture(event.pointerId);
    const start = { y: event.clientY, height: form.getBoundingClientRect().height };
    const move = (e) => setFormHeight(start.height + e.clientY - start.y);
    const up = (e) => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      setFormHeight(start.height + e.clientY - start.y, { keep: true });
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  });
  handle.addEventListener("keydown", (event) => {
    const step = { ArrowUp: -24, ArrowDown: 24 }[event.key];
    if (!step) return;
    event.preventDefault();
    setFormHeight(form.getBoundingClientRect().height + step, { keep: true });
  });
  handle.addEventListener("dblclick", () => {
    $("#view-query").style.removeProperty("--form-height");
    try {
      localStorage.removeItem(SPLIT_KEY);
    } catch {
      // nothing kept
    }
  });
  // the split only while there is a result to share the height with
  const follow = () => $("#view-query").classList.toggle("has-result", !$("#results").hidden);
  new MutationObserver(follow).observe($("#results"), {
    attributes: true,
    attributeFilter: ["hidden"],
  });
  follow();
}

// -- wiring ---------------------------------------------------------------------------------

function setUpTabs() {
  tabs.setUp({
    capture,
    restore,
    describe,
    mayClose,
    closed,
    blank: () => blankInit(),
  });
}

export function setUp() {
  editor = new JsonEditor($("#editor"), {
    onInput: () => {
      markDirty();
      scheduleCheck();
    },
    onRun: () => run(),
    onSave: () => saveQuery(),
  });
  setUpCheck(editor, () => query() && query().operation);
  placeholders.setUp();
  setUpTabs();
  setUpSplit();
  autocomplete.setUp(editor, {
    datasource: () => $("#q-datasource").value,
    operation: () => query() && query().operation,
    result: () => {
      const tab = tabs.current();
      return tab && tab.result ? tab.result.answers : [];
    },
  });
  code.setUp({
    request: formRequest,
    useQuery: (params) => {
      chooseOperation("Query");
      setParams(params);
    },
  });
  picker.setUp({
    current: () => query().operation || "",
    onChoose: (name) => chooseOperation(name),
  });
  state.subscribe("datasources", fillDatasources);
  state.subscribe("currentDs", followCurrentDs);
  state.subscribe("dirty", renderState);
  state.subscribe("query", renderState);
  state.subscribe("session", () => query() && renderState());
  $("#query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  $("#q-save").addEventListener("click", saveQuery);
  $("#q-delete").addEventListener("click", deleteQuery);
  $("#q-cancel").addEventListener("click", () => cancelRun());
  $("#q-new").addEventListener("click", () => {
    newQuery();
    $("#q-name").focus();
  });
  $("#insert-example").addEventListener("click", insertExample);
  $("#q-datasource").addEventListener("change", () => {
    query().datasource_id = $("#q-datasource").value;
    markDirty();
  });
  // a placeholder's value changes the request (its code and cost), not the query; and so does
  // the set of placeholders, which the check finds after the text changed
  $("#q-values-fields").addEventListener("input", () => code.requestChanged());
  new MutationObserver(() => code.requestChanged()).observe($("#q-values-fields"), {
    childList: true,
  });
  for (const id of ["#q-name", "#q-description"]) $(id).addEventListener("input", markDirty);
  $("#q-transform").addEventListener("input", () => {
    markDirty();
    scheduleCheck();
  });
  for (const element of $$("#query-form input, #query-form select")) {
    element.addEventListener("keydown", saveOnCtrlS);
  }
}
