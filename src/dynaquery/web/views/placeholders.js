// The form of the query's {{ placeholders }}: one value each, sent as text, or as JSON where
// "JSON" is ticked. The names come from the API (the query's check, or the saved query), never
// from reading the text here: the server alone decides what is a placeholder.

import { $ } from "../dom.js";
import { html, setHtml } from "../html.js";
import { parseExact, stringify } from "../json.js";

let names = []; // the query's placeholders, in order
let values = new Map(); // name -> {text, json}; kept while a name comes and goes

// A query opened: its placeholders and their saved defaults.
export function resetValues(placeholders, defaults = {}) {
  values = new Map();
  for (const [name, value] of Object.entries(defaults)) {
    const json = typeof value !== "string";
    values.set(name, { text: json ? stringify(value) : value, json });
  }
  names = [...placeholders];
  render();
}

// The placeholders the query has now (its text changed).
export function setPlaceholders(placeholders) {
  if (placeholders.join("\n") === names.join("\n")) return;
  names = [...placeholders];
  render();
}

// What was typed, to keep over a reset (the form after Save): typed values win, but an empty
// field takes the saved default.
export function typedValues() {
  return new Map(values);
}

export function keepTyped(typed) {
  for (const [name, entry] of typed) {
    if (!values.has(name) || entry.text === "") values.set(name, entry);
  }
  render();
}

function jsonProblem(text) {
  try {
    parseExact(text.trim());
    return "";
  } catch (error) {
    return error.message;
  }
}

// The values to send: text, or JSON where ticked. Empty fields are left out.
export function placeholderValues() {
  const sent = {};
  for (const name of names) {
    const entry = values.get(name);
    if (!entry || entry.text === "") continue;
    if (!entry.json) {
      sent[name] = entry.text;
      continue;
    }
    try {
      sent[name] = parseExact(entry.text.trim());
    } catch (error) {
      throw new Error(
        `The value of “${name}” is ticked as JSON but is not JSON (${error.message}).`,
      );
    }
  }
  return sent;
}

function valueRow(name, i) {
  return html`<div class="value-row" data-name="${name}">
    <label for="pv-${i}"><code>${name}</code></label>
    <input
      id="pv-${i}"
      class="value-text"
      data-testid="param-${name}"
      data-name="${name}"
      spellcheck="false"
      aria-describedby="pv-${i}-error"
    />
    <label class="check"
      ><input type="checkbox" id="pj-${i}" class="value-json" data-testid="param-json-${name}" />
      JSON<span class="sr-only"> (${name})</span></label
    >
    <span id="pv-${i}-error" class="field-error" data-testid="param-error-${name}"></span>
  </div>`;
}

function render() {
  $("#q-values").hidden = names.length === 0;
  const box = $("#q-values-fields");
  setHtml(box, names.map(valueRow));
  names.forEach((name, i) => {
    if (!values.has(name)) values.set(name, { text: "", json: false });
    const row = box.children[i];
    row.querySelector(".value-text").value = values.get(name).text;
    row.querySelector(".value-json").checked = values.get(name).json;
    validate(row);
  });
}

function validate(row) {
  const entry = values.get(row.dataset.name);
  const problem = entry.json && entry.text.trim() ? jsonProblem(entry.text) : "";
  row.querySelector(".field-error").textContent = problem ? `not JSON: ${problem}` : "";
  row.querySelector(".value-text").setAttribute("aria-invalid", problem ? "true" : "false");
}

// Values are inputs of a run, not changes of the query (Save keeps them as its defaults).
export function setUp() {
  const box = $("#q-values-fields");
  const changed = (event) => {
    const row = event.target.closest(".value-row");
    if (!row) return;
    const entry = values.get(row.dataset.name);
    if (event.target.classList.contains("value-text")) entry.text = event.target.value;
    if (event.target.classList.contains("value-json")) entry.json = event.target.checked;
    validate(row);
  };
  box.addEventListener("input", changed);
  box.addEventListener("change", changed);
}
