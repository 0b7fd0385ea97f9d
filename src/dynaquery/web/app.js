// dynaquery's page: data sources, the query manager, results, the table browser and the history.
// Plain ES modules, no build step; everything goes through the JSON API (see api.js).

import { ApiError, api, del, get, getToken, onUnauthorized, post, put, q, setToken, takeTokenFromFragment } from "./api.js";
import { JsonEditor } from "./editor.js";
import { escapeHtml, highlight, parseExact, stringify } from "./json.js";
import { columnsOf, download, joinData, renderTable, rowsOf, saveFrom, toCSV } from "./results.js";
import { REGIONS } from "./regions.js";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;
const MASK = "********";
const TYPES = { S: "string", N: "number", B: "binary" };

const state = {
  started: false,
  session: null,
  datasources: [],
  currentDs: null, // the data source picked in the sidebar
  operations: [],
  opDetails: new Map(),
  queries: [],
  query: null, // {id, name, datasource_id, operation, transform, description, defaults}
  dirty: false,
  loading: false, // filling the form from a saved query: no "unsaved changes"
  values: new Map(), // placeholder name -> {text, json}
  placeholders: [],
  result: null,
  resultView: "table",
  running: false,
  checkSeq: 0,
  tables: { datasource: null, names: [], detail: null },
  view: "query",
  editing: null, // the data source open in the form (null: a new one)
};

// ---------------------------------------------------------------------------------------------
// messages

function errorText(error) {
  if (error instanceof ApiError) return error.message;
  return error && error.message ? error.message : String(error);
}

function showMessage(error) {
  $("#message .message-text").textContent = errorText(error);
  $("#message").hidden = false;
}

function hideMessage() {
  $("#message").hidden = true;
}

let toastTimer = null;
function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 4000);
}

function showInline(element, error) {
  element.textContent = errorText(error);
  element.hidden = false;
}

function hideInline(element) {
  element.hidden = true;
  element.textContent = "";
}

// Run an async action; an error goes to `where` (an inline area) or the message bar.
async function guard(action, where = null) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined; // the sign-in form shows
    if (where) showInline(where, error);
    else showMessage(error);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// sign-in

// For people at the sign-in form, not for API clients: what happened and what to do.
const WRONG_TOKEN =
  "That token is not right. Open the address `dynaquery serve` printed when it started (it ends " +
  "with #token=…), or copy the token from it; if the server was started with DYNAQUERY_TOKEN, use " +
  "that value. Lost it? Restart with `dynaquery serve --new-token` to get a new one.";
const STALE_TOKEN =
  "The token this page kept is not accepted any more (the server's token has changed). Open the " +
  "address `dynaquery serve` printed, or paste its token here to sign in again.";

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
    if (error instanceof ApiError && error.status === 401) {
      showInline(box, new Error(WRONG_TOKEN));
    } else {
      showInline(box, error);
    }
    $("#signin-token").select();
  }
}

function signOut() {
  setToken("");
  showSignIn("Signed out.");
}

async function enter(session) {
  state.session = session;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#session-info").textContent = `v${session.version}${session.demo ? " · demo" : ""}`;
  if (!state.started) {
    state.started = true;
    newQuery();
  }
  await Promise.all([guard(loadDatasources), guard(loadOperations), guard(loadQueries)]);
  if (state.view === "history") guard(loadHistory);
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

// ---------------------------------------------------------------------------------------------
// data sources

async function loadDatasources() {
  state.datasources = await get("/api/datasources");
  if (state.currentDs && !state.datasources.some((d) => d.id === state.currentDs)) state.currentDs = null;
  if (!state.currentDs && state.datasources.length) state.currentDs = state.datasources[0].id;
  renderDatasources();
}

function dsName(id) {
  const ds = state.datasources.find((d) => d.id === id);
  return ds ? ds.name : "";
}

function renderDatasources() {
  const list = $("#ds-list");
  list.innerHTML = "";
  for (const ds of state.datasources) {
    const li = document.createElement("li");
    li.dataset.testid = "ds-item";
    li.dataset.name = ds.name;
    const where = [ds.auth.replace("_", " "), ds.region, ds.endpoint_url].filter(Boolean).join(" · ");
    li.innerHTML = `
      <button type="button" class="item-main" aria-current="${ds.id === state.currentDs}">
        <span class="item-name">${escapeHtml(ds.name)}</span>${ds.read_only ? ' <span class="badge ro">read-only</span>' : ""}
        <span class="item-detail">${escapeHtml(where)}</span>
      </button>
      <button type="button" class="small" data-testid="ds-edit" aria-label="Edit ${escapeHtml(ds.name)}">Edit</button>`;
    li.querySelector(".item-main").addEventListener("click", () => selectDatasource(ds.id));
    li.querySelector("[data-testid=ds-edit]").addEventListener("click", () => openDatasourceForm(ds));
    list.appendChild(li);
  }
  $("#ds-empty").hidden = state.datasources.length > 0;
  fillDatasourceSelects();
}

function options(select, items, { empty = null, value = select.value } = {}) {
  select.innerHTML = "";
  if (empty !== null) select.add(new Option(empty, ""));
  for (const [id, label] of items) select.add(new Option(label, id));
  select.value = [...select.options].some((o) => o.value === value) ? value : select.options[0] ? select.options[0].value : "";
}

function fillDatasourceSelects() {
  const items = state.datasources.map((d) => [d.id, d.name + (d.read_only ? " (read-only)" : "")]);
  const current = state.query && state.query.datasource_id;
  options($("#q-datasource"), items, { empty: items.length ? null : "no data source yet", value: current || state.currentDs || "" });
  if (state.query && !state.query.datasource_id) state.query.datasource_id = $("#q-datasource").value || null;
  options($("#t-datasource"), items, { value: state.tables.datasource || state.currentDs || "" });
  options($("#h-datasource"), state.datasources.map((d) => [d.name, d.name]), { empty: "any" });
}

function selectDatasource(id) {
  state.currentDs = id;
  renderDatasources();
  if (state.query && !state.query.id) {
    $("#q-datasource").value = id;
    state.query.datasource_id = id;
  }
  $("#t-datasource").value = id;
  if (state.view === "tables") guard(loadTables);
}

const DS_FIELDS = {
  region: "#ds-region",
  endpoint_url: "#ds-endpoint",
  access_key_id: "#ds-access-key",
  secret_access_key: "#ds-secret-key",
  session_token: "#ds-session-token",
  profile: "#ds-profile",
  role_arn: "#ds-role-arn",
  external_id: "#ds-external-id",
  role_session_name: "#ds-role-session-name",
  role_duration_seconds: "#ds-role-duration",
  sts_endpoint_url: "#ds-sts-endpoint",
  connect_timeout: "#ds-connect-timeout",
  read_timeout: "#ds-read-timeout",
  max_attempts: "#ds-max-attempts",
  retry_mode: "#ds-retry-mode",
};
const NUMERIC = { role_duration_seconds: "int", connect_timeout: "float", read_timeout: "float", max_attempts: "int" };
const SECRETS = ["secret_access_key", "session_token"];
const COMMON = ["region", "endpoint_url", "connect_timeout", "read_timeout", "max_attempts", "retry_mode"];
const BY_METHOD = {
  iam_credentials: ["access_key_id", "secret_access_key", "session_token"],
  instance_profile: ["profile"],
  role_arn: ["role_arn", "external_id", "access_key_id", "secret_access_key", "session_token", "profile",
    "role_session_name", "role_duration_seconds", "sts_endpoint_url"],
};

function authMethod() {
  return $("#ds-form input[name=auth]:checked").value;
}

function showAuthFields() {
  const method = authMethod();
  for (const element of $$("#ds-form [data-auth]")) {
    element.hidden = !element.dataset.auth.split(" ").includes(method);
  }
}

function openDatasourceForm(ds = null) {
  cancelTest();
  state.editing = ds;
  const form = $("#ds-form");
  form.reset();
  $("#ds-title").textContent = ds ? `Edit data source “${ds.name}”` : "New data source";
  $("#ds-name").value = ds ? ds.name : "";
  $("#ds-description").value = ds ? ds.description || "" : "";
  const method = ds ? ds.auth : "iam_credentials";
  $(`#ds-form input[name=auth][value=${method}]`).checked = true;
  for (const [key, selector] of Object.entries(DS_FIELDS)) {
    const value = ds ? ds[key] : null;
    $(selector).value = value === null || value === undefined ? "" : String(value);
  }
  if (!ds) $("#ds-region").value = "us-east-1";
  $("#ds-read-only").checked = ds ? ds.read_only : false;
  $("#ds-secret-hint").hidden = !(ds && (ds.secret_access_key || ds.session_token));
  $("#ds-delete").hidden = !ds;
  $("#ds-delete-confirm").hidden = true;
  $("#ds-diagnosis").hidden = true;
  hideInline($("#ds-error"));
  $("form#ds-form details.advanced").open = Boolean(
    ds && ["connect_timeout", "read_timeout", "max_attempts", "retry_mode", "sts_endpoint_url", "role_duration_seconds"].some(
      (k) => ds[k] !== null && !(k === "connect_timeout" && Number(ds[k]) === 10) && !(k === "read_timeout" && Number(ds[k]) === 60),
    ),
  );
  showAuthFields();
  const dialog = $("#ds-dialog");
  if (!dialog.open) dialog.showModal();
  $("#ds-name").focus();
}

// The form's settings. update: empty or hidden fields clear the stored value (null, or "" for a
// secret); otherwise they are left out. An untouched masked secret is sent as the mask: kept.
function formSettings({ update = false } = {}) {
  const method = authMethod();
  const relevant = new Set([...COMMON, ...BY_METHOD[method]]);
  const settings = { auth: method };
  for (const [key, selector] of Object.entries(DS_FIELDS)) {
    const raw = $(selector).value.trim();
    const secret = SECRETS.includes(key);
    const value = secret ? $(selector).value : raw;
    if (!relevant.has(key) || value === "") {
      if (update) settings[key] = secret ? "" : null;
      continue;
    }
    if (NUMERIC[key]) {
      const number = Number(raw);
      if (!Number.isFinite(number) || (NUMERIC[key] === "int" && !Number.isInteger(number))) {
        const label = $(`label[for=${selector.slice(1)}]`).textContent;
        throw new Error(`${label}: ${JSON.stringify(raw)} is not ${NUMERIC[key] === "int" ? "a whole number" : "a number"}.`);
      }
      settings[key] = number;
    } else {
      settings[key] = value;
    }
  }
  return settings;
}

// A connection test in flight: its AbortController (the Test button cancels it meanwhile).
let testing = null;

function testButton(running) {
  const button = $("#ds-test");
  button.textContent = running ? "Cancel test" : "Test connection";
  button.classList.toggle("cancel", running);
}

// Stop waiting for the test at once; the form is usable again.
function cancelTest() {
  if (!testing) return;
  const controller = testing;
  testing = null;
  controller.abort();
  testButton(false);
  const box = $("#ds-diagnosis");
  box.className = "diagnosis cancelled";
  box.innerHTML = '<strong>Cancelled.</strong> <span data-testid="ds-diagnosis-message">The test was stopped: nothing is known about this connection yet.</span>';
}

async function testConnection() {
  if (testing) {
    cancelTest();
    return;
  }
  const box = $("#ds-diagnosis");
  hideInline($("#ds-error"));
  let body;
  try {
    body = formSettings();
  } catch (error) {
    showInline($("#ds-error"), error);
    return;
  }
  if (state.editing) body.id = state.editing.id;
  box.hidden = false;
  box.className = "diagnosis pending";
  box.textContent = "Testing the connection…";
  const controller = (testing = new AbortController());
  testButton(true);
  let diagnosis;
  try {
    diagnosis = await post("/api/datasources/test", body, { signal: controller.signal });
  } catch (error) {
    if (testing !== controller) return; // cancelled: cancelTest said so
    if (error instanceof ApiError && error.status === 400) {
      // settings that cannot work (a key without its secret, no role ARN...): a failed test too
      box.className = "diagnosis fail";
      box.innerHTML = `<strong>✗</strong> <span data-testid="ds-diagnosis-message">${escapeHtml(error.message)}</span>`;
      return;
    }
    box.hidden = true;
    if (!(error instanceof ApiError && error.status === 401)) showInline($("#ds-error"), error);
    return;
  } finally {
    if (testing === controller) {
      testing = null;
      testButton(false);
    }
  }
  if (controller.signal.aborted) return;
  box.className = `diagnosis ${diagnosis.ok ? "ok" : "fail"}`;
  const details = [diagnosis.auth, diagnosis.region, diagnosis.endpoint].filter(Boolean).join(" · ");
  const took = diagnosis.duration_ms !== undefined ? ` · ${formatDuration(diagnosis.duration_ms)}` : "";
  box.innerHTML =
    `<strong>${diagnosis.ok ? "✓" : "✗"}</strong> <span data-testid="ds-diagnosis-message">${escapeHtml(diagnosis.message)}</span>` +
    (details ? `<span class="item-detail">${escapeHtml(details + took)}</span>` : "");
}

async function saveDatasource(event) {
  event.preventDefault();
  hideInline($("#ds-error"));
  const name = $("#ds-name").value.trim();
  if (!name) {
    showInline($("#ds-error"), new Error("Give the data source a name."));
    $("#ds-name").focus();
    return;
  }
  await guard(async () => {
    const editing = state.editing;
    const body = {
      name,
      description: $("#ds-description").value.trim(),
      read_only: $("#ds-read-only").checked,
      ...formSettings({ update: Boolean(editing) }),
    };
    if (!editing && !body.description) delete body.description;
    const saved = editing ? await put(`/api/datasources/${q(editing.id)}`, body) : await post("/api/datasources", body);
    $("#ds-dialog").close();
    state.currentDs = saved.id;
    await loadDatasources();
    if (editing) await loadQueries(); // a renamed data source shows in the queries
    selectDatasource(saved.id);
    toast(`Saved the data source “${saved.name}”.`);
  }, $("#ds-error"));
}

function askDeleteDatasource() {
  const ds = state.editing;
  if (!ds) return;
  $("#ds-delete-text").textContent = `Delete the data source “${ds.name}”?`;
  $("#ds-delete-with").hidden = true;
  $("#ds-delete-confirm").hidden = false;
  $("#ds-delete-no").focus();
}

async function deleteDatasource(withQueries) {
  const ds = state.editing;
  try {
    await del(`/api/datasources/${q(ds.id)}?with_queries=${withQueries}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      $("#ds-delete-text").textContent = error.message;
      $("#ds-delete-with").hidden = false;
      return;
    }
    if (!(error instanceof ApiError && error.status === 401)) showInline($("#ds-error"), error);
    return;
  }
  $("#ds-dialog").close();
  await guard(loadDatasources);
  await guard(loadQueries);
  toast(`Deleted the data source “${ds.name}”.`);
}

// ---------------------------------------------------------------------------------------------
// operations: the searchable picker

async function loadOperations() {
  state.operations = await get("/api/operations");
  renderOperationList();
}

const normal = (text) => text.toLowerCase().replace(/[\s_-]+/g, "");

function matchingOperations(text) {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  const joined = normal(text);
  const scored = [];
  for (const op of state.operations) {
    const name = normal(op.name);
    const hay = `${op.name} ${op.python_name} ${op.summary}`.toLowerCase();
    let score;
    if (!joined) score = 3;
    else if (name.startsWith(joined)) score = 0;
    else if (name.includes(joined)) score = 1;
    else if (words.every((w) => hay.includes(w))) score = 2;
    else continue;
    scored.push([score, op]);
  }
  return scored.sort((a, b) => a[0] - b[0] || a[1].name.localeCompare(b[1].name)).map(([, op]) => op);
}

const picker = { open: false, active: 0, shown: [] };

function renderOperationList(filter = "") {
  picker.shown = matchingOperations(filter);
  picker.active = Math.min(picker.active, Math.max(0, picker.shown.length - 1));
  const list = $("#op-list");
  list.innerHTML = picker.shown.length
    ? picker.shown
        .map(
          (op, i) => `<li role="option" id="op-option-${op.name}" data-name="${op.name}" data-testid="op-option"
              aria-selected="${i === picker.active}" class="${i === picker.active ? "active" : ""}">
            <span class="op-name">${op.name}</span> <span class="badge ${op.access}">${op.access}</span>
            <span class="op-summary">${escapeHtml(op.summary)}</span></li>`,
        )
        .join("")
    : '<li class="none" role="presentation">No operation matches.</li>';
  const input = $("#q-operation");
  if (picker.shown.length) input.setAttribute("aria-activedescendant", `op-option-${picker.shown[picker.active].name}`);
  else input.removeAttribute("aria-activedescendant");
}

function openPicker(filter) {
  picker.open = true;
  picker.active = 0;
  renderOperationList(filter);
  $("#op-list").hidden = false;
  $("#q-operation").setAttribute("aria-expanded", "true");
}

function closePicker() {
  picker.open = false;
  $("#op-list").hidden = true;
  $("#q-operation").setAttribute("aria-expanded", "false");
}

function moveActive(step) {
  if (!picker.shown.length) return;
  picker.active = (picker.active + step + picker.shown.length) % picker.shown.length;
  renderOperationList($("#q-operation").value === (state.query.operation || "") ? "" : $("#q-operation").value);
  const active = $("#op-list li.active");
  if (active) active.scrollIntoView({ block: "nearest" });
}

function resolveTypedOperation() {
  const typed = normal($("#q-operation").value);
  if (!typed) return;
  const op = state.operations.find((o) => normal(o.name) === typed || normal(o.python_name) === typed);
  if (op) {
    if (op.name !== state.query.operation) chooseOperation(op.name);
    else $("#q-operation").value = op.name;
  } else {
    $("#q-operation").value = state.query.operation || "";
  }
}

function setUpPicker() {
  const input = $("#q-operation");
  input.addEventListener("focus", () => {
    input.select();
    openPicker("");
  });
  input.addEventListener("input", () => openPicker(input.value));
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!picker.open) openPicker("");
      else moveActive(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (picker.open && picker.shown[picker.active]) {
        chooseOperation(picker.shown[picker.active].name);
        closePicker();
      } else resolveTypedOperation();
    } else if (event.key === "Escape" && picker.open) {
      event.preventDefault();
      closePicker();
      input.value = state.query.operation || "";
    }
  });
  input.addEventListener("blur", () => {
    closePicker();
    resolveTypedOperation();
  });
  $("#op-list").addEventListener("mousedown", (event) => {
    const option = event.target.closest("li[data-name]");
    if (!option) return;
    event.preventDefault(); // keep the focus in the input
    chooseOperation(option.dataset.name);
    closePicker();
  });
}

async function operationDetail(name) {
  if (!state.opDetails.has(name)) state.opDetails.set(name, await get(`/api/operations/${q(name)}`));
  return state.opDetails.get(name);
}

function chooseOperation(name, { quiet = false } = {}) {
  state.query.operation = name || null;
  $("#q-operation").value = name || "";
  if (!quiet) markDirty();
  renderOperationInfo();
  scheduleCheck(0);
}

async function renderOperationInfo() {
  const name = state.query.operation;
  const info = $("#op-info");
  if (!name) {
    info.hidden = true;
    return;
  }
  const detail = await guard(() => operationDetail(name));
  if (!detail || state.query.operation !== name) return;
  info.hidden = false;
  $("#op-access").textContent = detail.access;
  $("#op-access").className = `badge ${detail.access}`;
  $("#op-summary").textContent = detail.summary;
  $("#op-name").textContent = detail.name;
  $("#op-parameters").innerHTML = detail.parameters
    .map(
      (p) => `<tr><th scope="row"><code>${escapeHtml(p.name)}</code></th><td>${escapeHtml(p.type)}</td>
        <td>${p.required ? "required" : ""}</td><td>${escapeHtml(p.documentation)}</td></tr>`,
    )
    .join("");
}

async function insertExample() {
  const name = state.query.operation;
  if (!name) {
    showInline($("#query-error"), new Error("Choose an operation first: its example goes into the editor."));
    $("#q-operation").focus();
    return;
  }
  const detail = await guard(() => operationDetail(name), $("#query-error"));
  if (!detail) return;
  editor.setValue(detail.example, { undoable: true });
  toast(`Inserted the example of ${detail.name} (Ctrl+Z takes it back).`);
}

// ---------------------------------------------------------------------------------------------
// the editor, its checks, and the placeholders' form

let editor;
let checkTimer = null;

function scheduleCheck(delay = 350) {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(check, delay);
}

function setStatus(text, kind = "") {
  const status = $("#editor-status");
  status.textContent = text;
  status.className = `editor-status ${kind}`;
}

async function check() {
  const seq = ++state.checkSeq;
  const operation = state.query.operation;
  if (!operation) {
    editor.setErrors([]);
    setStatus("Choose an operation: the parameters are checked against it as you type.");
    return;
  }
  const transform = $("#q-transform").value.trim();
  let answer;
  try {
    answer = await post("/api/check", { operation, params: editor.value, transform: transform || null });
  } catch (error) {
    if (seq === state.checkSeq && !(error instanceof ApiError && error.status === 401)) {
      setStatus(`The parameters could not be checked: ${errorText(error)}`, "error");
    }
    return;
  }
  if (seq !== state.checkSeq) return;
  if (answer.ok) {
    editor.setErrors([]);
    $("#q-transform").removeAttribute("aria-invalid");
    const holes = answer.placeholders && answer.placeholders.length ? ` (placeholders: ${answer.placeholders.join(", ")})` : "";
    setStatus(`✓ Valid parameters for ${answer.operation || operation}${holes}.`, "ok");
  } else {
    markErrors(answer.error || { message: "The parameters are not valid." });
  }
}

// Mark an API error on the editor: its line (JSON syntax) or each problem's line (validation).
function markErrors(body) {
  const errors = [];
  const problems = body.problems || [];
  for (const problem of problems) {
    if (problem.line) {
      errors.push({ line: problem.line, column: problem.column, message: problem.path ? `${problem.path}: ${problem.message}` : problem.message });
    }
  }
  if (body.line && !errors.some((e) => e.line === body.line)) {
    errors.push({ line: body.line, column: body.column, message: body.message });
  }
  editor.setErrors(errors);
  const transformError = /transform|JMESPath/i.test(body.message || "") && !body.line && !problems.length;
  if (transformError) $("#q-transform").setAttribute("aria-invalid", "true");
  setStatus(body.message || "The parameters are not valid.", "error");
}

function placeholdersIn(text) {
  const names = [];
  for (const match of text.matchAll(PLACEHOLDER)) if (!names.includes(match[1])) names.push(match[1]);
  return names;
}

function updatePlaceholders() {
  const names = placeholdersIn(editor.value);
  if (names.join("\n") === state.placeholders.join("\n")) return;
  state.placeholders = names;
  renderValues();
}

function renderValues() {
  const names = state.placeholders;
  const box = $("#q-values-fields");
  $("#q-values").hidden = names.length === 0;
  box.innerHTML = "";
  names.forEach((name, i) => {
    const entry = state.values.get(name) || { text: "", json: false };
    state.values.set(name, entry);
    const row = document.createElement("div");
    row.className = "value-row";
    row.innerHTML = `
      <label for="pv-${i}"><code>${escapeHtml(name)}</code></label>
      <input id="pv-${i}" data-testid="param-${escapeHtml(name)}" data-name="${escapeHtml(name)}" spellcheck="false"
             aria-describedby="pv-${i}-error">
      <label class="check"><input type="checkbox" id="pj-${i}" data-testid="param-json-${escapeHtml(name)}"> JSON<span class="sr-only"> (${escapeHtml(name)})</span></label>
      <span id="pv-${i}-error" class="field-error" data-testid="param-error-${escapeHtml(name)}"></span>`;
    const input = row.querySelector(`#pv-${i}`);
    const json = row.querySelector(`#pj-${i}`);
    input.value = entry.text;
    json.checked = entry.json;
    const validate = () => {
      const problem = entry.json && entry.text.trim() ? jsonProblem(entry.text) : "";
      row.querySelector(".field-error").textContent = problem ? `not JSON: ${problem}` : "";
      input.setAttribute("aria-invalid", problem ? "true" : "false");
    };
    // values are inputs of a run, not changes of the query (Save keeps them as its defaults)
    input.addEventListener("input", () => {
      entry.text = input.value;
      validate();
    });
    json.addEventListener("change", () => {
      entry.json = json.checked;
      validate();
    });
    validate();
    box.appendChild(row);
  });
}

function jsonProblem(text) {
  try {
    parseExact(text.trim());
    return "";
  } catch (error) {
    return error.message;
  }
}

// The values of the placeholders: text, or JSON where ticked. Empty fields are left out.
function placeholderValues() {
  const values = {};
  for (const name of state.placeholders) {
    const entry = state.values.get(name);
    if (!entry || entry.text === "") continue;
    if (entry.json) {
      try {
        values[name] = parseExact(entry.text.trim());
      } catch (error) {
        throw new Error(`The value of “${name}” is ticked as JSON but is not JSON (${error.message}).`);
      }
    } else {
      values[name] = entry.text;
    }
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// queries: new, open, save, delete

async function loadQueries() {
  state.queries = await get("/api/queries");
  renderQueries();
}

function renderQueries() {
  const filter = $("#query-filter").value.trim().toLowerCase();
  const list = $("#query-list");
  list.innerHTML = "";
  const shown = state.queries.filter((x) => !filter || `${x.name} ${x.operation} ${x.datasource} ${x.description || ""}`.toLowerCase().includes(filter));
  for (const saved of shown) {
    const li = document.createElement("li");
    li.dataset.testid = "query-item";
    li.dataset.name = saved.name;
    li.innerHTML = `<button type="button" class="item-main" aria-current="${Boolean(state.query && state.query.id === saved.id)}">
        <span class="item-name">${escapeHtml(saved.name)}</span>
        <span class="item-detail">${escapeHtml(saved.operation)} · ${escapeHtml(saved.datasource)}</span></button>`;
    li.querySelector("button").addEventListener("click", () => {
      if (mayLeaveQuery()) openQuery(saved);
    });
    list.appendChild(li);
  }
  $("#queries-empty").hidden = state.queries.length > 0;
}

function fillQueryForm(query, params) {
  state.loading = true;
  try {
    state.query = query;
    $("#q-name").value = query.name || "";
    $("#q-transform").value = query.transform || "";
    $("#q-description").value = query.description || "";
    fillDatasourceSelects();
    if (query.datasource_id) $("#q-datasource").value = query.datasource_id;
    state.query.datasource_id = $("#q-datasource").value || null;
    state.values = new Map();
    for (const [name, value] of Object.entries(query.defaults || {})) {
      state.values.set(name, typeof value === "string" ? { text: value, json: false } : { text: stringify(value), json: true });
    }
    state.placeholders = [];
    editor.setErrors([]);
    editor.setValue(params);
    updatePlaceholders();
    renderValues();
    chooseOperation(query.operation, { quiet: true });
    $("#q-delete").hidden = !query.id;
    $("#q-delete").textContent = "Delete query";
    hideInline($("#query-error"));
  } finally {
    state.loading = false;
  }
  state.dirty = false;
  renderQueryState();
  renderQueries();
}

function newQuery({ datasource_id = null, operation = null, params = "", name = "" } = {}) {
  clearResult();
  fillQueryForm({ id: null, name, datasource_id: datasource_id || state.currentDs, operation, transform: "", description: "", defaults: {} }, params);
}

function openQuery(saved) {
  if (!state.query || state.query.id !== saved.id) clearResult();
  fillQueryForm({ ...saved, defaults: saved.defaults || {} }, saved.params);
  showView("query");
}

// The result belongs to the query it came from: another query starts without one (and a run
// still in flight is not waited for).
function clearResult() {
  cancelRun({ quiet: true });
  state.result = null;
  $("#results").hidden = true;
}

function unsavedChanges() {
  return Boolean(state.query && state.dirty);
}

// Before the form is replaced (a new query, another one): true when there is nothing to lose,
// or the user agrees to lose it.
function mayLeaveQuery() {
  if (!unsavedChanges()) return true;
  const what = state.query.id ? `The query “${state.query.name}” has unsaved changes.` : "This new query is not saved.";
  return window.confirm(`${what}\n\nLeave it and lose the changes? (Cancel keeps editing.)`);
}

function markDirty() {
  if (state.loading || !state.query) return;
  state.dirty = true;
  renderQueryState();
}

function renderQueryState() {
  const badge = $("#q-state");
  const query = state.query;
  if (!query.id) {
    badge.textContent = "unsaved";
    badge.className = "badge warn";
  } else if (state.dirty) {
    badge.textContent = "unsaved changes";
    badge.className = "badge warn";
  } else {
    badge.textContent = "saved";
    badge.className = "badge ok";
  }
  $("#query-heading").textContent = query.id ? query.name : "New query";
}

async function saveQuery() {
  const box = $("#query-error");
  hideInline(box);
  const name = $("#q-name").value.trim();
  if (!name) {
    showInline(box, new Error("Give the query a name to save it."));
    $("#q-name").focus();
    return;
  }
  const datasource = $("#q-datasource").value;
  if (!datasource) {
    showInline(box, new Error("Add a data source first (+ Add in the sidebar): a query runs against one."));
    return;
  }
  if (!state.query.operation) {
    showInline(box, new Error("Choose an operation."));
    $("#q-operation").focus();
    return;
  }
  let defaults;
  try {
    defaults = placeholderValues();
  } catch (error) {
    showInline(box, error);
    return;
  }
  const body = {
    name,
    datasource,
    operation: state.query.operation,
    params: editor.value,
    transform: $("#q-transform").value.trim(),
    description: $("#q-description").value.trim(),
    defaults,
  };
  let saved;
  try {
    saved = state.query.id ? await put(`/api/queries/${q(state.query.id)}`, body) : await post("/api/queries", body);
  } catch (error) {
    queryError(error);
    return;
  }
  const values = state.values;
  fillQueryForm(saved, saved.params);
  // keep what was typed in the parameters form (empty fields included)
  for (const [key, entry] of values) if (!state.values.has(key) || entry.text === "") state.values.set(key, entry);
  renderValues();
  await guard(loadQueries);
  toast(`Saved the query “${saved.name}”.`);
}

let deleteArmed = null;
async function deleteQuery() {
  const button = $("#q-delete");
  if (!state.query.id) return;
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
  const name = state.query.name;
  const done = await guard(async () => {
    await del(`/api/queries/${q(state.query.id)}`);
    return true;
  }, $("#query-error"));
  if (!done) return;
  newQuery();
  await guard(loadQueries);
  toast(`Deleted the query “${name}”.`);
}

function queryError(error) {
  if (error instanceof ApiError && error.status === 401) return;
  showInline($("#query-error"), error);
  if (error instanceof ApiError && (error.body.line || error.problems.length)) {
    markErrors(error.body);
    const first = error.body.line || (error.problems.find((p) => p.line) || {}).line;
    if (first) editor.reveal(first, error.body.column || 1);
  }
}

// ---------------------------------------------------------------------------------------------
// running and results

// The key attributes of tables (for the order of the result's columns), by data source.
const tableKeys = new Map();

function rememberKeys(datasource, detail) {
  tableKeys.set(`${datasource}\n${detail.name}`, [detail.partition_key.name, detail.sort_key && detail.sort_key.name].filter(Boolean));
}

function keysOf(datasource, table) {
  const key = `${datasource}\n${table}`;
  if (!tableKeys.has(key)) {
    // only to put the key columns first: without DescribeTable the columns keep their order
    const keys = get(`/api/tables/${q(table)}?datasource=${q(datasource)}`)
      .then((detail) => [detail.partition_key.name, detail.sort_key && detail.sort_key.name].filter(Boolean))
      .catch(() => []);
    tableKeys.set(key, keys);
  }
  return tableKeys.get(key);
}

async function orderByKeys(result) {
  if (!result.rows || !result.table || !result.datasource) return;
  const keys = await keysOf(result.datasource, result.table);
  if (state.result !== result || !keys.length) return;
  result.keys = keys;
  result.columns = columnsOf(result.rows, keys);
  renderResult();
}

function runRequest() {
  const datasource = $("#q-datasource").value;
  if (!datasource) throw new Error("Add a data source first (+ Add in the sidebar): a query runs against one.");
  if (!state.query.operation) throw new Error("Choose an operation.");
  const values = placeholderValues();
  const allPages = $("#q-all-pages").checked;
  const label = state.query.id && !state.dirty ? state.query.name : "";
  const table = (/"TableName"\s*:\s*"([^"\\{}]+)"/.exec(editor.value) || [])[1];
  const context = { label, table, datasource };
  if (state.query.id && !state.dirty) {
    const body = { all_pages: allPages };
    if (Object.keys(values).length) body.values = values;
    return { path: `/api/queries/${q(state.query.id)}/run`, body, ...context };
  }
  const body = { datasource, operation: state.query.operation, params: editor.value, all_pages: allPages };
  if (Object.keys(values).length) body.values = values;
  const transform = $("#q-transform").value.trim();
  if (transform) body.transform = transform;
  return { path: "/api/run", body, ...context };
}

// The run in flight: its AbortController (Cancel run, a new query or another one stop it).
let running = null;

function setRunning(on) {
  state.running = on;
  $("#q-run").disabled = on;
  $("#q-run").textContent = on ? "Running…" : "Run";
  $("#q-cancel").hidden = !on;
  $("#load-more").disabled = on;
  $("#results").setAttribute("aria-busy", String(on));
}

// Stop waiting for the run at once. The server may still finish a request DynamoDB already has.
function cancelRun({ quiet = false } = {}) {
  if (!running) return;
  const controller = running;
  running = null;
  controller.abort();
  setRunning(false);
  if (!quiet) {
    showInline($("#query-error"), new Error(
      "Cancelled. The page stopped waiting; a request that had already reached DynamoDB may still " +
      "complete (the History shows how it ended)."));
  }
}

async function run({ more = false } = {}) {
  if (state.running) return;
  const box = $("#query-error");
  hideInline(box);
  let request;
  try {
    if (more) {
      request = { ...state.result.request, body: { ...state.result.request.body, starting_token: state.result.meta.next_token } };
    } else {
      request = runRequest();
    }
  } catch (error) {
    showInline(box, error);
    return;
  }
  const controller = (running = new AbortController());
  const options = { signal: controller.signal };
  setRunning(true);
  let answer;
  try {
    try {
      answer = await post(request.path, request.body, options);
    } catch (error) {
      // 428: the operation deletes data or changes a table (the server decides which): ask first.
      if (!(error instanceof ApiError && error.status === 428) || running !== controller) throw error;
      if (!window.confirm(`${error.body.question || error.message}\n\nIt deletes data or changes a table.`)) {
        showInline(box, new Error("Not run."));
        return;
      }
      answer = await post(request.path, { ...request.body, confirm: true }, options);
    }
  } catch (error) {
    if (running !== controller) return; // cancelled: cancelRun said so
    queryError(error);
    if (state.view === "history") guard(loadHistory);
    return;
  } finally {
    if (running === controller) {
      running = null;
      setRunning(false);
    }
  }
  if (controller.signal.aborted) return;
  if (more) appendResult(answer);
  else showResult(answer, request);
  if (state.view === "history") guard(loadHistory);
}

function showResult(answer, request) {
  const rows = rowsOf(answer.data, answer.meta);
  state.result = {
    request: { path: request.path, body: { ...request.body } },
    label: request.label || request.body.operation || state.query.operation,
    table: request.table,
    datasource: request.datasource,
    keys: [],
    data: answer.data,
    meta: answer.meta,
    raws: [answer.raw],
    metas: [answer.meta],
    complete: answer.complete,
    rows,
    columns: rows ? columnsOf(rows) : [],
    sort: null,
  };
  delete state.result.request.body.starting_token;
  if (!rows && !(answer.meta && answer.meta.summary) && state.resultView === "table") state.resultView = "json";
  if (rows && state.resultView === "json") state.resultView = "table";
  renderResult();
  orderByKeys(state.result);
}

function appendResult(answer) {
  const result = state.result;
  result.data = joinData(result.data, answer.data);
  result.meta = answer.meta;
  result.raws.push(answer.raw);
  result.metas.push(answer.meta);
  result.complete = answer.complete;
  const rows = rowsOf(answer.data, answer.meta);
  if (rows) {
    result.rows = (result.rows || []).concat(rows);
    result.columns = columnsOf(result.rows, result.keys);
  }
  renderResult();
}

function formatDuration(ms) {
  const value = Number(ms);
  if (!Number.isFinite(value)) return "";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 1 : 0)} ms`;
}

function renderResult() {
  const result = state.result;
  $("#results").hidden = false;
  const meta = result.meta || {};
  const pages = result.raws.length;
  // over every page loaded here
  const total = (key) => (result.metas.every((m) => m[key] === undefined) ? undefined : result.metas.reduce((sum, m) => sum + Number(m[key] || 0), 0));
  const duration = total("duration_ms");
  const scanned = total("scanned_count");
  const retries = total("retries");
  const parts = [];
  if (result.rows) parts.push(`${result.rows.length} row${result.rows.length === 1 ? "" : "s"}`);
  if (duration !== undefined) parts.push(formatDuration(duration));
  if (scanned !== undefined) parts.push(`scanned ${scanned}`);
  if (retries) parts.push(`${retries} retr${retries === 1 ? "y" : "ies"}`);
  if (pages > 1) parts.push(`${pages} pages`);
  if (!result.complete) parts.push(`incomplete: ${meta.unprocessed ?? "some"} unprocessed`);
  $("#result-summary").innerHTML = `<strong>${escapeHtml(result.label || "")}</strong> ${escapeHtml(parts.join(" · "))}`;
  $("#result-summary").classList.toggle("warn", !result.complete);
  // what a write did (its data alone is {} unless ReturnValues asked for the item)
  $("#result-what").textContent = meta.summary ? `${meta.summary}.` : "";
  $("#result-what").hidden = !meta.summary;

  const table = $("#result-table");
  if (result.rows) {
    renderTable(table, result.columns, result.rows, result.sort, (sort) => {
      result.sort = sort;
      renderResult();
    });
    const count = document.createElement("p");
    count.className = "hint";
    count.dataset.testid = "result-count";
    count.textContent = `${result.rows.length} row${result.rows.length === 1 ? "" : "s"}, ${result.columns.length} column${result.columns.length === 1 ? "" : "s"}`;
    table.prepend(count);
  } else {
    table.innerHTML = meta.summary
      ? '<p class="empty">No item came back: DynamoDB returns the item of a write only when ReturnValues asks for it.</p>'
      : '<p class="empty">This result is not a list of items: see the JSON view.</p>';
  }
  $("#result-json").innerHTML = highlight(stringify(result.data, 2));
  $("#result-raw").innerHTML = highlight(stringify(pages === 1 ? result.raws[0] : result.raws, 2));
  renderMeta(meta, pages);
  $("#export-csv").disabled = !result.rows;
  $("#export-csv").title = result.rows ? "" : "Only a list of items exports as CSV";
  $("#load-more").hidden = !meta.next_token;
  $("#result-pages").textContent = pages > 1 ? `${pages} pages loaded` : meta.next_token ? "There is more: Load more reads the next page." : "";
  showResultView(state.resultView);
}

function renderMeta(meta, pages) {
  const labels = {
    summary: "What happened",
    operation: "Operation",
    duration_ms: "Duration",
    count: "Count",
    scanned_count: "Scanned",
    consumed_capacity: "Consumed capacity",
    retries: "Retries",
    pages: "Pages read",
    next_token: "Next token",
    transform: "Transformation",
    unprocessed: "Unprocessed requests",
  };
  const rows = [];
  const seen = new Set();
  const add = (key, value) => {
    seen.add(key);
    if (value === undefined) return;
    let shown;
    if (key === "duration_ms") shown = formatDuration(value);
    else if (value !== null && typeof value === "object") shown = stringify(value, 2);
    else shown = String(value);
    rows.push(`<div class="meta-row" data-testid="meta-${escapeHtml(key)}"><dt>${escapeHtml(labels[key] || key)}</dt><dd><code>${escapeHtml(shown)}</code></dd></div>`);
  };
  for (const key of Object.keys(labels)) add(key, meta[key]);
  for (const key of Object.keys(meta)) if (!seen.has(key)) add(key, meta[key]);
  // `complete` (the API's) is about batches only: more pages are meta.next_token
  const row = (id, label, text) =>
    rows.push(`<div class="meta-row" data-testid="meta-${id}"><dt>${escapeHtml(label)}</dt><dd>${escapeHtml(text)}</dd></div>`);
  const op = state.operations.find((o) => o.name === meta.operation);
  if (meta.next_token) row("more-pages", "More pages", "yes (Load more)");
  else if (op && op.paginated) row("more-pages", "More pages", "no");
  if (meta.batch_requests !== undefined || meta.unprocessed !== undefined) {
    row("batch", "Batch", state.result.complete
      ? "every request processed"
      : `${meta.unprocessed} request${meta.unprocessed === 1 ? "" : "s"} left unprocessed after retrying (listed in the data: UnprocessedItems / UnprocessedKeys)`);
  }
  const note = pages > 1 ? `<p class="hint">The meta of the last of the ${pages} pages loaded with "Load more".</p>` : "";
  $("#result-meta").innerHTML = `${note}<dl class="meta">${rows.join("")}</dl>`;
}

function showResultView(view) {
  state.resultView = view;
  for (const tab of $$("#results [data-rview]")) {
    const selected = tab.dataset.rview === view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`#${tab.getAttribute("aria-controls")}`).hidden = !selected;
  }
}

function exportName(extension) {
  const base = (state.result.label || "result").replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-|-$/g, "") || "result";
  const stamp = new Date().toISOString().replace(/[:]/g, "-").replace(/\..*$/, "");
  return `${base}-${stamp}.${extension}`;
}

function exportCSV() {
  const result = state.result;
  if (!result || !result.rows) return;
  download(exportName("csv"), toCSV(result.columns, result.rows), "text/csv;charset=utf-8");
}

function exportJSON() {
  const result = state.result;
  if (!result) return;
  download(exportName("json"), stringify(result.data, 2) + "\n", "application/json");
}

// ---------------------------------------------------------------------------------------------
// the table browser

async function loadTables() {
  const datasource = $("#t-datasource").value;
  state.tables = { datasource, names: [], detail: null };
  const list = $("#t-list");
  if (!datasource) {
    list.innerHTML = '<li class="empty">Add a data source first.</li>';
    return;
  }
  list.innerHTML = '<li class="empty">Loading…</li>';
  $("#t-detail").innerHTML = '<p class="empty">Pick a table to see its keys and indexes.</p>';
  let answer;
  try {
    answer = await get(`/api/tables?datasource=${q(datasource)}`);
  } catch (error) {
    list.innerHTML = "";
    throw error;
  }
  if ($("#t-datasource").value !== datasource) return;
  state.tables.names = answer.tables;
  renderTableList();
}

function renderTableList() {
  const filter = $("#t-filter").value.trim().toLowerCase();
  const list = $("#t-list");
  const names = state.tables.names.filter((n) => n.toLowerCase().includes(filter));
  list.innerHTML = names.length ? "" : `<li class="empty">${state.tables.names.length ? "No table matches." : "No tables."}</li>`;
  for (const name of names) {
    const li = document.createElement("li");
    li.innerHTML = `<button type="button" class="item-main" data-testid="t-item" data-name="${escapeHtml(name)}"
      aria-current="${Boolean(state.tables.detail && state.tables.detail.name === name)}"><span class="item-name">${escapeHtml(name)}</span></button>`;
    li.querySelector("button").addEventListener("click", () => guard(() => loadTable(name)));
    list.appendChild(li);
  }
}

async function loadTable(name) {
  const datasource = state.tables.datasource;
  $("#t-detail").innerHTML = '<p class="empty">Loading…</p>';
  const detail = await get(`/api/tables/${q(name)}?datasource=${q(datasource)}`);
  state.tables.detail = detail;
  rememberKeys(datasource, detail);
  renderTableList();
  renderTableDetail(detail, datasource);
}

function keyText(key) {
  return key ? `${key.name} (${key.type}: ${TYPES[key.type] || key.type})` : "—";
}

function formatBytes(bytes) {
  const value = Number(bytes);
  if (!Number.isFinite(value)) return "—";
  if (value < 1024) return `${value} B`;
  if (value < 1024 ** 2) return `${(value / 1024).toFixed(1)} KiB`;
  if (value < 1024 ** 3) return `${(value / 1024 ** 2).toFixed(1)} MiB`;
  return `${(value / 1024 ** 3).toFixed(2)} GiB`;
}

function indexTemplate(table, index) {
  const pk = index.partition_key;
  const hole = /^[A-Za-z_][A-Za-z0-9_]*$/.test(pk.name) ? pk.name : "key";
  const value = pk.type === "N" ? `{{ ${hole} }}` : `"{{ ${hole} }}"`;
  return `{\n    "TableName": ${JSON.stringify(table)},\n    "IndexName": ${JSON.stringify(index.name)},\n` +
    `    "KeyConditionExpression": "#pk = :pk",\n    "ExpressionAttributeNames": {"#pk": ${JSON.stringify(pk.name)}},\n` +
    `    "ExpressionAttributeValues": {":pk": ${value}}\n}\n`;
}

function renderTableDetail(detail, datasource) {
  const box = $("#t-detail");
  const indexes = detail.indexes.length
    ? `<table class="grid compact" data-testid="t-indexes"><thead><tr><th scope="col">Index</th><th scope="col">Kind</th>
        <th scope="col">Partition key</th><th scope="col">Sort key</th><th scope="col">Projection</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${detail.indexes
          .map(
            (index, i) => `<tr><th scope="row">${escapeHtml(index.name)}</th><td>${index.kind}</td>
              <td>${escapeHtml(keyText(index.partition_key))}</td><td>${escapeHtml(keyText(index.sort_key))}</td>
              <td>${escapeHtml(index.projection)}</td>
              <td><button type="button" class="small" data-index="${i}" data-testid="t-index-query">Query ${escapeHtml(index.name)}</button></td></tr>`,
          )
          .join("")}</tbody></table>`
    : '<p class="empty">No secondary indexes.</p>';
  box.innerHTML = `
    <h3 data-testid="t-name">${escapeHtml(detail.name)}</h3>
    <dl class="facts">
      <div><dt>Status</dt><dd>${escapeHtml(detail.status || "—")}</dd></div>
      <div><dt>Items</dt><dd>${detail.item_count ?? "—"}</dd></div>
      <div><dt>Size</dt><dd>${formatBytes(detail.size_bytes)}</dd></div>
    </dl>
    <h4>Keys</h4>
    <table class="grid compact" data-testid="t-keys"><tbody>
      <tr><th scope="row">Partition key</th><td data-testid="t-partition-key"><code>${escapeHtml(detail.partition_key.name)}</code></td><td>${escapeHtml(TYPES[detail.partition_key.type] || detail.partition_key.type)}</td></tr>
      <tr><th scope="row">Sort key</th><td data-testid="t-sort-key">${detail.sort_key ? `<code>${escapeHtml(detail.sort_key.name)}</code>` : "—"}</td><td>${detail.sort_key ? escapeHtml(TYPES[detail.sort_key.type] || detail.sort_key.type) : ""}</td></tr>
    </tbody></table>
    <h4>Indexes</h4>
    ${indexes}
    <div class="actions">
      <button type="button" class="primary" data-testid="t-query">Query</button>
      <button type="button" data-testid="t-scan">Scan</button>
      <span class="spacer"></span>
      <span class="hint" id="t-export-label">Export the whole table:</span>
      <button type="button" class="small" data-format="csv" data-testid="t-export-csv" aria-describedby="t-export-label">CSV</button>
      <button type="button" class="small" data-format="jsonl" data-testid="t-export-jsonl" aria-describedby="t-export-label">JSON Lines</button>
      <button type="button" class="small" data-format="json" data-testid="t-export-json" aria-describedby="t-export-label">JSON</button>
    </div>
    <p class="hint" data-testid="t-export-status" role="status" aria-live="polite"></p>`;
  const open = (operation, params) => {
    if (!mayLeaveQuery()) return;
    newQuery({ datasource_id: datasource, operation, params });
    showView("query");
    $("#q-params").focus();
    toast(`A new ${operation} on ${detail.name}: fill in the parameters and run it.`);
  };
  box.querySelector("[data-testid=t-query]").addEventListener("click", () => open("Query", detail.query_template));
  box.querySelector("[data-testid=t-scan]").addEventListener("click", () => open("Scan", detail.scan_template));
  for (const button of box.querySelectorAll("[data-format]")) {
    button.addEventListener("click", () => exportTable(detail.name, datasource, button.dataset.format, box));
  }
  for (const button of box.querySelectorAll("[data-testid=t-index-query]")) {
    button.addEventListener("click", () => open("Query", indexTemplate(detail.name, detail.indexes[Number(button.dataset.index)])));
  }
}

// The whole table, read by the server with a parallel scan, saved by the browser as it arrives
// (through a one-use link: nothing of it is held in the page).
async function exportTable(table, datasource, format, box) {
  const buttons = [...box.querySelectorAll("[data-format]")];
  const status = box.querySelector("[data-testid=t-export-status]");
  buttons.forEach((b) => (b.disabled = true));
  status.textContent = `Exporting ${table}…`;
  try {
    const link = await post(`/api/tables/${q(table)}/export/link?datasource=${q(datasource)}&format=${format}`);
    saveFrom(link.url);
    status.textContent = `Exporting ${table}: the browser saves it as ${table}.${format} as it arrives.`;
  } catch (error) {
    status.textContent = "";
    if (!(error instanceof ApiError && error.status === 401)) showMessage(error);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ---------------------------------------------------------------------------------------------
// history

async function loadHistory() {
  const params = new URLSearchParams({ limit: "200" });
  for (const [key, selector] of [["outcome", "#h-outcome"], ["datasource", "#h-datasource"], ["operation", "#h-operation"], ["since", "#h-since"]]) {
    const value = $(selector).value.trim();
    if (value) params.set(key, value);
  }
  const runs = await get(`/api/history?${params}`);
  $("#h-rows").innerHTML = runs
    .map((r) => {
      const time = new Date(r.started_at);
      const shown = Number.isNaN(time.getTime()) ? r.started_at : time.toLocaleString();
      return `<tr data-testid="history-row" class="outcome-${escapeHtml(r.outcome)}">
        <td><time datetime="${escapeHtml(r.started_at)}" title="${escapeHtml(r.started_at)}">${escapeHtml(shown)}</time></td>
        <td>${r.query ? escapeHtml(r.query) : '<span class="muted">unsaved</span>'}</td>
        <td>${escapeHtml(r.datasource || "")}</td>
        <td>${escapeHtml(r.operation)}</td>
        <td><span class="badge ${r.outcome === "ok" ? "ok" : r.outcome === "error" ? "error" : "warn"}">${escapeHtml(r.outcome)}</span></td>
        <td class="num">${r.item_count ?? ""}</td>
        <td class="num">${r.duration_ms === null || r.duration_ms === undefined ? "" : formatDuration(r.duration_ms)}</td>
        <td class="error-cell" title="${escapeHtml(r.error || "")}">${escapeHtml(r.error || "")}</td></tr>`;
    })
    .join("");
  $("#h-empty").hidden = runs.length > 0;
}

// ---------------------------------------------------------------------------------------------
// views and wiring

function showView(view) {
  state.view = view;
  for (const tab of $$(".views [role=tab]")) {
    const selected = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`#${tab.getAttribute("aria-controls")}`).hidden = !selected;
  }
  if (view === "tables" && state.tables.datasource !== $("#t-datasource").value) guard(loadTables);
  if (view === "history") guard(loadHistory);
}

// Arrow keys move between the tabs of a tablist.
function tabKeys(tablist, activate) {
  tablist.addEventListener("keydown", (event) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const tabs = $$("[role=tab]", tablist);
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    event.preventDefault();
    const next = event.key === "Home" ? 0 : event.key === "End" ? tabs.length - 1 : (at + (event.key === "ArrowRight" ? 1 : -1) + tabs.length) % tabs.length;
    tabs[next].focus();
    activate(tabs[next]);
  });
}

function setUp() {
  $("#regions").innerHTML = REGIONS.map(([code, name]) => `<option value="${code}">${escapeHtml(name)}</option>`).join("");
  $("#message-close").addEventListener("click", hideMessage);
  $("#signin-form").addEventListener("submit", signIn);
  // closing or reloading the tab with unsaved changes: the browser asks first
  window.addEventListener("beforeunload", (event) => {
    if (!unsavedChanges()) return;
    event.preventDefault();
    event.returnValue = "";
  });
  $("#signout").addEventListener("click", signOut);

  for (const tab of $$(".views [role=tab]")) tab.addEventListener("click", () => showView(tab.dataset.view));
  tabKeys($(".views"), (tab) => showView(tab.dataset.view));
  for (const tab of $$("#results [data-rview]")) tab.addEventListener("click", () => showResultView(tab.dataset.rview));
  tabKeys($("#results .subtabs"), (tab) => showResultView(tab.dataset.rview));

  // data sources
  $("#ds-add").addEventListener("click", () => openDatasourceForm(null));
  for (const radio of $$("#ds-form input[name=auth]")) radio.addEventListener("change", showAuthFields);
  $("#ds-form").addEventListener("submit", saveDatasource);
  $("#ds-test").addEventListener("click", testConnection);
  $("#ds-cancel").addEventListener("click", () => $("#ds-dialog").close());
  $("#ds-dialog").addEventListener("close", cancelTest);
  $("#ds-delete").addEventListener("click", askDeleteDatasource);
  $("#ds-delete-yes").addEventListener("click", () => deleteDatasource(false));
  $("#ds-delete-with").addEventListener("click", () => deleteDatasource(true));
  $("#ds-delete-no").addEventListener("click", () => ($("#ds-delete-confirm").hidden = true));
  for (const input of $$("#ds-form input, #ds-form select")) {
    input.addEventListener("input", () => {
      if (!$("#ds-diagnosis").classList.contains("pending")) $("#ds-diagnosis").classList.add("stale");
    });
  }

  // the query manager
  editor = new JsonEditor($("#editor"), {
    onInput: () => {
      updatePlaceholders();
      markDirty();
      scheduleCheck();
    },
    onRun: () => run(),
    onSave: () => saveQuery(),
  });
  setUpPicker();
  $("#query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  $("#q-save").addEventListener("click", saveQuery);
  $("#q-delete").addEventListener("click", deleteQuery);
  $("#q-new").addEventListener("click", () => {
    if (mayLeaveQuery()) newQuery();
  });
  $("#q-new-side").addEventListener("click", () => {
    if (!mayLeaveQuery()) return;
    newQuery();
    showView("query");
    $("#q-name").focus();
  });
  $("#insert-example").addEventListener("click", insertExample);
  $("#q-datasource").addEventListener("change", () => {
    state.query.datasource_id = $("#q-datasource").value;
    markDirty();
  });
  for (const id of ["#q-name", "#q-description"]) $(id).addEventListener("input", markDirty);
  $("#q-transform").addEventListener("input", () => {
    markDirty();
    scheduleCheck();
  });
  $("#query-filter").addEventListener("input", renderQueries);
  for (const element of $$("#query-form input, #query-form select")) {
    element.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        saveQuery();
      }
    });
  }

  // results
  $("#load-more").addEventListener("click", () => run({ more: true }));
  $("#q-cancel").addEventListener("click", () => cancelRun());
  $("#export-csv").addEventListener("click", exportCSV);
  $("#export-json").addEventListener("click", exportJSON);

  // tables
  $("#t-datasource").addEventListener("change", () => guard(loadTables));
  $("#t-refresh").addEventListener("click", () => guard(loadTables));
  $("#t-filter").addEventListener("input", renderTableList);

  // history
  $("#h-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    guard(loadHistory);
  });
  for (const id of ["#h-outcome", "#h-datasource", "#h-since"]) $(id).addEventListener("change", () => guard(loadHistory));
}

start();
