// The history of runs, newest first, with the filters of `dynaquery history`.

import { get } from "../api.js";
import { $, fillSelect } from "../dom.js";
import { formatDuration } from "../format.js";
import { html, setHtml } from "../html.js";
import { guard } from "../messages.js";
import * as state from "../state.js";

const FILTERS = [
  ["outcome", "#h-outcome"],
  ["datasource", "#h-datasource"],
  ["operation", "#h-operation"],
  ["since", "#h-since"],
];
const BADGES = { ok: "ok", error: "error" }; // any other outcome: "warn"

export async function loadHistory() {
  const params = new URLSearchParams({ limit: "200" });
  for (const [key, selector] of FILTERS) {
    const value = $(selector).value.trim();
    if (value) params.set(key, value);
  }
  const runs = await get(`/api/history?${params}`);
  setHtml($("#h-rows"), runs.map(historyRow));
  $("#h-empty").hidden = runs.length > 0;
}

function historyRow(run) {
  const time = new Date(run.started_at);
  const shown = Number.isNaN(time.getTime()) ? run.started_at : time.toLocaleString();
  const hasDuration = run.duration_ms !== null && run.duration_ms !== undefined;
  return html`<tr data-testid="history-row" class="outcome-${run.outcome}">
    <td><time datetime="${run.started_at}" title="${run.started_at}">${shown}</time></td>
    <td>${run.query ? run.query : html`<span class="muted">unsaved</span>`}</td>
    <td>${run.datasource || ""}</td>
    <td>${run.operation}</td>
    <td><span class="badge ${BADGES[run.outcome] || "warn"}">${run.outcome}</span></td>
    <td class="num">${run.item_count ?? ""}</td>
    <td class="num">${hasDuration ? formatDuration(run.duration_ms) : ""}</td>
    <td class="error-cell" title="${run.error || ""}">${run.error || ""}</td>
  </tr>`;
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
  state.subscribe("runs", reloadIfShown);
  $("#h-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    guard(loadHistory);
  });
  for (const id of ["#h-outcome", "#h-datasource", "#h-since"]) {
    $(id).addEventListener("change", () => guard(loadHistory));
  }
}
