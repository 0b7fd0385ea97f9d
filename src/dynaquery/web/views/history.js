// The history of runs, newest first, with the filters of `dynaquery history`. A row opens its
// query again in a tab, or runs it again: a saved query's run, or a run this page sent (the
// history keeps no parameters, so a run from elsewhere cannot be opened). A write whose data
// source keeps a journal can be undone (POST /api/history/{id}/undo).

import { get, post } from "../api.js";
import { $, fillSelect } from "../dom.js";
import { formatDuration } from "../format.js";
import { html, setHtml } from "../html.js";
import { stringify } from "../json.js";
import { guard, showMessage, toast } from "../messages.js";
import * as state from "../state.js";
import { tableOf } from "./autocomplete.js";
import { newQuery, openQuery, run } from "./query.js";

const FILTERS = [
  ["outcome", "#h-outcome"],
  ["datasource", "#h-datasource"],
  ["operation", "#h-operation"],
  ["since", "#h-since"],
];
const BADGES = { ok: "ok", error: "error" }; // any other outcome: "warn"
const NOT_KEPT =
  "The history keeps no parameters: only runs of saved queries, and this page's own runs, " +
  "open again.";

// What the undo button says of a write, by its journal state (GET /api/history's `journal`).
const UNDO_TITLES = {
  undoable: "Put its items back as they were before it, each only if unchanged since",
  keys: "Its data source kept no journal of the items (Journal, in the data source's settings)",
  undone: "Undone already",
};

const sent = new Map(); // history id -> a run this page sent (state's lastRun)
let shown = []; // the rows listed

export async function loadHistory() {
  const params = new URLSearchParams({ limit: "200" });
  for (const [key, selector] of FILTERS) {
    const value = $(selector).value.trim();
    if (value) params.set(key, value);
  }
  shown = await get(`/api/history?${params}`);
  setHtml($("#h-rows"), shown.map(historyRow));
  $("#h-empty").hidden = shown.length > 0;
}

// What a row can open: {saved} (a saved query) or {run} (a run of this page), or null.
function source(row) {
  const run = sent.get(row.id);
  const queries = state.get("queries");
  const byId = run && run.queryId && queries.find((x) => x.id === run.queryId);
  const byName = row.query && queries.find((x) => x.name === row.query);
  if (byId || byName) return { saved: byId || byName };
  return run && run.params !== undefined ? { run } : null;
}

// The history says what each run acted on ("table users"); for older rows, the saved query's.
function tableOfRow(row) {
  if (row.target) return row.target.replace(/^tables? /, "");
  const run = sent.get(row.id);
  if (run && run.table) return run.table;
  const found = source(row);
  return found && found.saved ? tableOf(found.saved.params) : "";
}

function actions(row) {
  const can = Boolean(source(row));
  const off = can ? "" : html`disabled`;
  return html`<td class="h-actions">
    <button type="button" class="small" data-act="open" data-testid="h-open" ${off}
      title="${can ? "Open it in a tab" : NOT_KEPT}">Open</button>
    <button type="button" class="small" data-act="rerun" data-testid="h-rerun" ${off}
      title="${can ? "Open it in a tab and run it" : NOT_KEPT}">Run again</button>
    ${row.journal && state.can("edit") ? undoButton(row) : ""}
  </td>`;
}

function undoButton(row) {
  const off = row.journal === "undoable" ? "" : html`disabled`;
  return html`<button type="button" class="small danger" data-act="undo" data-testid="h-undo"
    title="${UNDO_TITLES[row.journal] || ""}" ${off}>${row.journal === "undone" ? "Undone" : "Undo"}</button>`;
}

// Undo a write: asks first; items changed since the run are left alone and shown.
async function undo(row) {
  const what = `Undo run ${row.id} (${row.operation} on ${row.target || row.datasource})?`;
  const question = `${what}\n\nEach item it wrote goes back to what it was before, unless it was changed since.`;
  if (!window.confirm(question)) return;
  const report = await post(`/api/history/${row.id}/undo`, { confirm: true });
  const conflicts = report.conflicts.map(
    (c) =>
      `${c.table} ${stringify(c.key.plain)}: changed since the run, left as it is.\n` +
      `  the run left: ${stringify(c.left && c.left.plain)}\n` +
      `  it is now:    ${stringify(c.now && c.now.plain)}`,
  );
  toast(`Run ${row.id} undone: ${report.restored} item(s) put back.`);
  if (conflicts.length) showMessage(new Error(conflicts.join("\n")));
  state.set("runs", state.get("runs") + 1);
}

function historyRow(run) {
  const time = new Date(run.started_at);
  const shownTime = Number.isNaN(time.getTime()) ? run.started_at : time.toLocaleString();
  const hasDuration = run.duration_ms !== null && run.duration_ms !== undefined;
  const table = tableOfRow(run);
  return html`<tr data-testid="history-row" data-id="${run.id}" class="outcome-${run.outcome}">
    <td><time datetime="${run.started_at}" title="${run.started_at}">${shownTime}</time></td>
    <td>${run.query ? run.query : html`<span class="muted">unsaved</span>`}</td>
    <td>${run.datasource || ""}</td>
    <td>${run.operation}</td>
    <td data-testid="h-table">${table ? html`<code>${table}</code>` : ""}</td>
    <td><span class="badge ${BADGES[run.outcome] || "warn"}">${run.outcome}</span></td>
    <td class="num">${run.item_count ?? ""}</td>
    <td class="num">${hasDuration ? formatDuration(run.duration_ms) : ""}</td>
    <td class="error-cell" title="${run.error || ""}">${run.error || ""}</td>
    ${actions(run)}
  </tr>`;
}

// Open a row's query in a tab (again: and run it).
function reopen(row, again) {
  const found = source(row);
  if (!found) return;
  if (found.saved) openQuery(found.saved);
  else {
    const { datasource, operation, params, values } = found.run;
    newQuery({ datasource_id: datasource, operation, params }, { values });
  }
  state.set("view", "query");
  if (again) run();
}

// The history row of the run the page just sent: the newest one, when it is that run.
async function rememberRun(lastRun) {
  if (!lastRun) return;
  const [newest] = await get("/api/history?limit=1");
  const ds = state.get("datasources").find((d) => d.id === lastRun.datasource);
  const sameDs = !ds || (newest && newest.datasource === ds.name);
  if (!newest || newest.operation !== lastRun.operation || !sameDs) return;
  sent.set(newest.id, lastRun);
  if (shown.some((row) => row.id === newest.id)) setHtml($("#h-rows"), shown.map(historyRow));
}

function reloadIfShown() {
  if (state.get("view") === "history") guard(loadHistory);
}

export function setUp() {
  state.subscribe("datasources", () => {
    const names = state.get("datasources").map((d) => [d.name, d.name]);
    fillSelect($("#h-datasource"), names, { empty: "any" });
  });
  state.subscribe("view", reloadIfShown);
  state.subscribe("lastRun", (lastRun) => guard(() => rememberRun(lastRun)));
  state.subscribe("runs", reloadIfShown);
  $("#h-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    guard(loadHistory);
  });
  for (const id of ["#h-outcome", "#h-datasource", "#h-since"]) {
    $(id).addEventListener("change", () => guard(loadHistory));
  }
  $("#h-rows").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    const row = button && shown.find((r) => String(r.id) === button.closest("tr").dataset.id);
    if (!row) return;
    if (button.dataset.act === "undo") guard(() => undo(row));
    else reopen(row, button.dataset.act === "rerun");
  });
}
