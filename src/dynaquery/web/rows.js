// Results as rows and columns: their text, their order (sorting), the columns' widths, and the
// exports (CSV, JSON). The grid that shows them is grid.js.

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

// The text of a cell as a small preview: a map or list says what it holds.
export function previewText(value) {
  if (Array.isArray(value)) return `[${value.length}] ${stringify(value)}`;
  if (isNested(value)) return `{${Object.keys(value).length}} ${stringify(value)}`;
  return cellText(value);
}

export const isNested = (value) =>
  value !== null && typeof value === "object" && !(value instanceof ExactNumber);

export function kindOf(value) {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (isNested(value)) return "json";
  if (typeof value === "boolean") return "boolean";
  return typeof value === "string" ? "string" : "number";
}

// -- sorting: an array of row indexes, from keys computed once per row -----------------------

const collator = new Intl.Collator(undefined, { numeric: true });
const [NUMBER, TEXT, MISSING] = [0, 1, 2];

function sortKeys(rows, column) {
  const kinds = new Uint8Array(rows.length);
  const numbers = new Float64Array(rows.length);
  const texts = new Array(rows.length);
  rows.forEach((row, i) => {
    const value = row[column];
    if (value === undefined) kinds[i] = MISSING;
    else if (typeof value === "number" || value instanceof ExactNumber) {
      kinds[i] = NUMBER;
      numbers[i] = Number(value);
    } else {
      kinds[i] = TEXT;
      texts[i] = cellText(value);
    }
  });
  return { kinds, numbers, texts, values: rows.map((row) => row[column]) };
}

// Two decimal texts compared exactly (numbers too close for a JS number to tell apart).
function compareDecimals(a, b) {
  const parts = (text) => {
    const [mantissa, exponent = "0"] = String(text).toLowerCase().split("e");
    const negative = mantissa.startsWith("-");
    const [whole, fraction = ""] = mantissa.replace("-", "").split(".");
    const digits = (whole + fraction).replace(/^0+/, "");
    const scale = whole.replace(/^0+/, "").length + Number(exponent);
    return { negative, digits: digits.replace(/0+$/, ""), scale: digits ? scale : -Infinity };
  };
  const [x, y] = [parts(a), parts(b)];
  const sign = x.negative ? -1 : 1;
  if (x.negative !== y.negative) return x.negative ? -1 : 1;
  if (x.scale !== y.scale) return (x.scale < y.scale ? -1 : 1) * sign;
  return (x.digits < y.digits ? -1 : x.digits > y.digits ? 1 : 0) * sign;
}

function compareAt(keys, a, b) {
  const { kinds, numbers, texts, values } = keys;
  if (kinds[a] === NUMBER && kinds[b] === NUMBER) {
    const difference = numbers[a] - numbers[b];
    if (difference || !(values[a] instanceof ExactNumber || values[b] instanceof ExactNumber))
      return difference;
    return compareDecimals(values[a], values[b]);
  }
  if (kinds[a] === TEXT && kinds[b] === TEXT) return collator.compare(texts[a], texts[b]);
  return kinds[a] - kinds[b]; // numbers before text
}

// The rows' indexes in the order of `sort` ({column, direction: 1 | -1}, or null: as they
// came). Rows without the attribute come last either way; equal rows keep their order.
export function sortOrder(rows, sort) {
  const order = Array.from(rows, (_, i) => i);
  if (!sort) return order;
  const keys = sortKeys(rows, sort.column);
  const { kinds } = keys;
  return order.sort((a, b) => {
    const missing = (kinds[a] === MISSING) - (kinds[b] === MISSING);
    return missing || compareAt(keys, a, b) * sort.direction || a - b;
  });
}

// A first width for each column (px), from its name and the text of the first rows.
export function columnWidths(rows, columns, sample = 200) {
  const widths = {};
  for (const column of columns) {
    let longest = column.length + 3;
    for (let i = 0; i < rows.length && i < sample; i++) {
      const value = rows[i][column];
      const length = isNested(value)
        ? Math.min(40, previewText(value).length)
        : cellText(value).length;
      if (length > longest) longest = length;
    }
    widths[column] = Math.round(Math.min(360, Math.max(70, longest * 7.6 + 28)));
  }
  return widths;
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
