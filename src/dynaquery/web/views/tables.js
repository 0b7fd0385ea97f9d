// The table browser: a data source's tables, each one explored with a click (a Scan opened in the
// query view and run: its items at once, the request editable, Load more), a table's keys and
// indexes, a Query (also per index) or a Scan to start from, and the whole table as a file.

import { get, post, q } from "../api.js";
import { $, fillSelect } from "../dom.js";
import { datasourceLabel, formatBytes } from "../format.js";
import { html, setHtml } from "../html.js";
import { guard, isUnauthorized, showMessage, toast } from "../messages.js";
import { saveFrom } from "../rows.js";
import * as state from "../state.js";
import { rememberKeys } from "../table-keys.js";
import { mayLeaveQuery, newQuery, run } from "./query.js";
import { prepareNext } from "./request-form.js";

const TYPES = { S: "string", N: "number", B: "binary" };
const PICK = html`<p class="empty">Click a table to see its items, or its “Details” for its keys
  and indexes.</p>`;
const EXPLORE_LIMIT = 25; // items in the first page of an explored table

// The data source whose tables are listed, their names, and the table shown.
let shown = { datasource: null, names: [], detail: null };

async function loadTables() {
  const datasource = $("#t-datasource").value;
  shown = { datasource, names: [], detail: null };
  const list = $("#t-list");
  if (!datasource) {
    setHtml(list, html`<li class="empty">Add a data source first.</li>`);
    return;
  }
  setHtml(list, html`<li class="empty">Loading…</li>`);
  setHtml($("#t-detail"), PICK);
  let answer;
  try {
    answer = await get(`/api/tables?datasource=${q(datasource)}`);
  } catch (error) {
    list.replaceChildren();
    throw error;
  }
  if ($("#t-datasource").value !== datasource) return;
  shown.names = answer.tables;
  renderList();
}

function renderList() {
  const filter = $("#t-filter").value.trim().toLowerCase();
  const names = shown.names.filter((name) => name.toLowerCase().includes(filter));
  const none = shown.names.length ? "No table matches." : "No tables.";
  const current = shown.detail && shown.detail.name;
  const item = (name) =>
    html`<li>
      <button
        type="button"
        class="item-main"
        data-testid="t-item"
        data-name="${name}"
        aria-current="${name === current}"
        title="Explore: its items in the query view"
      >
        <span class="item-name">${name}</span>
      </button>
      <button
        type="button"
        class="small"
        data-testid="t-item-details"
        data-name="${name}"
        aria-label="Details of ${name}"
      >
        Details
      </button>
    </li>`;
  setHtml($("#t-list"), names.length ? names.map(item) : html`<li class="empty">${none}</li>`);
}

async function loadTable(name) {
  const datasource = shown.datasource;
  setHtml($("#t-detail"), html`<p class="empty">Loading…</p>`);
  const detail = await get(`/api/tables/${q(name)}?datasource=${q(datasource)}`);
  shown.detail = detail;
  rememberKeys(datasource, detail);
  renderList();
  renderDetail(detail);
  return detail;
}

// A table's items at once: a Scan, made by the Query / Scan form's route, opened in the query
// view and run there (the results, Load more and the editable request are the query view's).
async function explore(name) {
  if (!mayLeaveQuery()) return;
  const datasource = shown.datasource;
  const values = { limit: String(EXPLORE_LIMIT) };
  const where = `/api/tables/${q(name)}/request?datasource=${q(datasource)}`;
  const [detail, request] = await Promise.all([
    loadTable(name),
    post(where, { operation: "Scan", limit: EXPLORE_LIMIT }),
  ]);
  if (shown.datasource !== datasource || detail.name !== name) return;
  prepareNext({ table: name, values, text: request.params });
  newQuery({ datasource_id: datasource, operation: "Scan", params: request.params });
  state.set("view", "query");
  await run();
}

const typeName = (type) => TYPES[type] || type;
const keyText = (key) => (key ? `${key.name} (${key.type}: ${typeName(key.type)})` : "—");

function indexTable(indexes) {
  if (!indexes.length) return html`<p class="empty">No secondary indexes.</p>`;
  const row = (index, i) => html`<tr>
    <th scope="row">${index.name}</th>
    <td>${index.kind}</td>
    <td>${keyText(index.partition_key)}</td>
    <td>${keyText(index.sort_key)}</td>
    <td>${index.projection}</td>
    <td>
      <button type="button" class="small" data-index="${i}" data-testid="t-index-query">
        Query ${index.name}
      </button>
    </td>
  </tr>`;
  return html`<table class="grid compact" data-testid="t-indexes">
    <thead>
      <tr>
        <th scope="col">Index</th>
        <th scope="col">Kind</th>
        <th scope="col">Partition key</th>
        <th scope="col">Sort key</th>
        <th scope="col">Projection</th>
        <th scope="col"><span class="sr-only">Actions</span></th>
      </tr>
    </thead>
    <tbody>
      ${indexes.map(row)}
    </tbody>
  </table>`;
}

function keysTable(detail) {
  const { partition_key: pk, sort_key: sk } = detail;
  return html`<table class="grid compact" data-testid="t-keys">
    <tbody>
      <tr>
        <th scope="row">Partition key</th>
        <td data-testid="t-partition-key"><code>${pk.name}</code></td>
        <td>${typeName(pk.type)}</td>
      </tr>
      <tr>
        <th scope="row">Sort key</th>
        <td data-testid="t-sort-key">${sk ? html`<code>${sk.name}</code>` : "—"}</td>
        <td>${sk ? typeName(sk.type) : ""}</td>
      </tr>
    </tbody>
  </table>`;
}

const EXPORTS = html`<span class="hint" id="t-export-label">Export the whole table:</span>
  ${[
    ["csv", "CSV"],
    ["jsonl", "JSON Lines"],
    ["json", "JSON"],
    ["parquet", "Parquet"],
  ].map(
    ([format, label]) =>
      html`<button
        type="button"
        class="small"
        data-format="${format}"
        data-testid="t-export-${format}"
        aria-describedby="t-export-label"
      >
        ${label}
      </button>`,
  )}`;

function renderDetail(detail) {
  setHtml(
    $("#t-detail"),
    html`<h3 data-testid="t-name">${detail.name}</h3>
      <dl class="facts">
        <div><dt>Status</dt><dd>${detail.status || "—"}</dd></div>
        <div><dt>Items</dt><dd>${detail.item_count ?? "—"}</dd></div>
        <div><dt>Size</dt><dd>${formatBytes(detail.size_bytes)}</dd></div>
      </dl>
      <h4>Keys</h4>
      ${keysTable(detail)}
      <h4>Indexes</h4>
      ${indexTable(detail.indexes)}
      <div class="actions">
        <button type="button" class="primary" data-testid="t-explore">Explore</button>
        <button type="button" data-testid="t-query">Query</button>
        <button type="button" data-testid="t-scan">Scan</button>
        <span class="spacer"></span>
        ${EXPORTS}
      </div>
      <p class="hint" data-testid="t-export-status" role="status" aria-live="polite"></p>`,
  );
}

// A new query in the query manager (after asking about unsaved changes there).
function startQuery(operation, params) {
  if (!mayLeaveQuery()) return;
  newQuery({ datasource_id: shown.datasource, operation, params });
  state.set("view", "query");
  $("#q-params").focus();
  toast(`A new ${operation} on ${shown.detail.name}: fill in the parameters and run it.`);
}

// The whole table, read by the server with a parallel scan, saved by the browser as it arrives
// (through a one-use link: nothing of it is held in the page).
async function exportTable(format) {
  const { name } = shown.detail;
  const box = $("#t-detail");
  const buttons = [...box.querySelectorAll("[data-format]")];
  const status = box.querySelector("[data-testid=t-export-status]");
  buttons.forEach((b) => (b.disabled = true));
  status.textContent = `Exporting ${name}…`;
  try {
    const where = `datasource=${q(shown.datasource)}&format=${format}`;
    const link = await post(`/api/tables/${q(name)}/export/link?${where}`);
    saveFrom(link.url);
    const file = `${name}.${format}`;
    status.textContent = `Exporting ${name}: the browser saves it as ${file} as it arrives.`;
  } catch (error) {
    status.textContent = "";
    if (!isUnauthorized(error)) showMessage(error);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function onDetailClick(event) {
  const button = event.target.closest("button");
  const detail = shown.detail;
  if (!button || !detail) return;
  const { testid, index, format } = button.dataset;
  if (testid === "t-explore") guard(() => explore(detail.name));
  if (testid === "t-query") startQuery("Query", detail.query_template);
  if (testid === "t-scan") startQuery("Scan", detail.scan_template);
  if (testid === "t-index-query") {
    startQuery("Query", detail.index_query_templates[detail.indexes[Number(index)].name]);
  }
  if (format) exportTable(format);
}

function fillDatasources() {
  const items = state.get("datasources").map((d) => [d.id, datasourceLabel(d)]);
  fillSelect($("#t-datasource"), items, {
    value: shown.datasource || state.get("currentDs") || "",
  });
}

// Shown, or its data source changed while shown: list the tables again.
function refreshIfShown() {
  if (state.get("view") === "tables" && shown.datasource !== $("#t-datasource").value) {
    guard(loadTables);
  }
}

export function setUp() {
  state.subscribe("datasources", fillDatasources);
  state.subscribe("currentDs", (id) => {
    if (id) $("#t-datasource").value = id;
    refreshIfShown();
  });
  state.subscribe("view", refreshIfShown);
  $("#t-datasource").addEventListener("change", () => guard(loadTables));
  $("#t-refresh").addEventListener("click", () => guard(loadTables));
  $("#t-filter").addEventListener("input", renderList);
  $("#t-list").addEventListener("click", (event) => {
    const button = event.target.closest("[data-testid=t-item], [data-testid=t-item-details]");
    if (!button) return;
    const { name, testid } = button.dataset;
    guard(() => (testid === "t-item" ? explore(name) : loadTable(name)));
  });
  $("#t-detail").addEventListener("click", onDetailClick);
}
