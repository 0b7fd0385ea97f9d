// The query's operation: a searchable picker (a combobox over the catalog), and the chosen
// operation's summary and parameters.

import { get, q } from "../api.js";
import { $ } from "../dom.js";
import { html, setHtml } from "../html.js";
import { guard } from "../messages.js";
import * as state from "../state.js";

const picker = { open: false, active: 0, shown: [] };
const details = new Map(); // name -> GET /api/operations/{name}
let chosen = () => ""; // the operation of the query
let choose = () => {}; // picks one for the query

export async function loadOperations() {
  state.set("operations", await get("/api/operations"));
}

export async function operationDetail(name) {
  if (!details.has(name)) details.set(name, await get(`/api/operations/${q(name)}`));
  return details.get(name);
}

const normal = (text) => text.toLowerCase().replace(/[\s_-]+/g, "");

// How well an operation matches what was typed (lower is better; null: not at all).
function score(op, text) {
  const typed = normal(text);
  const name = normal(op.name);
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  const hay = `${op.name} ${op.python_name} ${op.summary}`.toLowerCase();
  if (!typed) return 3;
  if (name.startsWith(typed)) return 0;
  if (name.includes(typed)) return 1;
  if (words.every((w) => hay.includes(w))) return 2;
  return null;
}

function matchingOperations(text) {
  return state
    .get("operations")
    .map((op) => [score(op, text), op])
    .filter(([rank]) => rank !== null)
    .sort((a, b) => a[0] - b[0] || a[1].name.localeCompare(b[1].name))
    .map(([, op]) => op);
}

function option(op, i) {
  const active = i === picker.active;
  return html`<li
    role="option"
    id="op-option-${op.name}"
    data-name="${op.name}"
    data-testid="op-option"
    aria-selected="${active}"
    class="${active ? "active" : ""}"
  >
    <span class="op-name">${op.name}</span> <span class="badge ${op.access}">${op.access}</span>
    <span class="op-summary">${op.summary}</span>
  </li>`;
}

function renderList(filter = "") {
  picker.shown = matchingOperations(filter);
  picker.active = Math.min(picker.active, Math.max(0, picker.shown.length - 1));
  const none = html`<li class="none" role="presentation">No operation matches.</li>`;
  setHtml($("#op-list"), picker.shown.length ? picker.shown.map(option) : none);
  const input = $("#q-operation");
  const active = picker.shown[picker.active];
  if (active) input.setAttribute("aria-activedescendant", `op-option-${active.name}`);
  else input.removeAttribute("aria-activedescendant");
}

function openPicker(filter) {
  picker.open = true;
  picker.active = 0;
  renderList(filter);
  $("#op-list").hidden = false;
  $("#q-operation").setAttribute("aria-expanded", "true");
}

function closePicker() {
  picker.open = false;
  $("#op-list").hidden = true;
  $("#q-operation").setAttribute("aria-expanded", "false");
}

function moveActive(step) {
  if (!picker.shown.length) return;
  picker.active = (picker.active + step + picker.shown.length) % picker.shown.length;
  const typed = $("#q-operation").value;
  renderList(typed === chosen() ? "" : typed);
  const active = $("#op-list li.active");
  if (active) active.scrollIntoView({ block: "nearest" });
}

// What was typed names an operation (in any spelling): choose it; else show the chosen one again.
function resolveTyped() {
  const input = $("#q-operation");
  const typed = normal(input.value);
  if (!typed) return;
  const op = state
    .get("operations")
    .find((o) => normal(o.name) === typed || normal(o.python_name) === typed);
  if (op && op.name !== chosen()) choose(op.name);
  else input.value = op ? op.name : chosen();
}

function onKey(event) {
  const input = event.target;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    if (!picker.open) openPicker("");
    else moveActive(event.key === "ArrowDown" ? 1 : -1);
  } else if (event.key === "Enter") {
    event.preventDefault();
    const active = picker.open && picker.shown[picker.active];
    if (active) {
      choose(active.name);
      closePicker();
    } else resolveTyped();
  } else if (event.key === "Escape" && picker.open) {
    event.preventDefault();
    closePicker();
    input.value = chosen();
  }
}

// Show the chosen operation's summary and parameters (none chosen: nothing).
export async function showOperationInfo(name) {
  const info = $("#op-info");
  // not rendered for a role that only runs saved queries: nothing to ask for it
  if (!name || !state.can("edit")) {
    info.hidden = true;
    return;
  }
  const detail = await guard(() => operationDetail(name));
  if (!detail || chosen() !== name) return;
  info.hidden = false;
  $("#op-access").textContent = detail.access;
  $("#op-access").className = `badge ${detail.access}`;
  $("#op-summary").textContent = detail.summary;
  $("#op-name").textContent = detail.name;
  setHtml($("#op-parameters"), detail.parameters.map(parameterRow));
}

function parameterRow(p) {
  return html`<tr>
    <th scope="row"><code>${p.name}</code></th>
    <td>${p.type}</td>
    <td>${p.required ? "required" : ""}</td>
    <td>${p.documentation}</td>
  </tr>`;
}

// current: the query's operation ("" for none); onChoose(name): an operation was picked.
export function setUp({ current, onChoose }) {
  chosen = current;
  choose = onChoose;
  state.subscribe("operations", () => renderList());
  const input = $("#q-operation");
  input.addEventListener("focus", () => {
    input.select();
    openPicker("");
  });
  input.addEventListener("input", () => openPicker(input.value));
  input.addEventListener("keydown", onKey);
  input.addEventListener("blur", () => {
    closePicker();
    resolveTyped();
  });
  $("#op-list").addEventListener("mousedown", (event) => {
    const picked = event.target.closest("li[data-name]");
    if (!picked) return;
    event.preventDefault(); // keep the focus in the input
    choose(picked.dataset.name);
    closePicker();
  });
}
