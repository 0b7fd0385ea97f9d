// The item editor: one item of a table in a <dialog>, read fresh by its key, shown as JSON (plain,
// or typed DynamoDB JSON: sets, binary and numbers exact) or as a form of its top-level
// attributes. Save writes only what changed, on the condition that the item is still what was
// loaded; a conflict shows both versions. Also: a new item, a duplicate, deleting items.
// Every conversion is the server's (PUT /api/tables/{name}/item takes the text as written).
//
// The results grid (views/results.js) opens an item with the document event "dq:open-item"
// {row, table, datasource} and tells the selection with "dq:selection" {count}; its rows follow
// the saves and deletes (replaceRow, addRows, removeRows).

import { ApiError, get, post, put, q } from "../api.js";
import { $, $$ } from "../dom.js";
import { html, setHtml } from "../html.js";
import { parseExact, stringify } from "../json.js";
import { errorText, showMessage, toast } from "../messages.js";
import * as state from "../state.js";
import * as results from "./results.js";

const TYPES = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "M", "L"];
const SETS = ["SS", "NS", "BS"];

// The item open: {mode: "edit"|"create", table, datasource, readOnly, schema: [{name, type}],
// loaded: {typed, plain} | null, like: typed item duplicated | null, view: plain|typed|form,
// edited: whether the shown text changed since it was filled}
let open = null;
let lastView = "plain"; // the view the editor opens in: the one used last
const described = new Map(); // "datasource\ntable" -> a promise of the key schema

// -- what the server says about a table and a data source ------------------------------------

function keySchema(datasource, table) {
  const id = `${datasource}\n${table}`;
  if (!described.has(id)) {
    const path = `/api/tables/${q(table)}?datasource=${q(datasource)}`;
    const promise = get(path).then((d) => [d.partition_key, d.sort_key].filter(Boolean));
    promise.catch(() => described.delete(id));
    described.set(id, promise);
  }
  return described.get(id);
}

function isReadOnly(datasource) {
  const ds = state.get("datasources").find((d) => d.id === datasource || d.name === datasource);
  return Boolean(ds && ds.read_only);
}

// A row of the grid (plain values) as the typed key of its item, with the table's key types.
function keyOf(row, schema) {
  const key = {};
  for (const { name, type } of schema) {
    if (row[name] === undefined || row[name] === null) return null;
    key[name] = { [type]: type === "N" ? String(row[name]) : row[name] };
  }
  return key;
}

// -- opening ---------------------------------------------------------------------------------

// Open the item of a grid's row: {row, table, datasource} (the row is updated after a save).
export async function openItem({ row, table, datasource }) {
  if (!mayLeave()) return;
  try {
    if (!table)
      throw new Error(
        "This result does not say its table: open items from a Query, a Scan or a GetItem.",
      );
    const schema = await keySchema(datasource, table);
    const key = keyOf(row, schema);
    if (!key) throw new Error(`This row has no key (${schema.map((k) => k.name).join(", ")}).`);
    const path = `/api/tables/${q(table)}/item?datasource=${q(datasource)}&key=${q(stringify(key))}`;
    const loaded = await get(path);
    show({ mode: "edit", table, datasource, schema, loaded, like: null, row });
  } catch (error) {
    showMessage(error);
  }
}

// A new item of `table`: its key attributes to fill in (or, with `like`, a copy of an item).
export async function newItem({ table, datasource, like = null }) {
  if (!mayLeave()) return;
  try {
    const schema = await keySchema(datasource, table);
    const copy = { mode: "create", table, datasource, schema, loaded: like, row: null };
    show({ ...copy, like: like && like.typed });
  } catch (error) {
    showMessage(error);
  }
}

function show(item) {
  open = { ...item, readOnly: isReadOnly(item.datasource), view: lastView };
  const dialog = $("#item-editor");
  $("#ie-title").textContent = titleOf(open);
  $("#ie-where").textContent = `table ${open.table}`;
  $("#ie-readonly").hidden = !open.readOnly;
  $("#ie-save").hidden = open.readOnly;
  $("#ie-delete").hidden = open.readOnly || open.mode !== "edit";
  $("#ie-duplicate").hidden = open.readOnly || open.mode !== "edit";
  $("#ie-json").readOnly = open.readOnly;
  hideConflict();
  fill();
  if (!dialog.open) dialog.showModal();
}

function titleOf(item) {
  if (item.mode === "edit") return item.readOnly ? "Item (read-only)" : "Edit item";
  return item.like ? "Duplicate item: give it a new key" : "New item";
}

// -- the views -------------------------------------------------------------------------------

// A new item's starting point: its key attributes, typed or plain as the view is.
function skeleton(typed) {
  const start = { S: "", N: 0, B: "" };
  return Object.fromEntries(
    open.schema.map(({ name, type }) => [
      name,
      typed ? { [type]: type === "N" ? "0" : "" } : start[type],
    ]),
  );
}

// The item with its key attributes first, the others in the order DynamoDB gave them.
function keysFirst(item) {
  const names = open.schema.map((k) => k.name).filter((name) => name in item);
  return Object.fromEntries([...names, ...Object.keys(item)].map((name) => [name, item[name]]));
}

// Fill the shown view from the loaded item (nothing edited yet).
function fill() {
  const { view, loaded } = open;
  $("#ie-form").addEventListener("change", (event) => {
    if (event.target.classList.contains("ie-type")) retype(event.target);
  });
  for (const tab of $$("#item-editor [data-ieview]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.ieview === view));
  }
  $("#ie-json").hidden = view === "form";
  $("#ie-form").hidden = view !== "form";
  if (view === "form") {
    renderForm(loaded ? keysFirst(loaded.typed) : skeleton(true), loaded && loaded.plain);
  } else {
    const typed = view === "typed";
    const value = loaded ? (typed ? loaded.typed : loaded.plain) : skeleton(typed);
    $("#ie-json").value = stringify(keysFirst(value), 2);
  }
  open.edited = false;
  hideError();
}

function switchView(view) {
  if (!open || view === open.view) return;
  if (open.edited && !window.confirm("Switch the view and drop the changes made in this one?")) {
    return;
  }
  open.view = lastView = view;
  fill();
}

// One row of the form: a top-level attribute, its type and its value as text.
function formValue(type, typedValue, plainValue) {
  if (SETS.includes(type)) return typedValue.join("\n");
  if (type === "M" || type === "L") return stringify(plainValue, 2);
  if (type === "NULL") return "";
  return String(typedValue);
}

function formRow(name, type, value) {
  const options = TYPES.map((t) => html`<option value="${t}">${t}</option>`);
  const multiline = [...SETS, "M", "L"].includes(type);
  const field = multiline
    ? html`<textarea class="ie-value" rows="3" spellcheck="false">${value}</textarea>`
    : html`<input class="ie-value" value="${value}" spellcheck="false" />`;
  return html`<div class="ie-row" data-testid="item-form-row">
    <input class="ie-name" value="${name}" aria-label="Attribute name" spellcheck="false" />
    <select class="ie-type" aria-label="Type">${options}</select>
    ${field}
    <button type="button" class="small ie-remove" aria-label="Remove ${name}">×</button>
  </div>`;
}

function renderForm(typed, plain) {
  const rows = Object.entries(typed).map(([name, av]) => {
    const [type, value] = Object.entries(av)[0];
    return formRow(name, type, formValue(type, value, plain ? plain[name] : undefined));
  });
  const add = open.readOnly
    ? ""
    : html`<button type="button" class="small" id="ie-add">Add attribute</button>`;
  setHtml($("#ie-form"), html`${rows}${add}`);
  const types = Object.values(typed).map((av) => Object.keys(av)[0]);
  $$("#ie-form .ie-type").forEach((select, i) => (select.value = types[i]));
  for (const input of $$("#ie-form input, #ie-form textarea, #ie-form select")) {
    input.disabled = open.readOnly;
  }
}

// The form as the "form" view sends it: {name: {type: value}}, a map's or list's inside plain.
function formItem() {
  const item = {};
  for (const row of $$("#ie-form .ie-row")) {
    const name = $(".ie-name", row).value;
    const type = $(".ie-type", row).value;
    const text = $(".ie-value", row).value;
    if (!name) continue;
    if (SETS.includes(type)) item[name] = { [type]: text.split("\n").filter((l) => l !== "") };
    else if (type === "M" || type === "L") item[name] = { [type]: parseValue(name, text) };
    else if (type === "BOOL") item[name] = { BOOL: text.trim() === "true" };
    else if (type === "NULL") item[name] = { NULL: true };
    else item[name] = { [type]: text };
  }
  return stringify(item);
}

function parseValue(name, text) {
  try {
    return parseExact(text);
  } catch (error) {
    throw new Error(`${name}: not JSON (${error.message}).`);
  }
}

// A row whose type changed: a text area for sets, maps and lists, a line for the rest.
function retype(select) {
  const row = select.closest(".ie-row");
  const value = $(".ie-value", row).value;
  const box = document.createElement("div");
  setHtml(box, formRow($(".ie-name", row).value, select.value, value));
  $(".ie-value", row).replaceWith($(".ie-value", box));
}

function addFormRow() {
  const box = document.createElement("div");
  setHtml(box, formRow("", "S", ""));
  $("#ie-add").before(box.firstElementChild);
  open.edited = true;
}

// -- saving ----------------------------------------------------------------------------------

function editedText() {
  return open.view === "form" ? formItem() : $("#ie-json").value;
}

async function save() {
  hideError();
  hideConflict();
  const base = `/api/tables/${q(open.table)}`;
  try {
    const body = { datasource: open.datasource, item: editedText(), view: open.view };
    const saved =
      open.mode === "edit"
        ? await put(`${base}/item`, { ...body, loaded: open.loaded.typed })
        : await post(`${base}/items`, { ...body, like: open.like });
    toast(open.mode === "edit" ? "Item saved." : "Item created.");
    const row = gridSaved(saved, open.mode !== "edit");
    show({ ...open, mode: "edit", loaded: saved, like: null, row });
  } catch (error) {
    if (error instanceof ApiError && error.status === 409 && "current" in error.body) {
      showConflict(error.body);
    } else showError(error);
  }
}

function keyFromTyped(typed) {
  return Object.fromEntries(open.schema.map(({ name }) => [name, typed[name]]));
}

// -- a conflict: the item as it is now, and the edited one -----------------------------------

function versionText(version) {
  if (!version) return "(no item: it was deleted)";
  return stringify(keysFirst(open.view === "typed" ? version.typed : version.plain), 2);
}

// A typed value as text to compare (a set's order does not matter).
function comparable(av) {
  if (av === undefined) return "";
  const [type, value] = Object.entries(av)[0];
  return stringify(SETS.includes(type) ? { [type]: [...value].map(String).sort() } : av);
}

// The attributes whose values differ between the two versions.
function differing(a, b) {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return names.filter((name) => comparable(a[name]) !== comparable(b[name]));
}

function conflictButtons(body) {
  const edit = open.mode === "edit";
  const button = (id, testid, label, kind = "") =>
    html`<button type="button" class="${kind}" id="${id}" data-testid="${testid}">${label}</button>`;
  return [
    body.current && edit
      ? button("ie-overwrite", "item-overwrite", "Save mine over it", "danger")
      : "",
    !body.current && edit ? button("ie-recreate", "item-recreate", "Save mine as a new item") : "",
    body.current ? button("ie-take", "item-take-current", "Take the current one") : "",
  ];
}

function showConflict(body) {
  open.conflict = body;
  const names = body.current && body.yours ? differing(body.current.typed, body.yours.typed) : [];
  const differ = names.length
    ? html`<p data-testid="item-conflict-differ">Differing: ${names.map((n) => html`<code>${n}</code> `)}</p>`
    : "";
  setHtml(
    $("#ie-conflict"),
    html`<p class="ie-conflict-text">${body.message}</p>
      ${differ}
      <div class="ie-versions">
        <div>
          <h3>Current (in the table)</h3>
          <pre data-testid="item-conflict-current">${versionText(body.current)}</pre>
        </div>
        <div>
          <h3>Yours</h3>
          <pre data-testid="item-conflict-yours">${versionText(body.yours)}</pre>
        </div>
      </div>
      <div class="actions">${conflictButtons(body)}</div>`,
  );
  $("#ie-conflict").hidden = false;
  const actions = {
    "ie-overwrite": overwriteCurrent,
    "ie-recreate": recreate,
    "ie-take": takeCurrent,
  };
  for (const [id, action] of Object.entries(actions)) {
    const found = document.getElementById(id);
    if (found) found.addEventListener("click", action);
  }
}

function hideConflict() {
  $("#ie-conflict").hidden = true;
  if (open) open.conflict = null;
}

// Save the edit again, knowingly, over the version now in the table.
function overwriteCurrent() {
  open.loaded = open.conflict.current;
  save();
}

// The item is gone: the edit becomes a new item under the same key.
function recreate() {
  open.like = open.loaded.typed;
  open.mode = "create";
  save();
}

function takeCurrent() {
  show({ ...open, mode: "edit", loaded: open.conflict.current, like: null });
}

// -- deleting --------------------------------------------------------------------------------

// Delete items by key (typed); the server asks first (428), as for any destructive run.
async function deleteKeys(table, datasource, keys) {
  const path = `/api/tables/${q(table)}/items/delete`;
  const body = { datasource, keys };
  try {
    return await post(path, body);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 428)) throw error;
    const what = keys.length === 1 ? "this item" : `these ${keys.length} items`;
    const question = `${error.body.question}\n\nIt deletes ${what} from table ${table}.`;
    if (!window.confirm(question)) return null;
    return post(path, { ...body, confirm: true });
  }
}

async function deleteOpen() {
  hideError();
  const key = keyFromTyped(open.loaded.typed);
  try {
    const answer = await deleteKeys(open.table, open.datasource, [key]);
    if (!answer) return;
    toast("Item deleted.");
    gridDeleted([open.row], { table: open.table, datasource: open.datasource, keys: [key] });
    close();
  } catch (error) {
    showError(error);
  }
}

// Delete the rows selected in the grid.
export async function deleteRows(rows, { table, datasource }) {
  try {
    const schema = await keySchema(datasource, table);
    const keys = rows.map((row) => keyOf(row, schema));
    if (keys.some((key) => !key))
      throw new Error("A selected row has no key: it cannot be deleted.");
    const answer = await deleteKeys(table, datasource, keys);
    if (!answer) return;
    const left = answer.unprocessed ? `, ${answer.unprocessed} left unprocessed` : "";
    toast(`${answer.deleted} item${answer.deleted === 1 ? "" : "s"} deleted${left}.`);
    // which ones are left is not told row by row: the grid keeps them all then (run it again)
    gridDeleted(answer.unprocessed ? [] : rows, { table, datasource, keys });
  } catch (error) {
    showMessage(error);
  }
}

// -- the grid ----------------------------------------------------------------------------------

// What the grid shows: its table and data source, and the rows selected.
function shownResult() {
  const shown = results.currentResult();
  return shown && shown.table && shown.datasource ? shown : null;
}

const selected = () => results.selectedRows();

// The grid's row of a saved item: its plain values (and the table, for a row that names it).
function rowOf(plain, old) {
  return old && "(table)" in old ? { "(table)": old["(table)"], ...plain } : plain;
}

// Show a saved item in the grid: its row replaced, or added when it is new and the grid shows
// its table. Told to any other view with the event "dq:item-saved" {table, datasource, row}.
function gridSaved(saved, created) {
  const row = rowOf(saved.plain, open.row);
  if (open.row && !created) results.replaceRow(open.row, row);
  const shown = shownResult();
  if (created && shown && shown.table === open.table && shown.datasource === open.datasource) {
    results.addRows([row]);
  }
  const detail = { table: open.table, datasource: open.datasource, row };
  document.dispatchEvent(new CustomEvent("dq:item-saved", { detail }));
  return row;
}

// Deleted rows leave the grid ("dq:items-deleted" {table, datasource, keys}).
function gridDeleted(rows, detail) {
  const known = rows.filter(Boolean);
  if (known.length) results.removeRows(known);
  document.dispatchEvent(new CustomEvent("dq:items-deleted", { detail }));
}

function renderActions() {
  const shown = shownResult();
  const box = $("#item-actions");
  if (!shown || !state.can("edit")) {
    setHtml(box, "");
    return;
  }
  const count = selected().length;
  const readOnly = isReadOnly(shown.datasource);
  const why = readOnly ? "The data source is read-only" : "";
  setHtml(
    box,
    html`<button type="button" class="small" id="item-new" data-testid="item-new">New item</button>
      <button type="button" class="small" id="item-duplicate" data-testid="item-duplicate">
        Duplicate
      </button>
      <button type="button" class="small danger" id="item-delete" data-testid="item-delete">
        Delete selected${count ? ` (${count})` : ""}
      </button>`,
  );
  $("#item-new").disabled = readOnly;
  $("#item-duplicate").disabled = readOnly || count !== 1;
  $("#item-delete").disabled = readOnly || count === 0;
  for (const button of $$("button", box)) button.title = why;
}

async function duplicateSelected() {
  const shown = shownResult();
  const [row] = selected();
  if (!shown || !row) return;
  try {
    const schema = await keySchema(shown.datasource, shown.table);
    const key = keyOf(row, schema);
    const path = `/api/tables/${q(shown.table)}/item?datasource=${q(shown.datasource)}&key=${q(stringify(key))}`;
    newItem({ table: shown.table, datasource: shown.datasource, like: await get(path) });
  } catch (error) {
    showMessage(error);
  }
}

function onActions(event) {
  const shown = shownResult();
  if (!shown) return;
  const id = event.target.closest("button") && event.target.closest("button").id;
  if (id === "item-new") newItem({ table: shown.table, datasource: shown.datasource });
  if (id === "item-duplicate") duplicateSelected();
  if (id === "item-delete") deleteRows(selected(), shown);
}

// -- the dialog --------------------------------------------------------------------------------

function showError(error) {
  const box = $("#ie-error");
  box.textContent = errorText(error);
  box.hidden = false;
}

function hideError() {
  $("#ie-error").hidden = true;
}

// Leaving with changes not saved asks first.
function mayLeave() {
  return !open || !open.edited || window.confirm("Close the item and drop the changes not saved?");
}

function close() {
  const dialog = $("#item-editor");
  if (dialog.open) dialog.close();
  open = null;
}

function duplicateOpen() {
  newItem({ table: open.table, datasource: open.datasource, like: open.loaded });
}

const DIALOG = html`<dialog
  id="item-editor"
  class="item-editor"
  aria-labelledby="ie-title"
  data-testid="item-editor"
>
  <form method="dialog" id="ie-form-element">
    <header class="ie-head">
      <h2 id="ie-title">Item</h2>
      <span id="ie-where" class="summary"></span>
      <span class="spacer"></span>
      <div class="subtabs" role="tablist" aria-label="View">
        <button type="button" role="tab" data-ieview="plain" data-testid="item-view-plain">JSON</button>
        <button type="button" role="tab" data-ieview="typed" data-testid="item-view-typed">
          Typed JSON
        </button>
        <button type="button" role="tab" data-ieview="form" data-testid="item-view-form">Form</button>
      </div>
    </header>
    <p id="ie-readonly" class="hint" data-testid="item-readonly" hidden>
      The data source is read-only: the item can be read, not changed.
    </p>
    <textarea id="ie-json" class="ie-json" spellcheck="false" data-testid="item-json"></textarea>
    <div id="ie-form" class="ie-form" data-testid="item-form" hidden></div>
    <pre id="ie-error" class="inline-error" role="alert" data-testid="item-error" hidden></pre>
    <section id="ie-conflict" class="ie-conflict" data-testid="item-conflict" hidden></section>
    <div class="actions">
      <button type="button" id="ie-save" class="primary" data-testid="item-save">Save</button>
      <button type="button" id="ie-cancel" data-testid="item-close">Close</button>
      <span class="spacer"></span>
      <button type="button" id="ie-duplicate" data-testid="item-duplicate-open">Duplicate</button>
      <button type="button" id="ie-delete" class="danger" data-testid="item-delete-open">
        Delete
      </button>
    </div>
  </form>
</dialog>`;

export function setUp() {
  setHtml($("#item-editor-root"), DIALOG);
  $("#ie-save").addEventListener("click", save);
  $("#ie-cancel").addEventListener("click", () => mayLeave() && close());
  $("#item-editor").addEventListener("cancel", (event) => mayLeave() || event.preventDefault());
  $("#ie-delete").addEventListener("click", deleteOpen);
  $("#ie-duplicate").addEventListener("click", duplicateOpen);
  $("#ie-json").addEventListener("input", () => open && (open.edited = true));
  $("#ie-form").addEventListener("input", () => open && (open.edited = true));
  $("#ie-form").addEventListener("click", (event) => {
    if (event.target.id === "ie-add") addFormRow();
    else if (event.target.classList.contains("ie-remove")) {
      event.target.closest(".ie-row").remove();
      open.edited = true;
    }
  });
  $("#ie-form").addEventListener("change", (event) => {
    if (event.target.classList.contains("ie-type")) retype(event.target);
  });
  for (const tab of $$("#item-editor [data-ieview]")) {
    tab.addEventListener("click", () => switchView(tab.dataset.ieview));
  }
  $("#item-editor").addEventListener("close", () => (open = null));
  $("#item-actions").addEventListener("click", onActions);
  // a role that only runs saved queries reads their result, not the table's items
  document.addEventListener("dq:open-item", (event) => state.can("edit") && openItem(event.detail));
  document.addEventListener("dq:selection", renderActions);
  // a run has ended: its result is shown right after (in the same task)
  state.subscribe("runs", () => queueMicrotask(renderActions));
  state.subscribe("datasources", renderActions);
}
