// The open queries, one tab each, above the query form. The form, the editor and the result
// area are shared: a tab keeps what they showed (taken when another tab is shown, put back when
// it is shown again), and its last result. The query view (query.js) says how to take and put
// back a tab's content, and what a tab is called.
//
// A tab: {id, init: {loaded, params} (what it opens with, until first shown), snap (its content
// when not shown), result: {request, answers} (the last run's pages) or null}.

import { $, tabKeys } from "../dom.js";
import { html, setHtml } from "../html.js";
import * as state from "../state.js";

let tabs = [];
let activeId = null;
let nextId = 1;
// capture(): the shown content; restore(tab): show the tab's; describe(tab): {title, dirty,
// queryId}; mayClose(tab): true when nothing is lost or the user agrees; blank(): a new query's
// init.
let view = null;
let drawn = ""; // the strip last drawn: drawn again only when it changes

export const current = () => tabs.find((tab) => tab.id === activeId) || null;
export const all = () => [...tabs];

// Open `init` in a tab: `reuse` (a tab whose content may go: an untouched new query), else a
// new one. It becomes the tab shown.
export function open(init, { reuse = null } = {}) {
  let tab = reuse;
  if (!tab) {
    tab = { id: nextId++ };
    const at = tabs.indexOf(current());
    tabs.splice(at < 0 ? tabs.length : at + 1, 0, tab);
  }
  Object.assign(tab, { init, snap: null, result: null });
  show(tab, { again: tab === current() });
  return tab;
}

// Show a tab: the shown one's content is kept first.
export function show(tab, { again = false } = {}) {
  const leaving = current();
  if (leaving === tab && !again) return;
  if (leaving && leaving !== tab) leaving.snap = view.capture();
  activeId = tab.id;
  view.restore(tab);
  state.set("tab", tab.id);
  render();
}

export function find(predicate) {
  return tabs.find((tab) => predicate(view.describe(tab), tab)) || null;
}

export const anyUnsaved = () => tabs.some((tab) => view.describe(tab).dirty);

// Close a tab (asking first when it has unsaved changes); the last one leaves a new query.
export function close(tab) {
  if (!view.mayClose(tab)) return false;
  const at = tabs.indexOf(tab);
  const wasShown = tab === current();
  tabs.splice(at, 1);
  view.closed(tab);
  if (!tabs.length) {
    activeId = null;
    open(view.blank());
    return true;
  }
  if (wasShown) {
    activeId = null; // nothing to keep of the closed one
    show(tabs[Math.min(at, tabs.length - 1)]);
  } else render();
  return true;
}

export function render() {
  const box = $("#query-tabs");
  const shown = current();
  const tab = (t) => {
    const { title, dirty, running } = view.describe(t);
    const selected = t === shown;
    return html`<span
      class="qtab${selected ? " active" : ""}${dirty ? " dirty" : ""}"
      data-testid="query-tab"
      data-tab="${t.id}"
      data-title="${title}"
      data-dirty="${String(dirty)}"
    >
      <button
        type="button"
        role="tab"
        class="qtab-main"
        id="qtab-${t.id}"
        aria-selected="${String(selected)}"
        aria-controls="query-form"
        tabindex="${selected ? "0" : "-1"}"
        title="${dirty ? `${title} (unsaved changes)` : title}"
      >
        ${running ? html`<span class="qtab-running" aria-label="running">⟳</span>` : ""}
        <span class="qtab-title">${title}</span>
        ${dirty ? html`<span class="qtab-dirty" aria-label="unsaved changes">●</span>` : ""}
      </button>
      <button
        type="button"
        class="qtab-close"
        data-testid="query-tab-close"
        aria-label="Close ${title}"
        title="Close (middle click)"
      >
        ×
      </button>
    </span>`;
  };
  const newTab = html`<button
    type="button"
    class="qtab-new"
    data-testid="query-tab-new"
    title="A new query in a new tab"
    aria-label="New query tab"
  >
    +
  </button>`;
  const strip = html`<div class="qtab-list" role="tablist" aria-label="Open queries">${tabs.map(tab)}</div>
      ${state.can("edit") ? newTab : ""}`;
  if (strip.text === drawn) return; // typing in the editor redraws nothing
  drawn = strip.text;
  const focused = document.activeElement && document.activeElement.closest("#query-tabs");
  setHtml(box, strip);
  const active = box.querySelector(".qtab.active");
  if (!active) return;
  active.scrollIntoView({ block: "nearest", inline: "nearest" });
  if (focused) active.querySelector("[role=tab]").focus(); // the arrow keys go on from there
}

function tabOf(element) {
  const item = element.closest("[data-tab]");
  return item && tabs.find((t) => String(t.id) === item.dataset.tab);
}

// hooks: see `view` above, plus closed(tab) (forget what a closed tab had, e.g. its run).
export function setUp(hooks) {
  view = hooks;
  const box = $("#query-tabs");
  box.addEventListener("click", (event) => {
    if (event.target.closest(".qtab-new")) {
      open(view.blank());
      $("#q-name").focus();
      return;
    }
    const tab = tabOf(event.target);
    if (!tab) return;
    if (event.target.closest(".qtab-close")) close(tab);
    else show(tab);
  });
  box.addEventListener("auxclick", (event) => {
    const tab = event.button === 1 && tabOf(event.target);
    if (tab) close(tab);
  });
  tabKeys(box, (button) => show(tabOf(button)));
  for (const key of ["query", "dirty", "running", "session"]) state.subscribe(key, render);
}
