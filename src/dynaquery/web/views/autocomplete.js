// Completion in the parameters' editor: a list at the caret, filtered by what is typed there.
//   a key of the request's top level    the operation's parameters (GET /api/operations/{name})
//   the value of "TableName"            the data source's tables (GET /api/tables)
//   a key of Key, Item, ExclusiveStartKey, Keys; a word of an *Expression; a value of
//   ExpressionAttributeNames or AttributesToGet
//                                       the table's attributes: its keys and its indexes' keys
//                                       (GET /api/tables/{name}), then those of the result shown
// Arrows move, Enter or Tab take the choice, Escape closes; Ctrl+Space opens it anywhere it has
// something to offer. The text is only read to know where the caret is: the server checks it.

import { get, q } from "../api.js";
import { html, setHtml } from "../html.js";
import { operationDetail } from "./operation-picker.js";

const MAX_SHOWN = 60;
const ATTRIBUTE_OBJECTS = new Set(["Key", "Item", "ExclusiveStartKey", "Keys", "LastEvaluatedKey"]);
const WORD = /[A-Za-z0-9_.-]*$/;

let editor = null;
// datasource(), operation(), result(): the form's data source and operation, the answers shown
let form = null;
let list = null; // the <ul> at the caret
let shown = { items: [], active: 0, context: null };
let asked = 0; // the last completion asked for: older answers are dropped
let inserting = false; // a choice going in: its own input opens nothing
const tables = new Map(); // datasource -> promise of its table names
const described = new Map(); // datasource + table -> promise of [{name, kind}]

// The table a request names, if one (only to complete and to label: the server parses the text).
export const tableOf = (text) => (/"TableName"\s*:\s*"([^"\\{}]+)"/.exec(text) || [])[1] || "";

// -- where the caret is ---------------------------------------------------------------------

// The end of the string opened at `start` (its closing quote, or the end of its line).
function stringEnd(text, start) {
  let j = start + 1;
  while (j < text.length && text[j] !== '"' && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
  return j;
}

// Past a comment or a {{ placeholder }} at i, or i itself.
function skip(text, i) {
  const two = text.slice(i, i + 2);
  const ends = { "//": "\n", "/*": "*/", "{{": "}}" }[two];
  if (!ends) return i;
  const end = text.indexOf(ends, i + 2);
  return end < 0 ? text.length : end + ends.length;
}

// The containers open at the caret (each object with the member being written), and the string
// the caret is in: {stack, string: {start, end, closed, isKey}} (string null when outside one).
export function contextAt(text, caret) {
  const stack = [];
  let i = 0;
  while (i < caret) {
    const past = skip(text, i);
    if (past !== i) {
      i = past;
      continue;
    }
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      const end = stringEnd(text, i);
      const isKey = Boolean(top && top.type === "{" && top.expectKey);
      if (caret <= end) {
        return { stack, string: { start: i + 1, end, closed: text[end] === '"', isKey } };
      }
      if (isKey) Object.assign(top, { key: text.slice(i + 1, end), expectKey: false });
      i = end + 1;
      continue;
    }
    if (c === "{") stack.push({ type: "{", key: null, expectKey: true });
    else if (c === "[") stack.push({ type: "[", key: null });
    else if (c === "}" || c === "]") stack.pop();
    else if (c === "," && top && top.type === "{")
      Object.assign(top, { key: null, expectKey: true });
    i++;
  }
  return { stack, string: null };
}

// The key of the member holding the container `depth` levels up (arrays looked through).
function memberKey(stack, from) {
  for (let k = from; k >= 0; k--) if (stack[k].type === "{") return stack[k].key;
  return null;
}

// What can be offered at the caret: {kind, from, to, closed, suffix} or null. from..to: the text
// a choice replaces.
export function completionAt(text, caret) {
  const { stack, string } = contextAt(text, caret);
  if (!string) return null;
  const top = stack[stack.length - 1];
  const typed = text.slice(string.start, caret);
  const after = text.slice(caret, string.end);
  const whole = { from: string.start, to: string.end, closed: string.closed, prefix: typed };
  if (string.isKey) {
    if (stack.length === 1) return { kind: "parameter", ...whole, suffix: '": ' };
    if (ATTRIBUTE_OBJECTS.has(memberKey(stack, stack.length - 2))) {
      return { kind: "attribute", ...whole, suffix: '": ' };
    }
    return null;
  }
  const key = top && top.type === "{" ? top.key : memberKey(stack, stack.length - 2);
  if (top && top.type === "{" && key === "TableName")
    return { kind: "table", ...whole, suffix: '"' };
  const inNames =
    top && top.type === "{" && memberKey(stack, stack.length - 2) === "ExpressionAttributeNames";
  const inList = top && top.type === "[" && key === "AttributesToGet";
  if (inNames || inList) return { kind: "attribute", ...whole, suffix: '"' };
  if (top && top.type === "{" && key && key.endsWith("Expression")) {
    const prefix = WORD.exec(typed)[0];
    const before = typed[typed.length - prefix.length - 1];
    if (before === ":" || before === "#") return null; // a value's or a name's placeholder
    const rest = /^[A-Za-z0-9_.-]*/.exec(after)[0];
    return {
      kind: "attribute",
      from: caret - prefix.length,
      to: caret + rest.length,
      prefix,
      word: true,
    };
  }
  return null;
}

// -- what is offered ------------------------------------------------------------------------

function cached(map, key, load) {
  if (!map.has(key)) {
    const promise = load().catch((error) => {
      map.delete(key); // asked again next time
      throw error;
    });
    map.set(key, promise);
  }
  return map.get(key);
}

async function parameters() {
  const operation = form.operation();
  if (!operation) return [];
  const detail = await operationDetail(operation);
  return detail.parameters.map((p) => ({
    value: p.name,
    note: `${p.type}${p.required ? ", required" : ""}`,
  }));
}

async function tableNames() {
  const ds = form.datasource();
  if (!ds) return [];
  const names = await cached(tables, ds, () =>
    get(`/api/tables?datasource=${q(ds)}`).then((a) => a.tables),
  );
  return names.map((name) => ({ value: name, note: "table" }));
}

function keyAttributes(detail) {
  const found = [];
  const add = (key, note) => key && found.push({ value: key.name, note });
  add(detail.partition_key, "partition key");
  add(detail.sort_key, "sort key");
  for (const index of detail.indexes) {
    add(index.partition_key, `${index.name} key`);
    add(index.sort_key, `${index.name} key`);
  }
  return found;
}

// The attribute names of the items in the result shown.
function resultAttributes() {
  const names = new Set();
  for (const answer of form.result()) {
    const data = answer && answer.data;
    if (!data || typeof data !== "object") continue;
    const items = Array.isArray(data.Items) ? data.Items : [data.Item, data.Attributes];
    for (const item of items) {
      if (item && typeof item === "object" && !Array.isArray(item)) {
        for (const name of Object.keys(item)) names.add(name);
      }
    }
  }
  return [...names].map((name) => ({ value: name, note: "in the result" }));
}

async function attributes() {
  const ds = form.datasource();
  const table = tableOf(editor.value);
  let keys = [];
  if (ds && table) {
    const path = `/api/tables/${q(table)}?datasource=${q(ds)}`;
    keys = await cached(described, `${ds}\n${table}`, () => get(path).then(keyAttributes)).catch(
      () => [],
    );
  }
  const seen = new Set();
  return [...keys, ...resultAttributes()].filter(
    (item) => !seen.has(item.value) && seen.add(item.value),
  );
}

const SOURCES = { parameter: parameters, table: tableNames, attribute: attributes };

function matching(items, prefix) {
  const typed = prefix.toLowerCase();
  const starts = items.filter((item) => item.value.toLowerCase().startsWith(typed));
  const inside = items.filter(
    (item) =>
      !item.value.toLowerCase().startsWith(typed) && item.value.toLowerCase().includes(typed),
  );
  return [...starts, ...inside].slice(0, MAX_SHOWN);
}

// -- the list -------------------------------------------------------------------------------

export function close() {
  asked++;
  if (!list || list.hidden) return;
  list.hidden = true;
  shown = { items: [], active: 0, context: null };
  editor.textarea.setAttribute("aria-expanded", "false");
  editor.textarea.removeAttribute("aria-activedescendant");
}

function render() {
  const option = (item, i) => html`<li
    role="option"
    id="ac-option-${i}"
    class="${i === shown.active ? "active" : ""}"
    aria-selected="${String(i === shown.active)}"
    data-index="${i}"
    data-value="${item.value}"
    data-testid="ac-option"
  >
    <span class="ac-value">${item.value}</span><span class="ac-note">${item.note}</span>
  </li>`;
  setHtml(list, shown.items.map(option));
  editor.textarea.setAttribute("aria-activedescendant", `ac-option-${shown.active}`);
  const active = list.children[shown.active];
  if (active) active.scrollIntoView({ block: "nearest" });
}

function place() {
  const caret = editor.caretBox();
  const below = window.innerHeight - caret.bottom > 220;
  list.style.setProperty("left", `${Math.max(4, caret.left)}px`);
  list.style.setProperty("top", below ? `${caret.bottom + 2}px` : "auto");
  list.style.setProperty("bottom", below ? "auto" : `${window.innerHeight - caret.top + 2}px`);
}

// Look at the caret and offer what fits (force: Ctrl+Space, even before anything is typed).
async function update({ force = false } = {}) {
  const mine = ++asked;
  const ta = editor.textarea;
  if (ta.selectionStart !== ta.selectionEnd) return close();
  const context = completionAt(ta.value, ta.selectionStart);
  if (!context) return close();
  let items;
  try {
    items = matching(await SOURCES[context.kind](), context.prefix);
  } catch {
    items = []; // no catalog, no connection: nothing to offer (the form says why elsewhere)
  }
  if (mine !== asked) return;
  const done = items.length === 1 && items[0].value === context.prefix && !force;
  if (!items.length || done) return close();
  shown = { items, active: 0, context };
  list.hidden = false;
  ta.setAttribute("aria-expanded", "true");
  render();
  place();
}

// Put the choice in place of what was typed (undoable, as typing is).
function accept(index = shown.active) {
  const item = shown.items[index];
  const context = shown.context;
  if (!item || !context) return;
  close();
  const ta = editor.textarea;
  const tail = context.word ? "" : context.closed ? "" : context.suffix;
  const to = context.word ? context.to : context.closed ? context.to : ta.selectionStart;
  ta.setSelectionRange(context.from, to);
  inserting = true;
  try {
    editor.insert(item.value + tail);
  } finally {
    inserting = false;
  }
  const caret =
    context.from + item.value.length + tail.length + (context.closed && !context.word ? 1 : 0);
  ta.setSelectionRange(caret, caret);
}

function move(step) {
  const count = shown.items.length;
  shown.active = (shown.active + step + count) % count;
  render();
}

// The editor's keys, seen first while the list is open.
function onKey(event) {
  const command = event.ctrlKey || event.metaKey;
  if (event.ctrlKey && event.key === " ") {
    event.preventDefault();
    update({ force: true });
    return true;
  }
  if (list.hidden || command || event.altKey) return false;
  const actions = {
    ArrowDown: () => move(1),
    ArrowUp: () => move(-1),
    Enter: () => accept(),
    Tab: () => accept(),
    Escape: () => close(),
  };
  const action = actions[event.key];
  if (!action || (event.shiftKey && event.key !== "Tab")) return false;
  event.preventDefault();
  action();
  return true;
}

// jsonEditor: the parameters' JsonEditor; hooks: {datasource(), operation(), result()}.
export function setUp(jsonEditor, hooks) {
  editor = jsonEditor;
  form = hooks;
  list = document.createElement("ul");
  Object.assign(list, { id: "ac-list", className: "ac-list", hidden: true });
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Completions");
  list.dataset.testid = "ac-list";
  document.body.append(list);
  const ta = editor.textarea;
  ta.setAttribute("aria-autocomplete", "list");
  ta.setAttribute("aria-controls", "ac-list");
  ta.setAttribute("aria-expanded", "false");
  editor.onKey(onKey);
  ta.addEventListener("input", (event) => {
    // typed, not a whole new text (a tab shown, an example inserted)
    if (event.inputType && document.activeElement === ta && !inserting) update();
    else close();
  });
  ta.addEventListener("blur", close);
  ta.addEventListener("scroll", close);
  ta.addEventListener("mousedown", close);
  list.addEventListener("mousedown", (event) => {
    event.preventDefault(); // the editor keeps the focus
    const item = event.target.closest("li[data-index]");
    if (item) accept(Number(item.dataset.index));
  });
}
