// The query's check as it is typed (POST /api/check, nothing is sent to DynamoDB): errors marked
// at their line in the editor, the transformation's at its field, and the placeholders that the
// server finds in the text.

import { post } from "../api.js";
import { $ } from "../dom.js";
import { errorText, isUnauthorized } from "../messages.js";
import * as state from "../state.js";
import { setPlaceholders } from "./placeholders.js";

let editor = null;
let operation = () => null;
let timer = null;
let latest = 0; // the number of the last check asked for: older answers are dropped

// jsonEditor: the parameters' editor; currentOperation(): the query's operation, or null.
export function setUp(jsonEditor, currentOperation) {
  editor = jsonEditor;
  operation = currentOperation;
}

export function scheduleCheck(delay = 350) {
  if (!state.can("edit")) return; // a role that runs saved queries only has no editor to check
  latest++;
  clearTimeout(timer);
  timer = setTimeout(check, delay);
}

function setStatus(text, kind = "") {
  const status = $("#editor-status");
  status.textContent = text;
  status.className = `editor-status ${kind}`;
}

async function check() {
  const mine = ++latest;
  const name = operation();
  if (!name) {
    editor.setErrors([]);
    setStatus("Choose an operation: the parameters are checked against it as you type.");
    return;
  }
  const transform = $("#q-transform").value.trim() || null;
  let answer;
  try {
    answer = await post("/api/check", { operation: name, params: editor.value, transform });
  } catch (error) {
    if (mine === latest && !isUnauthorized(error)) {
      setStatus(`The parameters could not be checked: ${errorText(error)}`, "error");
    }
    return;
  }
  if (mine !== latest) return;
  if (!answer.ok) {
    markErrors(answer.error || { message: "The parameters are not valid." });
    return;
  }
  editor.setErrors([]);
  $("#q-transform").removeAttribute("aria-invalid");
  const found = answer.placeholders;
  const holes = found.length ? ` (placeholders: ${found.join(", ")})` : "";
  setStatus(`✓ Valid parameters for ${answer.operation || name}${holes}.`, "ok");
  setPlaceholders(found);
}

// Mark an API error on the editor: its line (JSON syntax) or each problem's line (validation).
export function markErrors(body) {
  const problems = body.problems || [];
  const errors = problems
    .filter((problem) => problem.line)
    .map((problem) => ({
      line: problem.line,
      column: problem.column,
      message: problem.path ? `${problem.path}: ${problem.message}` : problem.message,
    }));
  if (body.line && !errors.some((e) => e.line === body.line)) {
    errors.push({ line: body.line, column: body.column, message: body.message });
  }
  editor.setErrors(errors);
  const transformError =
    /transform|JMESPath/i.test(body.message || "") && !body.line && !problems.length;
  if (transformError) $("#q-transform").setAttribute("aria-invalid", "true");
  setStatus(body.message || "The parameters are not valid.", "error");
}
