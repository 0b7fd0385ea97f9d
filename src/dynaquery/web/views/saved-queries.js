// The sidebar's saved queries: the list with its filter, "+ New", and opening one.

import { $ } from "../dom.js";
import { html, setHtml } from "../html.js";
import * as state from "../state.js";
import { mayLeaveQuery, newQuery, openQuery } from "./query.js";

function matches(saved, filter) {
  const text = `${saved.name} ${saved.operation} ${saved.datasource} ${saved.description || ""}`;
  return !filter || text.toLowerCase().includes(filter);
}

function listItem(saved) {
  const open = state.get("query");
  const current = Boolean(open && open.id === saved.id);
  return html`<li data-testid="query-item" data-name="${saved.name}" data-id="${saved.id}">
    <button type="button" class="item-main" aria-current="${current}">
      <span class="item-name">${saved.name}</span>
      <span class="item-detail">${saved.operation} · ${saved.datasource}</span>
    </button>
  </li>`;
}

function render() {
  const filter = $("#query-filter").value.trim().toLowerCase();
  const queries = state.get("queries");
  setHtml($("#query-list"), queries.filter((saved) => matches(saved, filter)).map(listItem));
  $("#queries-empty").hidden = queries.length > 0;
}

function onListClick(event) {
  const item = event.target.closest("li[data-id]");
  const saved = item && state.get("queries").find((x) => x.id === item.dataset.id);
  if (saved && mayLeaveQuery()) openQuery(saved);
}

export function setUp() {
  state.subscribe("queries", render);
  state.subscribe("query", render);
  $("#query-filter").addEventListener("input", render);
  $("#query-list").addEventListener("click", onListClick);
  $("#q-new-side").addEventListener("click", () => {
    if (!mayLeaveQuery()) return;
    newQuery();
    state.set("view", "query");
    $("#q-name").focus();
  });
}
