// What several views share, by name. A view changes it with `set`, and every view that shows it
// hears of the change through `subscribe`. What only one view uses stays in that view's module.

const values = {
  // Who is signed in (GET/POST /api/session): {user, role, can: {manage, edit, run}}. What the
  // page shows follows `can` alone (see can() below); the server refuses the rest anyway.
  session: null,
  datasources: [],
  currentDs: null, // the id of the data source picked in the sidebar
  operations: [], // the catalog's operations (GET /api/operations)
  queries: [], // the saved queries
  // The query in the editor (the tab shown): {id, name, datasource_id, operation, transform,
  // description, defaults, placeholders}. The query view edits its fields; it is set anew when
  // another tab is shown or another query loads.
  query: null,
  dirty: false, // the query in the editor has unsaved changes
  tab: null, // the id of the query tab shown (views/query-tabs.js); each tab keeps its query
  view: "query", // the view shown: query, tables, history or users (admins)
  running: false, // a run of the tab shown is in flight
  runs: 0, // how many runs ended (the history shows them)
  // The last run the page sent of an unsaved or saved query: {operation, datasource, params,
  // values, queryId, table}; the history matches it to its row, to reopen or run it again.
  lastRun: null,
};

const listeners = new Map(Object.keys(values).map((key) => [key, []]));

function known(key) {
  if (!listeners.has(key)) throw new Error(`The page's state has no "${key}".`);
}

export function get(key) {
  known(key);
  return values[key];
}

// set("view", "tables"), or set({datasources, currentDs}) to change several at once: the
// listeners are told once every value is in place, each listener once (with the value of the
// first key it listens to).
export function set(keyOrChanges, value) {
  const changes = typeof keyOrChanges === "string" ? { [keyOrChanges]: value } : keyOrChanges;
  Object.keys(changes).forEach(known);
  Object.assign(values, changes);
  const told = new Set();
  for (const key of Object.keys(changes)) {
    for (const listener of listeners.get(key)) {
      if (told.has(listener)) continue;
      told.add(listener);
      listener(values[key]);
    }
  }
}

// Call `listener` with the new value whenever `key` is set.
export function subscribe(key, listener) {
  known(key);
  listeners.get(key).push(listener);
}

// What the signed-in role may do: "manage" (users, data sources and their settings), "edit"
// (queries, tables, items, ad hoc runs, undo), "run" (saved queries). A part of the page the role
// may not use is not rendered at all: the views ask this, and index.html marks its fixed parts
// with data-needs="manage|edit" (dom.js's renderFor).
export function can(what) {
  const { session } = values;
  return Boolean(session && session.can && session.can[what]);
}
