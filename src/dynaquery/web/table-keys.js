// The key attributes of tables, by data source: a result's columns put them first.

import { get, q } from "./api.js";

const known = new Map(); // "datasource\ntable" -> key names, or a promise of them

const keyNames = (detail) =>
  [detail.partition_key.name, detail.sort_key && detail.sort_key.name].filter(Boolean);

// A table described by the table browser: its keys are known from now on.
export function rememberKeys(datasource, detail) {
  known.set(`${datasource}\n${detail.name}`, keyNames(detail));
}

// The key names of a table (a promise), from its description; [] when it cannot be described.
export function keysOf(datasource, table) {
  const key = `${datasource}\n${table}`;
  if (!known.has(key)) {
    const path = `/api/tables/${q(table)}?datasource=${q(datasource)}`;
    known.set(
      key,
      get(path).then(keyNames, () => []),
    );
  }
  return Promise.resolve(known.get(key));
}
