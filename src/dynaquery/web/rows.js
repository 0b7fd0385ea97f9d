// Results as rows and columns, their table, and the exports (CSV, JSON).

import { html, setHtml } from "./html.js";
import { ExactNumber, stringify } from "./json.js";

const isObject = (v) =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof ExactNumber);

// The rows a result shows as a table, or null when it is no list of things.
//   a transformed result that is a list: its objects (or one "value" column for other values);
//   else Items (Query, Scan, ExecuteStatement...), Item (GetItem), Responses (BatchGetItem:
//   {table: [items]}, TransactGetItems: [{Item}]), Attributes (write operations' ReturnValues),
//   TableNames (ListTables), or the first list of objects found at the top level.
export function rowsOf(data, meta = {}) {
  if (Array.isArray(data)) {
    if (data.length && data.every(isObject)) return data;
    return data.map((value) => ({ value }));
  }
  if (!isObject(data)) return meta.transform ? [{ value: data }] : null;
  if (Array.isArray(data.Items))
    return data.Items.map((item) => (isObject(item) ? item : { value: item }));
  if (isObject(data.Item)) return [data.Item];
  if (isObject(data.Responses)) {
    const rows = [];
    for (const [table, items] of Object.entries(data.Responses)) {
      for (const item of items || []) rows.push({ "(table)": table, ...item });
    }
    return rows;
  }
  if (Array.isArray(data.Responses)) {
    return data.Responses.map((r) =>
      isObject(r) && isObject(r.Item) ? r.Item : isObject(r) ? r : { value: r },
    );
  }
  if (isObject(data.Attributes)) return [data.Attributes];
  if (Array.isArray(data.TableNames)) return data.TableNames.map((name) => ({ TableName: name }));
  for (const value of Object.values(data)) {
    if (Array.isArray(value) && value.length && value.every(isObject)) return value;
  }
  return null;
}

// The union of the rows' attributes: `first` (the table's keys) first, then those every row
// has, then the others by first appearance.
export function columnsOf(rows, first = []) {
  const seen = new Map();
  rows.forEach((row) => {
    for (const key of Object.keys(row)) {
      const entry = seen.get(key);
      if (entry) entry.count++;
      else seen.set(key, { count: 1, order: seen.size });
    }
  });
  return [...seen.entries()]
    .sort((a, b) => {
      if (a[0] === "(table)") return -1;
      if (b[0] === "(table)") return 1;
      const [ka, kb] = [first.indexOf(a[0]), first.indexOf(b[0])];
      if (ka >= 0 || kb >= 0) return ka < 0 ? 1 : kb < 0 ? -1 : ka - kb;
      return (b[1].count === rows.length) - (a[1].count === rows.length) || a[1].order - b[1].order;
    })
    .map(([key]) => key);
}

// The text of a cell: strings as they are, exact numbers with every digit, the rest as JSON.
export function cellText(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (value instanceof ExactNumber) return value.text;
  if (value === null || typeof value !== "object") return String(value);
  return stringify(value);
}

function compare(a, b) {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  const numeric = (v) => typeof v === "number" || v instanceof ExactNumber;
  if (numeric(a) && numeric(b)) return Number(a) - Number(b);
  return cellText(a).localeCompare(cellText(b), undefined, { numeric: true });
}

const MAX_ROWS_SHOWN = 2000;

function sortRows(rows, sort) {
  if (!sort) return rows;
  return rows
    .map((row, i) => [row, i])
    .sort((x, y) => compare(x[0][sort.column], y[0][sort.column]) * sort.direction || x[1] - y[1])
    .map(([row]) => row);
}

function headCell(column, sort) {
  const order = sort && sort.column === column ? sort.direction : 0;
  const state = order > 0 ? "ascending" : order < 0 ? "descending" : "none";
  const arrow = order > 0 ? " ▲" : order < 0 ? " ▼" : "";
  return html`<th scope="col" aria-sort="${state}">
    <button type="button" class="sort" data-column="${column}">${column}${arrow}</button>
  </th>`;
}

function kindOf(value) {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (typeof value === "object" && !(value instanceof ExactNumber)) return "json";
  return typeof value === "string" ? "string" : "number";
}

function cell(value) {
  const text = cellText(value);
  const title = text.length > 80 ? text : null;
  const shown = text.length > 300 ? text.slice(0, 300) + "…" : text;
  return title === null
    ? html`<td class="c-${kindOf(value)}">${shown}</td>`
    : html`<td class="c-${kindOf(value)}" title="${title}">${shown}</td>`;
}

// A table of the rows; a click on a column header sorts by it.
export function renderTable(container, columns, rows, sort = null, onSort = () => {}) {
  const shown = sortRows(rows, sort);
  const body = shown.slice(0, MAX_ROWS_SHOWN).map(
    (row, i) =>
      html`<tr data-testid="result-row">
        <th scope="row" class="rownum">${i + 1}</th>
        ${columns.map((column) => cell(row[column]))}
      </tr>`,
  );
  const more =
    shown.length > MAX_ROWS_SHOWN
      ? html`<p class="note">
          Showing the first ${MAX_ROWS_SHOWN} of ${shown.length} rows; the exports have them all.
        </p>`
      : "";
  setHtml(
    container,
    html`<div class="table-scroll">
        <table class="grid" data-testid="result-table">
          <thead>
            <tr>
              <th scope="col" class="rownum">#</th>
              ${columns.map((column) => headCell(column, sort))}
            </tr>
          </thead>
          <tbody>
            ${body}
          </tbody>
        </table>
      </div>
      ${more}`,
  );
  for (const button of container.querySelectorAll("button.sort")) {
    button.addEventListener("click", () => {
      const column = button.dataset.column;
      const direction = sort && sort.column === column ? -sort.direction : 1;
      onSort({ column, direction });
    });
  }
}

function csvField(text) {
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCSV(columns, rows) {
  const lines = [columns.map(csvField).join(",")];
  for (const row of rows) {
    lines.push(columns.map((c) => csvField(row[c] === null ? "" : cellText(row[c]))).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  saveFrom(url, filename);
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// The browser downloads `url` itself, to disk as it arrives; "" keeps the server's file name.
export function saveFrom(url, filename = "") {
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

// Join the data of pages loaded one after another ("Load more").
export function joinData(previous, next) {
  if (Array.isArray(previous) && Array.isArray(next)) return previous.concat(next);
  if (isObject(previous) && isObject(next)) {
    const joined = { ...next };
    for (const key of [
      "Items",
      "TableNames",
      "BackupSummaries",
      "Tags",
      "GlobalTables",
      "Exports",
      "Imports",
    ]) {
      if (Array.isArray(previous[key]) && Array.isArray(next[key]))
        joined[key] = previous[key].concat(next[key]);
    }
    for (const key of ["Count", "ScannedCount"]) {
      if (previous[key] !== undefined && next[key] !== undefined)
        joined[key] = Number(previous[key]) + Number(next[key]);
    }
    return joined;
  }
  return next;
}
