// The Query and Scan form above the JSON editor: the table or one of its indexes, the partition
// key's value, the sort-key condition, filters, projection, order, limit and consistent read.
// The server makes the request from it (POST /api/tables/{name}/request: the expressions, with
// #name and :value aliases); the form writes it into the editor, where the JSON stays the request
// that runs and is saved. The form only writes once it is changed.

import { ApiError, get, post, q } from "../api.js";
import { $, $$ } from "../dom.js";
import { html, setHtml } from "../html.js";
import { errorText, isUnauthorized } from "../messages.js";
import * as state from "../state.js";
import { currentOperation, paramsText, setParams } from "./query.js";

const TYPE_LABELS = { S: "string", N: "number", B: "binary", BOOL: "boolean", NULL: "null" };
const FORMS = new Set(["Query", "Scan"]);
const WAIT = 300; // ms after the last keystroke before the request is made anew

let choices = null; // GET /api/request-form: operators, how many values each takes, types
let root = null;
// The query the form belongs to, its operation and data source, the tables there, the table
// (its description from GET /api/tables/{name}), and whether the form is shown or folded.
let shown = {
  tab: null,
  query: null,
  operation: null,
  datasource: null,
  tables: [],
  table: null,
  detail: null,
  open: true,
};
let fields = blank();
let touched = false; // changed by the user: the form writes the request
let written = null; // the text it wrote last
let problems = []; // the last answer's problems [{path, message}]
let pending = null; // what the next query opened gets (the table browser's Explore)
let timer = null;
let builds = 0; // answers to requests older than the newest are dropped
let loads = 0;
let starting = false; // a query opened: the form starts on it once the query view has filled it
let asked = null; // the choices, asked for

function blank() {
  return {
    index: "",
    partition_key: "",
    sort: { operator: "", values: ["", ""] },
    filters: [],
    projection: "",
    descending: false,
    limit: "",
    consistent_read: false,
  };
}

// The next query opened (by the table browser) is on `table`, its form filled with `values`,
// its request `text` (what the form would write).
export function prepareNext({ table, values = {}, text = null }) {
  pending = { table, values, text };
}

// -- what the form is on --------------------------------------------------------------------

const arity = (operator) => (choices && choices.arity[operator]) || "1";
const gsi = () => Boolean(index() && index().kind === "global");

function index() {
  if (!shown.detail || !fields.index) return null;
  return shown.detail.indexes.find((i) => i.name === fields.index) || null;
}

// The keys read: the index's, or the table's.
const keys = () => index() || shown.detail;

// The table a request names, to start the form on (only a guess: the form is not reading the
// JSON, which stays as it is until the form is changed).
const tableNamed = (text) => (/"TableName"\s*:\s*"([^"\\{}]+)"/.exec(text) || [])[1] || null;

// -- the form as HTML -----------------------------------------------------------------------

const options = (items, label = (x) => x) =>
  items.map((item) => html`<option value="${item}">${label(item)}</option>`);

function head() {
  const what = shown.operation === "Query" ? "Query" : "Scan";
  return html`<div class="rf-head">
    <h3 id="rf-heading">${what} form</h3>
    <span class="hint">The server writes the request into the JSON below; the JSON is what runs
      and is saved.</span>
    <button
      type="button"
      class="small"
      data-action="toggle"
      data-testid="rf-toggle"
      aria-expanded="${shown.open}"
    >
      ${shown.open ? "JSON only" : "Show the form"}
    </button>
  </div>`;
}

function indexLabel(item) {
  const keyNames = (k) => [k.partition_key.name, k.sort_key && k.sort_key.name].filter(Boolean);
  if (!item) return `the table (${keyNames(shown.detail).join(", ")})`;
  return `${item.name}: ${item.kind} index (${keyNames(item).join(", ")})`;
}

function tableRow() {
  const detail = shown.detail;
  const indexes = detail ? detail.indexes : [];
  return html`<div class="row">
    <div class="field grow">
      <label for="rf-table">Table</label>
      <select id="rf-table" data-field="table" data-testid="rf-table">
        <option value="">${shown.tables.length ? "pick a table" : "no table"}</option>
        ${options(shown.tables)}
      </select>
    </div>
    <div class="field grow">
      <label for="rf-index">Read from</label>
      <select id="rf-index" data-field="index" data-path="index" data-testid="rf-index">
        ${detail ? html`<option value="">${indexLabel(null)}</option>` : ""}
        ${indexes.map((i) => html`<option value="${i.name}">${indexLabel(i)}</option>`)}
      </select>
    </div>
  </div>`;
}

function valueInput(field, path, type, label, testid) {
  const hint = { N: "a number", B: "base64", S: "text" }[type] || "";
  return html`<input
    data-field="${field}"
    data-path="${path}"
    data-testid="${testid}"
    aria-label="${label}"
    placeholder="${hint}"
    spellcheck="false"
  />`;
}

function keyRows() {
  const k = keys();
  if (!k) return "";
  const pk = k.partition_key;
  const sk = k.sort_key;
  const count = fields.sort.operator ? (arity(fields.sort.operator) === "2" ? 2 : 1) : 0;
  const sortValues = [0, 1]
    .slice(0, count)
    .map((i) =>
      valueInput(
        `sort.values.${i}`,
        `sort_key.values[${i}]`,
        sk.type,
        `${sk.name}, value ${i + 1}`,
        `rf-sk-value-${i}`,
      ),
    );
  return html`<div class="row">
    <div class="field grow">
      <label for="rf-pk">Partition key <code>${pk.name}</code>
        <span class="hint">(${TYPE_LABELS[pk.type] || pk.type})</span></label>
      <input id="rf-pk" data-field="partition_key" data-path="partition_key" data-testid="rf-pk"
        spellcheck="false" />
    </div>
    ${
      sk
        ? html`<div class="field grow">
          <label for="rf-sk-op">Sort key <code>${sk.name}</code>
            <span class="hint">(${TYPE_LABELS[sk.type] || sk.type})</span></label>
          <div class="rf-inline">
            <select id="rf-sk-op" data-field="sort.operator" data-path="sort_key.operator"
              data-testid="rf-sk-op">
              <option value="">any</option>
              ${options(choices.sort_key_operators)}
            </select>
            ${sortValues}
          </div>
        </div>`
        : ""
    }
  </div>`;
}

function filterValues(filter, i) {
  const where = `filters.${i}`;
  const path = `filters[${i}]`;
  if (filter.operator === "attribute_type") {
    return html`<select data-field="${where}.values.0" data-path="${path}.values"
      aria-label="Filter ${i + 1}: type" data-testid="rf-filter-value">
      ${options(choices.type_names)}
    </select>`;
  }
  const operator = filter.operator === "size" ? filter.comparison : filter.operator;
  const kind = arity(operator);
  if (kind === "0" || filter.type === "NULL") return "";
  const count = kind === "2" ? 2 : kind === "many" ? filter.values.length || 1 : 1;
  const type = filter.operator === "size" ? "N" : filter.type;
  const inputs = Array.from({ length: count }, (_, j) =>
    valueInput(
      `${where}.values.${j}`,
      `${path}.values[${j}]`,
      type,
      `Filter ${i + 1}: value ${j + 1}`,
      "rf-filter-value",
    ),
  );
  const more =
    kind === "many"
      ? html`<button type="button" class="small" data-action="add-value" data-i="${i}"
          data-testid="rf-filter-more">+ value</button>`
      : "";
  return html`${inputs}${more}`;
}

function filterRow(filter, i) {
  const where = `filters.${i}`;
  const typed = !["size", "attribute_type"].includes(filter.operator);
  return html`<div class="rf-filter" data-testid="rf-filter">
    <input data-field="${where}.attribute" data-path="filters[${i}].attribute"
      aria-label="Filter ${i + 1}: attribute" placeholder="attribute" spellcheck="false"
      data-testid="rf-filter-attribute" />
    <select data-field="${where}.operator" data-path="filters[${i}].operator"
      aria-label="Filter ${i + 1}: operator" data-testid="rf-filter-operator">
      ${options(choices.filter_operators)}
    </select>
    ${
      filter.operator === "size"
        ? html`<select data-field="${where}.comparison" data-path="filters[${i}].comparison"
          aria-label="Filter ${i + 1}: size comparison" data-testid="rf-filter-comparison">
          ${options(choices.size_comparisons)}
        </select>`
        : ""
    }
    ${filterValues(filter, i)}
    ${
      typed && arity(filter.operator) !== "0"
        ? html`<select data-field="${where}.type" data-path="filters[${i}].type"
          aria-label="Filter ${i + 1}: type of the value" data-testid="rf-filter-type">
          ${options(choices.value_types, (t) => TYPE_LABELS[t] || t)}
        </select>`
        : ""
    }
    <button type="button" class="small" data-action="remove-filter" data-i="${i}"
      aria-label="Remove filter ${i + 1}" data-testid="rf-filter-remove">×</button>
  </div>`;
}

function optionsRow() {
  const query = shown.operation === "Query";
  const consistent = gsi()
    ? html`<span class="hint" data-testid="rf-no-consistent">A global index is not read
        consistently.</span>`
    : html`<label class="check"><input type="checkbox" data-field="consistent_read"
        data-path="consistent_read" data-testid="rf-consistent"> Consistent read</label>`;
  return html`<div class="row">
    <div class="field grow">
      <label for="rf-projection">Attributes to read <span class="hint">(names, with commas;
        empty: all)</span></label>
      <input id="rf-projection" data-field="projection" data-path="projection"
        data-testid="rf-projection" spellcheck="false" />
    </div>
    <div class="field">
      <label for="rf-limit">Limit <span class="hint">(per page)</span></label>
      <input id="rf-limit" type="number" min="1" step="1" data-field="limit" data-path="limit"
        data-testid="rf-limit" />
    </div>
    <div class="field end rf-checks">
      ${
        query
          ? html`<label class="check"><input type="checkbox" data-field="descending"
            data-path="descending" data-testid="rf-descending"> Descending</label>`
          : ""
      }
      ${consistent}
    </div>
  </div>`;
}

function body() {
  if (!shown.datasource) return html`<p class="empty">Pick a data source first.</p>`;
  if (!shown.detail) return html`${tableRow()}<p class="empty">Pick a table.</p>`;
  return html`${tableRow()} ${shown.operation === "Query" ? keyRows() : ""}
    <fieldset class="rf-filters">
      <legend>Filters <span class="hint">(all must hold; applied after the read)</span></legend>
      ${fields.filters.map(filterRow)}
      <button type="button" class="small" data-action="add-filter" data-testid="rf-add-filter">
        + Filter
      </button>
    </fieldset>
    ${optionsRow()}`;
}

function render() {
  if (!choices) return;
  const focused = document.activeElement && root.contains(document.activeElement);
  const field = focused ? document.activeElement.dataset.field : null;
  setHtml(
    root,
    html`${head()}
      <div class="rf-body" data-testid="rf-body">
        ${body()}
        <pre class="inline-error" role="alert" data-testid="rf-error" hidden></pre>
        <p class="hint" data-testid="rf-note" aria-live="polite"></p>
      </div>`,
  );
  $(".rf-body", root).hidden = !shown.open;
  fill();
  markProblems();
  note();
  if (field) {
    const again = $(`[data-field="${CSS.escape(field)}"]`, root);
    if (again) again.focus();
  }
}

// -- the form's values ----------------------------------------------------------------------

function read(path) {
  if (path === "table") return shown.table || "";
  return path.split(".").reduce((value, key) => (value == null ? "" : value[key]), fields);
}

function write(path, value) {
  const parts = path.split(".");
  const last = parts.pop();
  parts.reduce((value, key) => value[key], fields)[last] = value;
}

function fill() {
  for (const element of $$("[data-field]", root)) {
    const value = read(element.dataset.field);
    if (element.type === "checkbox") element.checked = Boolean(value);
    else element.value = value ?? "";
  }
}

// -- the request, from the server -----------------------------------------------------------

function valuesFor(operator, values) {
  const kind = arity(operator);
  if (kind === "0") return [];
  if (kind === "2") return values.slice(0, 2);
  if (kind === "many") return values.filter((v, i) => i === 0 || v !== "");
  return values.slice(0, 1);
}

function filterBody(filter) {
  const operator = filter.operator === "size" ? filter.comparison : filter.operator;
  return {
    attribute: filter.attribute.trim(),
    operator: filter.operator,
    values: filter.type === "NULL" ? [] : valuesFor(operator, filter.values),
    type: filter.operator === "size" ? "N" : filter.type,
    comparison: filter.operator === "size" ? filter.comparison : null,
  };
}

function requestBody() {
  const query = shown.operation === "Query";
  const body = {
    operation: shown.operation,
    index: fields.index || null,
    filters: fields.filters.map(filterBody),
    projection: fields.projection,
    descending: query && fields.descending,
    consistent_read: !gsi() && fields.consistent_read,
  };
  if (String(fields.limit).trim() !== "") body.limit = String(fields.limit).trim();
  if (query) {
    body.partition_key = fields.partition_key;
    const { operator, values } = fields.sort;
    if (operator && keys().sort_key)
      body.sort_key = { operator, values: valuesFor(operator, values) };
  }
  return body;
}

function schedule(wait = WAIT) {
  clearTimeout(timer);
  timer = setTimeout(build, wait);
}

async function build() {
  clearTimeout(timer);
  if (!touched || !shown.detail || !FORMS.has(shown.operation)) return;
  const mine = ++builds;
  const path = `/api/tables/${q(shown.table)}/request?datasource=${q(shown.datasource)}`;
  let answer;
  try {
    answer = await post(path, requestBody());
  } catch (error) {
    if (mine === builds && !isUnauthorized(error)) showProblems(error);
    return;
  }
  if (mine !== builds || !shown.detail) return;
  showProblems(null);
  writeRequest(answer.params);
}

// The request into the editor (which takes the focus to do it undoably: it is given back).
function writeRequest(text) {
  written = text;
  if (paramsText() === text) return note();
  const active = document.activeElement;
  const field = active && root.contains(active) ? active : null;
  const selection =
    field && field.type === "text" ? [field.selectionStart, field.selectionEnd] : null;
  setParams(text);
  if (field) {
    field.focus();
    if (selection) field.setSelectionRange(...selection);
  }
  note();
}

function showProblems(error) {
  problems = error instanceof ApiError ? error.problems : [];
  const box = $("[data-testid=rf-error]", root);
  if (box) {
    box.textContent = error ? errorText(error) : "";
    box.hidden = !error;
  }
  markProblems();
}

// The fields a problem's path names (its values, for "filters[0].values") are marked invalid.
function markProblems() {
  const paths = problems.map((p) => p.path);
  for (const element of $$("[data-path]", root)) {
    const own = element.dataset.path;
    const bad = paths.some((p) => own === p || own.startsWith(`${p}[`) || own.startsWith(`${p}.`));
    element.setAttribute("aria-invalid", String(bad));
  }
}

function note() {
  const box = $("[data-testid=rf-note]", root);
  if (!box) return;
  const edited = written !== null && paramsText() !== written;
  box.textContent = edited
    ? "The JSON was edited since the form wrote it: a change in the form writes it anew " +
      "(Ctrl+Z in the editor takes that back)."
    : "";
}

// -- the tables ------------------------------------------------------------------------------

async function loadTables(datasource, table) {
  const mine = ++loads;
  shown = { ...shown, datasource, tables: [], table, detail: null };
  render();
  if (!datasource) return;
  try {
    const answer = await get(`/api/tables?datasource=${q(datasource)}`);
    if (mine !== loads) return;
    shown.tables = answer.tables;
    if (!shown.tables.includes(table)) shown.table = null;
    await loadDetail(mine);
  } catch (error) {
    if (mine === loads && !isUnauthorized(error)) showProblems(error);
  }
}

async function loadDetail(mine = ++loads) {
  shown.detail = null;
  if (shown.table) {
    const path = `/api/tables/${q(shown.table)}?datasource=${q(shown.datasource)}`;
    const detail = await get(path);
    if (mine !== loads) return;
    shown.detail = detail;
    if (!index()) fields.index = "";
  }
  render();
}

async function changeTable(name) {
  shown.table = name || null;
  fields = {
    ...blank(),
    filters: fields.filters,
    projection: fields.projection,
    limit: fields.limit,
  };
  const mine = ++loads;
  try {
    await loadDetail(mine);
  } catch (error) {
    if (mine === loads && !isUnauthorized(error)) showProblems(error);
    return;
  }
  schedule(0);
}

// -- following the query --------------------------------------------------------------------

// The query tab shown (views/query-tabs.js), whose form is kept while another is shown.
function tabShown() {
  try {
    return state.get("tab");
  } catch {
    return null; // a page without tabs: one form
  }
}

const kept = new Map(); // tab id -> {fields, touched, written, table, datasource}

// A query shown (new, saved, another tab): the form of its tab when its request is still the one
// that form wrote (a query saved from the form keeps it too); else a new form on the table its
// request names.
function start() {
  const query = state.get("query");
  kept.set(shown.tab, {
    fields,
    touched,
    written,
    table: shown.table,
    datasource: shown.datasource,
  });
  shown.tab = tabShown();
  shown.query = query;
  shown.operation = currentOperation();
  const text = paramsText();
  const before = kept.get(shown.tab);
  if (before && before.written !== null && before.written === text) {
    ({ fields, touched, written } = before);
    problems = [];
    if (before.table === shown.table && before.datasource === query.datasource_id) render();
    else loadTables(query.datasource_id, before.table);
    return;
  }
  const next = pending;
  pending = null;
  fields = { ...blank(), ...(next ? next.values : {}) };
  touched = false;
  written = next ? next.text : null;
  problems = [];
  loadTables(query.datasource_id, next ? next.table : tableNamed(text));
}

// The form's choices, asked once (signed in: the first query is opened after the sign-in).
function askChoices() {
  asked = get("/api/request-form").then(
    (answer) => {
      choices = answer;
      shown.query = null; // start on the query shown
      sync();
    },
    () => (asked = null), // asked again with the next change
  );
}

function sync() {
  if (!state.can("edit")) return; // the form writes a request: not for a role that only runs
  const query = state.get("query");
  const operation = currentOperation();
  if (!choices && !asked && query && FORMS.has(operation)) askChoices();
  const on = Boolean(query && FORMS.has(operation) && choices);
  root.hidden = !on;
  if (!on || starting) return;
  if (query !== shown.query) {
    shown.query = query;
    starting = true;
    // after the query view has filled its form (the request's text comes after the query)
    queueMicrotask(() => {
      starting = false;
      start(); // the query shown by then
    });
    return;
  }
  if (query.datasource_id !== shown.datasource) {
    loadTables(query.datasource_id, null);
  } else if (operation !== shown.operation) {
    shown.operation = operation;
    render();
    schedule(0);
  } else {
    note();
  }
}

// -- the user's changes ---------------------------------------------------------------------

function changeIndex(name) {
  const before = keys();
  fields.index = name;
  const after = keys();
  if (before.partition_key.name !== after.partition_key.name) fields.partition_key = "";
  fields.sort = blank().sort;
}

// What changes the form's shape is drawn again; what is typed only makes the request anew.
const RESHAPE = /^(index|sort\.operator|filters\.\d+\.(operator|comparison|type))$/;

function onChange(event) {
  const element = event.target;
  const field = element.dataset && element.dataset.field;
  if (!field) return;
  if ((field === "table" || field === "index") && event.type !== "change") return;
  touched = true;
  const value = element.type === "checkbox" ? element.checked : element.value;
  if (field === "table") return changeTable(value);
  if (field === "index") changeIndex(value);
  else write(field, value);
  const filter = /^filters\.(\d+)\.operator$/.exec(field);
  if (filter && value === "attribute_type") fields.filters[Number(filter[1])].values = ["S"];
  if (RESHAPE.test(field)) {
    if (event.type !== "change") return;
    render();
    schedule(0);
  } else {
    schedule(event.type === "change" ? 0 : WAIT);
  }
}

function onClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const { action, i } = button.dataset;
  if (action === "toggle") {
    shown.open = !shown.open;
    return render();
  }
  touched = true;
  if (action === "add-filter") {
    fields.filters.push({ attribute: "", operator: "=", comparison: ">", type: "S", values: [""] });
  }
  if (action === "remove-filter") fields.filters.splice(Number(i), 1);
  if (action === "add-value") fields.filters[Number(i)].values.push("");
  render();
  if (action === "add-filter") {
    const inputs = $$("[data-testid=rf-filter-attribute]", root);
    inputs[inputs.length - 1].focus();
  } else {
    schedule(0);
  }
}

export function setUp() {
  root = $("#request-form");
  root.addEventListener("input", onChange);
  root.addEventListener("change", onChange);
  root.addEventListener("click", onClick);
  // "query": another query opened; "dirty": its operation, data source or text changed
  state.subscribe("query", sync);
  state.subscribe("dirty", sync);
  $("#q-params").addEventListener("input", note); // the JSON edited by hand
  $("#q-datasource").addEventListener("change", sync); // the tables are the data source's
}
