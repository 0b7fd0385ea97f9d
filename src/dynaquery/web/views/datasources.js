// The data sources: the sidebar's list, and the dialog that adds, edits, tests and deletes one.

import { ApiError, del, get, post, put, q } from "../api.js";
import { $ } from "../dom.js";
import { formatDuration } from "../format.js";
import { html, setHtml } from "../html.js";
import { guard, hideInline, isUnauthorized, showInline, toast } from "../messages.js";
import * as state from "../state.js";
import { fillFields, readFields, showMethodFields } from "./connection-fields.js";
import { loadQueries } from "./query.js";

let editing = null; // the data source open in the dialog (null: a new one)
let testing = null; // the connection test in flight: its AbortController

// The data sources, and the one picked: `preferred` if it is there, else the first.
export async function loadDatasources(preferred = state.get("currentDs")) {
  const datasources = await get("/api/datasources");
  const known = datasources.some((ds) => ds.id === preferred);
  const currentDs = known ? preferred : (datasources[0]?.id ?? null);
  const changes = { datasources };
  if (currentDs !== state.get("currentDs")) changes.currentDs = currentDs;
  state.set(changes);
}

function renderList() {
  const datasources = state.get("datasources");
  setHtml($("#ds-list"), datasources.map(listItem));
  const empty = state.can("manage")
    ? html`No data source yet: add one with <strong>+ Add</strong>.`
    : "No data source is granted to you yet: an admin can grant you one.";
  setHtml($("#ds-empty"), empty);
  $("#ds-empty").hidden = datasources.length > 0;
}

// A data source as the sidebar lists it; its settings (null but for an admin) and its Edit
// button only for a role that manages data sources.
function listItem(ds) {
  const method = ds.auth ? ds.auth.replace("_", " ") : "";
  const where = [method, ds.region, ds.endpoint_url].filter(Boolean).join(" · ");
  const edit = state.can("manage")
    ? html`<button type="button" class="small" data-testid="ds-edit" aria-label="Edit ${ds.name}">
        Edit
      </button>`
    : "";
  const readOnly = ds.read_only ? html` <span class="badge ro">read-only</span>` : "";
  const journal = ds.journal ? html` <span class="badge">journal</span>` : "";
  return html`<li data-testid="ds-item" data-name="${ds.name}" data-id="${ds.id}">
    <button type="button" class="item-main" aria-current="${ds.id === state.get("currentDs")}">
      <span class="item-name">${ds.name}</span>${readOnly}${journal}
      ${where ? html`<span class="item-detail">${where}</span>` : ""}
    </button>
    ${edit}
  </li>`;
}

function onListClick(event) {
  const item = event.target.closest("li[data-id]");
  const ds = item && state.get("datasources").find((d) => d.id === item.dataset.id);
  if (!ds) return;
  if (event.target.closest("[data-testid=ds-edit]") && state.can("manage")) openForm(ds);
  else if (event.target.closest(".item-main")) state.set("currentDs", ds.id);
}

function openForm(ds = null) {
  cancelTest();
  editing = ds;
  $("#ds-form").reset();
  $("#ds-title").textContent = ds ? `Edit data source “${ds.name}”` : "New data source";
  $("#ds-name").value = ds ? ds.name : "";
  $("#ds-description").value = ds ? ds.description || "" : "";
  $("#ds-read-only").checked = ds ? ds.read_only : false;
  $("#ds-journal").checked = ds ? ds.journal : false;
  fillFields(ds);
  $("#ds-delete").hidden = !ds;
  $("#ds-delete-confirm").hidden = true;
  $("#ds-diagnosis").hidden = true;
  hideInline($("#ds-error"));
  const dialog = $("#ds-dialog");
  if (!dialog.open) dialog.showModal();
  $("#ds-name").focus();
}

// -- Test connection ------------------------------------------------------------------------

function showDiagnosis(kind, mark, message, details = "") {
  const box = $("#ds-diagnosis");
  box.hidden = false;
  box.className = `diagnosis ${kind}`;
  // on one line: the box keeps white space (pre-wrap)
  const more = details ? html`<span class="item-detail">${details}</span>` : "";
  const text = html`<span data-testid="ds-diagnosis-message">${message}</span>`;
  setHtml(box, html`<strong>${mark}</strong> ${text}${more}`);
}

function testButton(running) {
  const button = $("#ds-test");
  button.textContent = running ? "Cancel test" : "Test connection";
  button.classList.toggle("cancel", running);
}

// Stop waiting for the test at once; the form is usable again.
function cancelTest() {
  if (!testing) return;
  const controller = testing;
  testing = null;
  controller.abort();
  testButton(false);
  const stopped = "The test was stopped: nothing is known about this connection yet.";
  showDiagnosis("cancelled", "Cancelled.", stopped);
}

async function testConnection() {
  if (testing) {
    cancelTest();
    return;
  }
  hideInline($("#ds-error"));
  const body = readFields();
  if (editing) body.id = editing.id;
  const box = $("#ds-diagnosis");
  box.hidden = false;
  box.className = "diagnosis pending";
  box.textContent = "Testing the connection…";
  const controller = (testing = new AbortController());
  testButton(true);
  try {
    showTested(await post("/api/datasources/test", body, { signal: controller.signal }));
  } catch (error) {
    if (testing === controller) testFailed(error); // else cancelled: cancelTest said so
  } finally {
    if (testing === controller) {
      testing = null;
      testButton(false);
    }
  }
}

function showTested(diagnosis) {
  const details = [diagnosis.auth, diagnosis.region, diagnosis.endpoint]
    .filter(Boolean)
    .join(" · ");
  const took =
    diagnosis.duration_ms !== undefined ? ` · ${formatDuration(diagnosis.duration_ms)}` : "";
  const mark = diagnosis.ok ? "✓" : "✗";
  showDiagnosis(diagnosis.ok ? "ok" : "fail", mark, diagnosis.message, details && details + took);
}

function testFailed(error) {
  if (error instanceof ApiError && error.status === 400) {
    // settings that cannot work (a key without its secret, no role ARN...): a failed test too
    showDiagnosis("fail", "✗", error.message);
    return;
  }
  $("#ds-diagnosis").hidden = true;
  if (!isUnauthorized(error)) showInline($("#ds-error"), error);
}

// -- Save and Delete ------------------------------------------------------------------------

async function save(event) {
  event.preventDefault();
  hideInline($("#ds-error"));
  const name = $("#ds-name").value.trim();
  if (!name) {
    showInline($("#ds-error"), new Error("Give the data source a name."));
    $("#ds-name").focus();
    return;
  }
  const body = {
    name,
    description: $("#ds-description").value.trim(),
    read_only: $("#ds-read-only").checked,
    journal: $("#ds-journal").checked,
    ...readFields(),
  };
  if (!editing && !body.description) delete body.description;
  await guard(async () => {
    const renamed = editing; // a renamed data source shows in the saved queries too
    const saved = editing
      ? await put(`/api/datasources/${q(editing.id)}`, body)
      : await post("/api/datasources", body);
    $("#ds-dialog").close();
    await loadDatasources(saved.id);
    if (renamed) await loadQueries();
    toast(`Saved the data source “${saved.name}”.`);
  }, $("#ds-error"));
}

function askDelete() {
  if (!editing) return;
  $("#ds-delete-text").textContent = `Delete the data source “${editing.name}”?`;
  $("#ds-delete-with").hidden = true;
  $("#ds-delete-confirm").hidden = false;
  $("#ds-delete-no").focus();
}

async function deleteDatasource(withQueries) {
  const ds = editing;
  try {
    await del(`/api/datasources/${q(ds.id)}?with_queries=${withQueries}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      // still used by queries: the API names them; they can go with it
      $("#ds-delete-text").textContent = error.message;
      $("#ds-delete-with").hidden = false;
    } else if (!isUnauthorized(error)) {
      showInline($("#ds-error"), error);
    }
    return;
  }
  $("#ds-dialog").close();
  await guard(loadDatasources);
  await guard(loadQueries);
  toast(`Deleted the data source “${ds.name}”.`);
}

// -- wiring ---------------------------------------------------------------------------------

export function setUp() {
  state.subscribe("datasources", renderList);
  state.subscribe("currentDs", renderList);
  state.subscribe("session", renderList);
  $("#ds-list").addEventListener("click", onListClick);
  $("#ds-add").addEventListener("click", () => openForm(null));
  $("#ds-methods").addEventListener("change", showMethodFields);
  $("#ds-form").addEventListener("submit", save);
  $("#ds-test").addEventListener("click", testConnection);
  $("#ds-cancel").addEventListener("click", () => $("#ds-dialog").close());
  $("#ds-dialog").addEventListener("close", cancelTest);
  $("#ds-delete").addEventListener("click", askDelete);
  $("#ds-delete-yes").addEventListener("click", () => deleteDatasource(false));
  $("#ds-delete-with").addEventListener("click", () => deleteDatasource(true));
  $("#ds-delete-no").addEventListener("click", () => ($("#ds-delete-confirm").hidden = true));
  // a diagnosis shown is of the settings it tested: a change makes it stale
  $("#ds-form").addEventListener("input", () => {
    const box = $("#ds-diagnosis");
    if (!box.classList.contains("pending")) box.classList.add("stale");
  });
}
