// The result of a run: its summary, the grid of items (grid.js), the JSON, the raw response
// and the meta, "Load more" for the next page, and the exports (CSV, JSON).
//
// For the other views (the item editor, the item actions):
//   currentResult()      {table, datasource, rows, columns} of the result shown, or null
//   selectedRows()       the rows checked in the grid, in the order shown (the same objects as
//                        currentResult().rows)
//   replaceRow(old, new) an item saved: its row shows the new values (selection kept)
//   removeRows(rows)     items deleted: their rows go
//   addRows(rows)        items created: their rows are added at the end
// and two events on document:
//   "dq:open-item" {row, table, datasource}  a row opened (a click on it outside its checkbox
//                                            and expander, or Enter)
//   "dq:selection" {count}                    the selection changed

import { $, $$, selectTab, tabKeys } from "../dom.js";
import { formatDuration, plural } from "../format.js";
import { html, setHtml } from "../html.js";
import { Grid } from "../grid.js";
import { highlight, stringify } from "../json.js";
import { columnsOf, download, joinData, rowsOf, toCSV } from "../rows.js";
import * as state from "../state.js";
import { keysOf } from "../table-keys.js";

let result = null; // the result shown, with every page loaded
let shownView = "table"; // table, json, raw or meta
let grid = null;
let written = {}; // the code views (json, raw) written for the result shown: on demand
const HIGHLIGHT_LIMIT = 300_000; // a longer JSON text is shown without colours

// A run's answer {data, meta, raw, complete}; request: what was sent {path, body, label, table,
// datasource}.
export function showResult(answer, request) {
  const began = performance.now();
  const rows = rowsOf(answer.data, answer.meta);
  const same = result && result.table === request.table && result.datasource === request.datasource;
  const body = { ...request.body };
  delete body.starting_token;
  result = {
    request: { path: request.path, body },
    label: request.label || request.body.operation,
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
  };
  const summary = answer.meta && answer.meta.summary;
  if (!rows && !summary && shownView === "table") shownView = "json";
  if (rows && shownView === "json") shownView = "table";
  render({ keepColumns: same });
  grid.afterPaint(began, "renderMs");
  orderByKeys(result);
}

// The next page of the result shown ("Load more"), added to it.
export function appendResult(answer) {
  const began = performance.now();
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
  render({ keepRows: true });
  grid.afterPaint(began, "renderMs");
}

export function clearResult() {
  result = null;
  $("#results").hidden = true;
  if (grid) grid.setData([], []);
}

// -- for the other views --------------------------------------------------------------------

export function currentResult() {
  if (!result || !result.rows) return null;
  const { table, datasource, rows, columns } = result;
  return { table, datasource, rows, columns };
}

export function selectedRows() {
  return grid && result && result.rows ? grid.selectedRows() : [];
}

export function replaceRow(oldRow, newRow) {
  if (!result || !result.rows || !result.rows.includes(oldRow)) return false;
  const swap = (list) => list.map((row) => (row === oldRow ? newRow : row));
  changeRows(swap, { replaced: [[oldRow, newRow]] });
  return true;
}

export function removeRows(rows) {
  const gone = new Set(rows);
  changeRows((list) => list.filter((row) => !gone.has(row)), { single: true });
}

export function addRows(rows) {
  changeRows((list) => list.concat(rows), { single: false });
}

// An edit of the rows: `change` maps a list of rows to the new list; it is applied to the rows
// and to the result's data where the data holds them (Items, or Item / Attributes alone when
// `single`), so the JSON view and its export follow.
function changeRows(change, { replaced = [], single = true } = {}) {
  if (!result || !result.rows) return;
  result.rows = change(result.rows);
  result.columns = columnsOf(result.rows, result.keys);
  const data = result.data;
  if (Array.isArray(data)) result.data = change(data);
  else if (data && typeof data === "object") {
    if (Array.isArray(data.Items)) data.Items = change(data.Items);
    for (const key of ["Item", "Attributes"]) {
      if (!single || !data[key] || typeof data[key] !== "object") continue;
      const [kept] = change([data[key]]);
      if (kept === undefined) delete data[key];
      else data[key] = kept;
    }
  }
  render({ keepRows: true, replaced });
}

// What "Load more" sends: the same request, from the last page's next token.
export function nextPageRequest() {
  const { path, body } = result.request;
  return { path, body: { ...body, starting_token: result.meta.next_token } };
}

// The key columns first, once the table's description says which they are.
async function orderByKeys(shown) {
  if (!shown.rows || !shown.table || !shown.datasource) return;
  const keys = await keysOf(shown.datasource, shown.table);
  if (result !== shown || !keys.length) return;
  shown.keys = keys;
  shown.columns = columnsOf(shown.rows, keys);
  render({ keepRows: true });
}

// A sum over every page loaded (undefined when no page has it).
function total(key) {
  if (result.metas.every((m) => m[key] === undefined)) return undefined;
  return result.metas.reduce((sum, m) => sum + Number(m[key] || 0), 0);
}

function summaryText() {
  const parts = [];
  const [duration, scanned, retries] = ["duration_ms", "scanned_count", "retries"].map(total);
  const pages = result.raws.length;
  if (result.rows) parts.push(plural(result.rows.length, "row"));
  if (duration !== undefined) parts.push(formatDuration(duration));
  if (scanned !== undefined) parts.push(`scanned ${scanned}`);
  if (retries) parts.push(plural(retries, "retry", "retries"));
  if (pages > 1) parts.push(`${pages} pages`);
  if (!result.complete) parts.push(`incomplete: ${result.meta.unprocessed ?? "some"} unprocessed`);
  return parts.join(" · ");
}

// gridOptions: what the grid keeps (see Grid.setData).
function render(gridOptions = {}) {
  $("#results").hidden = false;
  const meta = result.meta || {};
  const pages = result.raws.length;
  setHtml($("#result-summary"), html`<strong>${result.label || ""}</strong> ${summaryText()}`);
  $("#result-summary").classList.toggle("warn", !result.complete);
  // what a write did (its data alone is {} unless ReturnValues asked for the item)
  $("#result-what").textContent = meta.summary ? `${meta.summary}.` : "";
  $("#result-what").hidden = !meta.summary;
  renderRows(meta, gridOptions);
  written = {};
  renderMeta(meta, pages);
  $("#export-csv").disabled = !result.rows;
  $("#export-csv").title = result.rows ? "" : "Only a list of items exports as CSV";
  $("#load-more").hidden = !meta.next_token;
  const more = meta.next_token ? "There is more: Load more reads the next page." : "";
  $("#result-pages").textContent = pages > 1 ? `${pages} pages loaded` : more;
  showView(shownView);
}

function renderRows(meta, gridOptions) {
  const [count, empty, root] = ["#result-count", "#result-empty", "#result-grid"].map((s) => $(s));
  [count.hidden, root.hidden, empty.hidden] = [!result.rows, !result.rows, !!result.rows];
  if (!result.rows) {
    empty.textContent = meta.summary
      ? "No item came back: DynamoDB returns the item of a write only when ReturnValues " +
        "asks for it."
      : "This result is not a list of items: see the JSON view.";
    grid.setData([], []);
    return;
  }
  grid.setData(result.rows, result.columns, { keys: result.keys, ...gridOptions });
  const [rows, columns] = [
    plural(result.rows.length, "row"),
    plural(result.columns.length, "column"),
  ];
  count.textContent = `${rows}, ${columns}`;
}

// The JSON and raw views are written when first shown: a long result's text takes time.
function writeCode(view) {
  if (!result || written[view]) return;
  written[view] = true;
  const pages = result.raws.length;
  const value = view === "json" ? result.data : pages === 1 ? result.raws[0] : result.raws;
  const text = stringify(value, 2);
  const box = $(`#result-${view}`);
  if (text.length > HIGHLIGHT_LIMIT) box.textContent = text;
  else setHtml(box, highlight(text));
}

const META_LABELS = {
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

function metaValue(key, value) {
  if (key === "duration_ms") return formatDuration(value);
  if (value !== null && typeof value === "object") return stringify(value, 2);
  return String(value);
}

const metaRow = (id, label, content) =>
  html`<div class="meta-row" data-testid="meta-${id}"><dt>${label}</dt><dd>${content}</dd></div>`;

// The meta's entries (the known ones first), and what they mean for pages and batches.
function renderMeta(meta, pages) {
  const keys = [...Object.keys(META_LABELS), ...Object.keys(meta)];
  const rows = [...new Set(keys)]
    .filter((key) => meta[key] !== undefined)
    .map((key) =>
      metaRow(key, META_LABELS[key] || key, html`<code>${metaValue(key, meta[key])}</code>`),
    );
  // `complete` (the API's) is about batches only: more pages are meta.next_token
  const op = state.get("operations").find((o) => o.name === meta.operation);
  if (meta.next_token) rows.push(metaRow("more-pages", "More pages", "yes (Load more)"));
  else if (op && op.paginated) rows.push(metaRow("more-pages", "More pages", "no"));
  if (meta.batch_requests !== undefined || meta.unprocessed !== undefined) {
    const left =
      `${plural(meta.unprocessed, "request")} left unprocessed after retrying ` +
      "(listed in the data: UnprocessedItems / UnprocessedKeys)";
    rows.push(metaRow("batch", "Batch", result.complete ? "every request processed" : left));
  }
  const note =
    pages > 1
      ? html`<p class="hint">
          The meta of the last of the ${pages} pages loaded with "Load more".
        </p>`
      : "";
  setHtml($("#result-meta"), html`${note}<dl class="meta">${rows}</dl>`);
}

function showView(view) {
  shownView = view;
  selectTab($$("#results [data-rview]"), (tab) => tab.dataset.rview === view);
  if (view === "json" || view === "raw") writeCode(view);
  if (view === "table" && result && result.rows) grid.refresh();
}

function openItem(row) {
  const table = row["(table)"] ?? result.table;
  const detail = { row, table, datasource: result.datasource };
  document.dispatchEvent(new CustomEvent("dq:open-item", { detail }));
}

function setUpGrid() {
  setHtml(
    $("#result-table"),
    html`<p id="result-count" class="hint" data-testid="result-count"></p>
      <p id="result-empty" class="empty" hidden></p>
      <div id="result-grid" class="grid-root"></div>`,
  );
  grid = new Grid($("#result-grid"), {
    onOpen: openItem,
    onSelection: (count) =>
      document.dispatchEvent(new CustomEvent("dq:selection", { detail: { count } })),
  });
}

function exportName(extension) {
  const label = (result.label || "result").replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-|-$/g, "");
  const stamp = new Date().toISOString().replace(/[:]/g, "-").replace(/\..*$/, "");
  return `${label || "result"}-${stamp}.${extension}`;
}

function exportCSV() {
  if (!result || !result.rows) return;
  download(exportName("csv"), toCSV(result.columns, result.rows), "text/csv;charset=utf-8");
}

function exportJSON() {
  if (!result) return;
  download(exportName("json"), stringify(result.data, 2) + "\n", "application/json");
}

// loadMore(): runs the query for the next page.
export function setUp({ loadMore }) {
  setUpGrid();
  for (const tab of $$("#results [data-rview]")) {
    tab.addEventListener("click", () => showView(tab.dataset.rview));
  }
  tabKeys($("#results .subtabs"), (tab) => showView(tab.dataset.rview));
  $("#load-more").addEventListener("click", loadMore);
  $("#export-csv").addEventListener("click", exportCSV);
  $("#export-json").addEventListener("click", exportJSON);
  state.subscribe("running", (running) => {
    $("#load-more").disabled = running;
    $("#results").setAttribute("aria-busy", String(running));
  });
}
