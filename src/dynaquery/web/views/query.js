// The query manager: the form of the query in the editor (name, data source, operation,
// parameters, transformation, description), Run, Save and Delete. Its parts have their own
// modules: the operation picker, the check as you type, the placeholders' values, the result.

import { ApiError, del, get, post, put, q } from "../api.js";
import { $, $$, fillSelect } from "../dom.js";
import { JsonEditor } from "../editor.js";
import { datasourceLabel } from "../format.js";
import { guard, hideInline, isUnauthorized, showInline, toast } from "../messages.js";
import * as state from "../state.js";
import * as picker from "./operation-picker.js";
import * as placeholders from "./placeholders.js";
import { markErrors, scheduleCheck, setUp as setUpCheck } from "./query-check.js";
import * as results from "./results.js";

let editor = null;
let loading = false; // filling the form from a query: no "unsaved changes"
let running = null; // the run in flight: its AbortController (Cancel run, another query stop it)
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

// The result belongs to the query it came from: another query starts without one (and a run
// still in flight is not waited for).
function clearResult() {
  cancelRun({ quiet: true });
  results.clearResult();
}

export function newQuery({ datasource_id = null, operation = null, params = "", name = "" } = {}) {
  clearResult();
  fillForm(
    {
      id: null,
      name,
      datasource_id: datasource_id || state.get("currentDs"),
      operation,
      transform: "",
      description: "",
      defaults: {},
      placeholders: [],
    },
    params,
  );
}

export function openQuery(saved) {
  if (!query() || query().id !== saved.id) clearResult();
  fillForm({ ...saved, defaults: saved.defaults || {} }, saved.params);
  state.set("view", "query");
}

// The query's parameters as text, and their replacement (a form that builds the request writes
// it here; the user can undo it with Ctrl+Z).
export const paramsText = () => editor.value;

export function setParams(text) {
  editor.setValue(text, { undoable: true });
}

// The operation of the query in the editor (null before one is chosen).
export const currentOperation = () => (query() ? query().operation : null);

export const unsavedChanges = () => Boolean(query() && state.get("dirty"));

// Before the form is replaced (a new query, another one): true when there is nothing to lose,
// or the user agrees to lose it.
export function mayLeaveQuery() {
  if (!unsavedChanges()) return true;
  const what = query().id
    ? `The query “${query().name}” has unsaved changes.`
    : "This new query is not saved.";
  return window.confirm(`${what}\n\nLeave it and lose the changes? (Cancel keeps editing.)`);
}

function markDirty() {
  if (loading || !query()) return;
  state.set("dirty", true);
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
  $("#query-heading").textContent = query().id ? query().name : "New query";
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
  newQuery();
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

// What Run sends: the saved query when it is unchanged, else the form's text.
function runRequest() {
  const datasource = $("#q-datasource").value;
  if (!datasource) throw new FormProblem(NO_DATASOURCE);
  if (!query().operation) throw new FormProblem("Choose an operation.");
  const values = placeholders.placeholderValues();
  const allPages = $("#q-all-pages").checked;
  const saved = query().id && !state.get("dirty");
  // only to put the table's key columns first in the result
  const table = (/"TableName"\s*:\s*"([^"\\{}]+)"/.exec(editor.value) || [])[1];
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

function setRunning(on) {
  state.set("running", on);
  $("#q-run").disabled = on;
  $("#q-run").textContent = on ? "Running…" : "Run";
  $("#q-cancel").hidden = !on;
}

// Stop waiting for the run at once. The server may still finish a request DynamoDB already has.
function cancelRun({ quiet = false } = {}) {
  if (!running) return;
  const controller = running;
  running = null;
  controller.abort();
  setRunning(false);
  if (quiet) return;
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

// Run the query (more: load the next page of the result shown).
export async function run({ more = false } = {}) {
  if (running) return;
  const box = $("#query-error");
  hideInline(box);
  let request;
  try {
    request = more ? results.nextPageRequest() : runRequest();
  } catch (error) {
    showInline(box, error);
    return;
  }
  const controller = (running = new AbortController());
  setRunning(true);
  let answer;
  try {
    answer = await send(request, controller.signal);
    if (answer === null) showInline(box, new Error("Not run."));
  } catch (error) {
    if (running === controller) queryError(error); // else cancelled: cancelRun said so
  } finally {
    if (running === controller) {
      running = null;
      setRunning(false);
    }
    state.set("runs", state.get("runs") + 1);
  }
  if (!answer || controller.signal.aborted) return;
  if (more) results.appendResult(answer);
  else results.showResult(answer, request);
}

// -- wiring ---------------------------------------------------------------------------------

function saveOnCtrlS(event) {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
    event.preventDefault();
    saveQuery();
  }
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
  picker.setUp({
    current: () => query().operation || "",
    onChoose: (name) => chooseOperation(name),
  });
  state.subscribe("datasources", fillDatasources);
  state.subscribe("currentDs", followCurrentDs);
  state.subscribe("dirty", renderState);
  state.subscribe("query", renderState);
  $("#query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  $("#q-save").addEventListener("click", saveQuery);
  $("#q-delete").addEventListener("click", deleteQuery);
  $("#q-cancel").addEventListener("click", () => cancelRun());
  $("#q-new").addEventListener("click", () => {
    if (mayLeaveQuery()) newQuery();
  });
  $("#insert-example").addEventListener("click", insertExample);
  $("#q-datasource").addEventListener("change", () => {
    query().datasource_id = $("#q-datasource").value;
    markDirty();
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
