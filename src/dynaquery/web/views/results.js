// The result of a run: its summary, the table of items (sortable), the JSON, the raw response
// and the meta, "Load more" for the next page, and the exports (CSV, JSON).

import { $, $$, selectTab, tabKeys } from "../dom.js";
import { formatDuration, plural } from "../format.js";
import { html, setHtml } from "../html.js";
import { highlight, stringify } from "../json.js";
import { columnsOf, download, joinData, renderTable, rowsOf, toCSV } from "../rows.js";
import * as state from "../state.js";
import { keysOf } from "../table-keys.js";

let result = null; // the result shown, with every page loaded
let shownView = "table"; // table, json, raw or meta

// A run's answer {data, meta, raw, complete}; request: what was sent {path, body, label, table,
// datasource}.
export function showResult(answer, request) {
  const rows = rowsOf(answer.data, answer.meta);
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
    sort: null,
  };
  const summary = answer.meta && answer.meta.summary;
  if (!rows && !summary && shownView === "table") shownView = "json";
  if (rows && shownView === "json") shownView = "table";
  render();
  orderByKeys(result);
}

// The next page of the result shown ("Load more"), added to it.
export function appendResult(answer) {
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
  render();
}

export function clearResult() {
  result = null;
  $("#results").hidden = true;
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
  render();
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

function render() {
  $("#results").hidden = false;
  const meta = result.meta || {};
  const pages = result.raws.length;
  setHtml($("#result-summary"), html`<strong>${result.label || ""}</strong> ${summaryText()}`);
  $("#result-summary").classList.toggle("warn", !result.complete);
  // what a write did (its data alone is {} unless ReturnValues asked for the item)
  $("#result-what").textContent = meta.summary ? `${meta.summary}.` : "";
  $("#result-what").hidden = !meta.summary;
  renderRows(meta);
  setHtml($("#result-json"), highlight(stringify(result.data, 2)));
  setHtml($("#result-raw"), highlight(stringify(pages === 1 ? result.raws[0] : result.raws, 2)));
  renderMeta(meta, pages);
  $("#export-csv").disabled = !result.rows;
  $("#export-csv").title = result.rows ? "" : "Only a list of items exports as CSV";
  $("#load-more").hidden = !meta.next_token;
  const more = meta.next_token ? "There is more: Load more reads the next page." : "";
  $("#result-pages").textContent = pages > 1 ? `${pages} pages loaded` : more;
  showView(shownView);
}

function renderRows(meta) {
  const box = $("#result-table");
  if (!result.rows) {
    const why = meta.summary
      ? "No item came back: DynamoDB returns the item of a write only when ReturnValues " +
        "asks for it."
      : "This result is not a list of items: see the JSON view.";
    setHtml(box, html`<p class="empty">${why}</p>`);
    return;
  }
  renderTable(box, result.columns, result.rows, result.sort, (sort) => {
    result.sort = sort;
    render();
  });
  const count = document.createElement("p");
  count.className = "hint";
  count.dataset.testid = "result-count";
  const [rows, columns] = [
    plural(result.rows.length, "row"),
    plural(result.columns.length, "column"),
  ];
  count.textContent = `${rows}, ${columns}`;
  box.prepend(count);
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
