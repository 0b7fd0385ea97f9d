// Code and cost before running. "Code": the request of the form as a program (POST /api/code:
// boto3, the AWS CLI, the SDK for JavaScript v3), to copy; never with credentials. And before a
// Scan runs, what it would cost (POST /api/explain: read capacity from DescribeTable) and, when
// its filter fixes a partition key with =, the Query it could be, to put in the editor.

import { post } from "../api.js";
import { $ } from "../dom.js";
import { formatBytes } from "../format.js";
import { html, setHtml } from "../html.js";
import { stringify } from "../json.js";
import { errorText, isUnauthorized, toast } from "../messages.js";
import * as state from "../state.js";

const LANGUAGES = [
  ["python", "Python (boto3)"],
  ["aws-cli", "AWS CLI"],
  ["javascript", "JavaScript (SDK v3)"],
];

// request(): the form's {datasource, operation, params, values} (throws when incomplete);
// useQuery(text): put a Query's parameters in the editor.
let hooks = null;
let language = "python";
let panelOpen = false;
let timer = null;
let latest = 0; // the last refresh asked for: older answers are dropped
let shownCode = "";

function formRequest() {
  try {
    return hooks.request();
  } catch {
    return null; // no data source or operation yet, or a value that is not JSON
  }
}

// The form changed: the code shown and the cost follow, a moment later.
export function requestChanged() {
  if (!state.can("edit")) return; // code and cost are asked of the editor's requests
  clearTimeout(timer);
  timer = setTimeout(refresh, 400);
}

// Another tab shown: the cost shown was the other tab's.
export function tabShown() {
  hideCost();
  requestChanged();
}

async function refresh() {
  const mine = ++latest;
  const request = formRequest();
  if (panelOpen) await refreshCode(request, mine);
  if (request && request.operation === "Scan") await refreshCost(request, mine);
  else if (mine === latest) hideCost();
}

// -- the code panel -------------------------------------------------------------------------

function renderPanel(content) {
  const tab = ([id, label]) => html`<button
    type="button"
    role="tab"
    class="small"
    data-lang="${id}"
    data-testid="code-lang-${id}"
    aria-selected="${String(id === language)}"
  >
    ${label}
  </button>`;
  setHtml(
    $("#code-panel"),
    html`<div class="code-head">
        <div class="subtabs" role="tablist" aria-label="Language">${LANGUAGES.map(tab)}</div>
        <span class="spacer"></span>
        <button type="button" class="small" data-testid="code-copy">Copy</button>
        <button type="button" class="small" data-testid="code-close">Close</button>
      </div>
      ${content}
      <p class="hint">
        The same call, to the data source's endpoint and region. No credentials are in it: the
        SDK or the CLI takes them where it looks (environment, profile, role).
      </p>`,
  );
}

async function refreshCode(request, mine) {
  if (!request) {
    shownCode = "";
    renderPanel(html`<p class="inline-error" data-testid="code-error">
      Choose a data source and an operation first.
    </p>`);
    return;
  }
  let answer;
  try {
    answer = await post("/api/code", { ...request, language });
  } catch (error) {
    if (mine !== latest || isUnauthorized(error)) return;
    shownCode = "";
    renderPanel(html`<pre class="inline-error" data-testid="code-error">${errorText(error)}</pre>`);
    return;
  }
  if (mine !== latest) return;
  shownCode = answer.code;
  renderPanel(
    html`<pre class="code-view" data-testid="code-text"><code>${answer.code}</code></pre>`,
  );
}

function openPanel() {
  panelOpen = true;
  $("#code-panel").hidden = false;
  $("#q-code").setAttribute("aria-expanded", "true");
  renderPanel(html`<p class="hint">Writing the code…</p>`);
  refresh();
}

function closePanel() {
  panelOpen = false;
  $("#code-panel").hidden = true;
  $("#q-code").setAttribute("aria-expanded", "false");
  $("#q-code").focus();
}

async function copy() {
  if (!shownCode) return;
  try {
    await navigator.clipboard.writeText(shownCode);
  } catch {
    // no clipboard permission: the browser's own copy of the selected text
    const pre = $("#code-panel [data-testid=code-text]");
    window.getSelection().selectAllChildren(pre);
    document.execCommand("copy");
  }
  toast(`Copied the ${LANGUAGES.find(([id]) => id === language)[1]} code.`);
}

function onPanelClick(event) {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.lang) {
    language = button.dataset.lang;
    refresh();
  } else if (button.dataset.testid === "code-copy") copy();
  else if (button.dataset.testid === "code-close") closePanel();
}

// -- the cost of a Scan ---------------------------------------------------------------------

function hideCost() {
  const box = $("#scan-cost");
  box.hidden = true;
  box.replaceChildren();
}

let advisedQuery = null; // the Query the advice offers (its parameters as text)

function costLine(cost) {
  const consistency = cost.consistent_read ? "strongly" : "eventually";
  const other =
    cost.strongly_consistent_rcu === null
      ? "an index read eventually consistent only"
      : cost.consistent_read
        ? `${cost.eventually_consistent_rcu} RCU eventually consistent`
        : `${cost.strongly_consistent_rcu} RCU strongly consistent`;
  const items =
    cost.item_count === null || cost.item_count === undefined ? "" : `${cost.item_count} items, `;
  return html`Before it runs: this Scan reads the whole ${cost.index ? "index" : "table"}
    (${items}${formatBytes(cost.size_bytes)}): about
    <strong data-testid="scan-rcu">${cost.read_capacity_units} RCU</strong> (read capacity
    units), ${consistency} consistent; ${other}.`;
}

function renderCost(explanation) {
  const { cost } = explanation;
  const advice = (explanation.advice || [])[0];
  advisedQuery = advice ? stringify(advice.query, 4) : null;
  const offer = advice
    ? html`<div class="scan-advice" data-testid="scan-advice">
        <p>${advice.message.charAt(0).toUpperCase() + advice.message.slice(1)}</p>
        <button type="button" class="small primary" data-testid="use-query">Use the Query</button>
      </div>`
    : "";
  setHtml(
    $("#scan-cost"),
    html`<p>${costLine(cost)}</p>
      <details>
        <summary>How this is estimated</summary>
        <ul>
          ${cost.notes.map((note) => html`<li>${note}</li>`)}
        </ul>
      </details>
      ${offer}`,
  );
  $("#scan-cost").hidden = false;
}

async function refreshCost(request, mine) {
  let explanation;
  try {
    explanation = await post("/api/explain", request);
  } catch (error) {
    // parameters not valid yet (the check marks them), or the table is not there
    if (mine === latest && !isUnauthorized(error)) hideCost();
    return;
  }
  if (mine !== latest) return;
  if (explanation.cost && explanation.cost.kind === "scan") renderCost(explanation);
  else hideCost();
}

export function setUp({ request, useQuery }) {
  hooks = { request, useQuery };
  $("#q-code").addEventListener("click", () => (panelOpen ? closePanel() : openPanel()));
  $("#code-panel").addEventListener("click", onPanelClick);
  $("#code-panel").addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePanel();
  });
  $("#scan-cost").addEventListener("click", (event) => {
    if (!event.target.closest("[data-testid=use-query]") || !advisedQuery) return;
    hooks.useQuery(advisedQuery);
    toast("The Query is in the editor: run it, or Ctrl+Z in the editor for the Scan's text.");
  });
}
