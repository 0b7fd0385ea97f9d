// The result grid: a real <table> (role=grid) of which only the rows in view, and a margin, are
// in the DOM, between two spacer rows that keep the height of all the others; so 100,000 rows
// cost what 50 do. Sorting orders an array of row indexes (the rows stay as they are). Columns
// can be hidden and moved (the column menu, or a header dragged onto another); maps and lists
// expand in place; rows are selected with their checkboxes (shift-click: a range); a cell, a
// row or the selection is copied as JSON (the context menu, or Ctrl+C); a row is opened by a
// click outside its checkbox and expander, or Enter.
//
// Rows may differ in height (an expanded cell): the rows seen are measured, and the others are
// taken to be as high as the first one measured.

import { html, setHtml } from "./html.js";
import { highlight, stringify } from "./json.js";
import { cellText, columnWidths, kindOf, previewText, sortOrder } from "./rows.js";

const OVERSCAN = 12; // rows rendered above and below the view
const LONG_TEXT = 80; // a longer text also has a title that shows all of it
const SHOWN_TEXT = 300; // characters written in a cell
const KEY_BADGES = ["PK", "SK"];

const clip = (text) => (text.length > SHOWN_TEXT ? text.slice(0, SHOWN_TEXT) + "…" : text);

function expander(open) {
  return html`<button type="button" class="expander" data-testid="cell-expand"
    aria-expanded="${String(open)}" aria-label="${open ? "Collapse" : "Expand"}">${open ? "▾" : "▸"}</button>`;
}

// One cell: scalars as text (all of it in the title when long), maps and lists with a toggle.
function cellHtml(value, col, open) {
  const kind = kindOf(value);
  if (kind === "json") {
    const shown = open
      ? html`<pre class="nested" data-testid="cell-nested">${highlight(stringify(value, 2))}</pre>`
      : html`<span class="preview">${clip(previewText(value))}</span>`;
    return html`<td class="c-json${open ? " open" : ""}" data-col="${col}">${expander(open)}${shown}</td>`;
  }
  const text = cellText(value);
  return text.length > LONG_TEXT
    ? html`<td class="c-${kind}" data-col="${col}" title="${text}">${clip(text)}</td>`
    : html`<td class="c-${kind}" data-col="${col}">${text}</td>`;
}

const SHELL = html`<div class="grid-bar">
    <span class="grid-selection" data-testid="grid-selection"></span>
    <button type="button" class="small" data-action="copy-selection" data-testid="grid-copy-selection" disabled>Copy selected as JSON</button>
    <button type="button" class="small" data-action="clear-selection" data-testid="grid-clear-selection" disabled>Clear selection</button>
    <span class="grid-status" role="status" data-testid="grid-status"></span>
    <span class="spacer"></span>
    <button type="button" class="small" data-action="columns" aria-haspopup="true" aria-expanded="false" aria-controls="grid-column-menu" data-testid="grid-columns">Columns</button>
    <div id="grid-column-menu" class="grid-menu column-menu" data-testid="grid-column-menu" hidden></div>
  </div>
  <div class="grid-scroll" tabindex="-1" data-testid="grid-scroll">
    <table class="grid vgrid" role="grid" aria-multiselectable="true" aria-label="Result items" data-testid="result-table">
      <colgroup></colgroup>
      <thead></thead>
      <tbody></tbody>
    </table>
  </div>
  <div class="grid-menu context-menu" role="menu" aria-label="Row" data-testid="grid-context-menu" hidden>
    <button type="button" role="menuitem" data-action="copy-cell" data-testid="ctx-copy-cell">Copy cell as JSON</button>
    <button type="button" role="menuitem" data-action="copy-row" data-testid="ctx-copy-row">Copy row as JSON</button>
    <button type="button" role="menuitem" data-action="copy-selection" data-testid="ctx-copy-selection">Copy selected rows as JSON</button>
    <button type="button" role="menuitem" data-action="open" data-testid="ctx-open">Open item</button>
  </div>`;

export class Grid {
  // onOpen(row): a row was opened; onSelection(count): the selection changed.
  constructor(root, { onOpen = () => {}, onSelection = () => {} } = {}) {
    setHtml(root, SHELL);
    const find = (selector) => root.querySelector(selector);
    Object.assign(this, { root, onOpen, onSelection });
    Object.assign(this, {
      bar: find(".grid-bar"),
      columnMenu: find(".column-menu"),
      contextMenu: find(".context-menu"),
      scroller: find(".grid-scroll"),
      table: find("table"),
      colgroup: find("colgroup"),
      thead: find("thead"),
      tbody: find("tbody"),
    });
    Object.assign(this, { rows: [], natural: [], columns: [], keys: [], hidden: new Set() });
    Object.assign(this, { order: [], positions: new Int32Array(0), widths: {}, sort: null });
    this.selected = new Set(); // row objects
    this.expanded = new Map(); // row object -> Set of the columns expanded
    this.heights = new Map(); // row object -> its height, when not rowHeight
    Object.assign(this, { rowHeight: 30, measured: false, extras: null, indexOf: null });
    Object.assign(this, { active: { pos: 0, col: 0 }, anchor: null, range: null, stale: true });
    this.listen();
  }

  // -- data --------------------------------------------------------------------------------

  // rows: plain objects; columns: in their natural order (key columns first); keys: the
  // table's key names. keepColumns: keep the columns hidden and moved (the same table again);
  // keepRows: keep the sort, the selection, the expanded cells and the scroll too (more pages,
  // rows edited). `replaced`: [[old, new]] rows that take the place of others.
  setData(rows, columns, { keys = [], keepColumns = false, keepRows = false, replaced = [] } = {}) {
    if (keepRows) this.carryOver(rows, replaced);
    else this.reset();
    Object.assign(this, { rows, keys, indexOf: null, extras: null });
    this.setColumns(columns, keepColumns || keepRows);
    const missing = columns.filter((column) => !(column in this.widths));
    Object.assign(this.widths, columnWidths(rows, missing));
    this.reorder();
    this.renderHead();
    this.render(true);
    this.selectionChanged();
  }

  reset() {
    for (const map of [this.selected, this.expanded, this.heights]) map.clear();
    Object.assign(this, { sort: null, anchor: null, widths: {}, active: { pos: 0, col: 0 } });
    this.scroller.scrollTop = 0;
    this.scroller.scrollLeft = 0;
  }

  // The state kept by row follows replaced rows and forgets the rows gone.
  carryOver(rows, replaced) {
    for (const [old, now] of replaced) {
      for (const map of [this.expanded, this.heights]) {
        if (map.has(old)) map.set(now, map.get(old));
      }
      if (this.selected.delete(old)) this.selected.add(now);
    }
    const present = new Set(rows);
    for (const map of [this.selected, this.expanded, this.heights]) {
      for (const row of [...map.keys()]) if (!present.has(row)) map.delete(row);
    }
  }

  setColumns(natural, keep) {
    const kept = keep ? this.columns.filter((column) => natural.includes(column)) : [];
    this.columns =
      this.custom && keep ? kept.concat(natural.filter((c) => !kept.includes(c))) : [...natural];
    this.natural = natural;
    if (!keep) {
      this.hidden.clear();
      this.custom = false;
    }
  }

  reorder() {
    this.order = sortOrder(this.rows, this.sort);
    this.positions = new Int32Array(this.rows.length);
    this.order.forEach((index, pos) => (this.positions[index] = pos));
    this.extras = null;
    if (this.active.pos >= this.rows.length) this.active.pos = Math.max(0, this.rows.length - 1);
  }

  visibleColumns() {
    return this.columns.filter((column) => !this.hidden.has(column));
  }

  rowAt(pos) {
    return this.rows[this.order[pos]];
  }

  // The selected rows, in the order shown.
  selectedRows() {
    if (!this.selected.size) return [];
    return this.order.map((index) => this.rows[index]).filter((row) => this.selected.has(row));
  }

  // -- heights and positions ---------------------------------------------------------------

  // [position, extra height] of the rows not rowHeight high, by position.
  extraHeights() {
    if (this.extras) return this.extras;
    if (!this.indexOf && this.heights.size) {
      this.indexOf = new Map(this.rows.map((row, index) => [row, index]));
    }
    this.extras = [...this.heights]
      .map(([row, height]) => [this.positions[this.indexOf.get(row)], height - this.rowHeight])
      .sort((a, b) => a[0] - b[0]);
    return this.extras;
  }

  // The top of the row at `pos`, from the top of the body.
  offsetOf(pos) {
    let offset = pos * this.rowHeight;
    for (const [at, extra] of this.extraHeights()) {
      if (at >= pos) break;
      offset += extra;
    }
    return offset;
  }

  // The position of the row at height y of the body.
  positionAt(y) {
    let added = 0;
    for (const [at, extra] of this.extraHeights()) {
      const top = at * this.rowHeight + added;
      if (y < top) break;
      if (y < top + this.rowHeight + extra) return at;
      added += extra;
    }
    return Math.max(0, Math.floor((y - added) / this.rowHeight));
  }

  // Measure the rows rendered; true when a height changed (the spacers must follow).
  measure() {
    if (!this.scroller.offsetParent) return false; // hidden: nothing to measure
    let changed = false;
    for (const tr of this.tbody.querySelectorAll("tr[data-pos]")) {
      const row = this.rowAt(Number(tr.dataset.pos));
      const height = tr.getBoundingClientRect().height;
      if (!this.measured && !this.expanded.has(row)) {
        this.measured = true;
        changed = Math.abs(height - this.rowHeight) > 0.01;
        this.rowHeight = height;
      }
      const known = this.heights.get(row) ?? this.rowHeight;
      if (Math.abs(height - known) <= 0.5) continue;
      if (Math.abs(height - this.rowHeight) > 0.5) this.heights.set(row, height);
      else this.heights.delete(row);
      changed = true;
    }
    if (changed) this.extras = null;
    return changed;
  }

  // -- rendering ---------------------------------------------------------------------------

  renderHead() {
    const columns = this.visibleColumns();
    setHtml(this.colgroup, html`<col>${columns.map(() => html`<col>`)}`);
    const numberWidth = String(this.rows.length).length * 8 + 44;
    const cols = this.colgroup.children;
    cols[0].style.width = `${numberWidth}px`;
    columns.forEach((column, i) => (cols[i + 1].style.width = `${this.widths[column]}px`));
    const total = columns.reduce((sum, column) => sum + this.widths[column], numberWidth);
    this.table.style.width = `${total}px`;
    setHtml(
      this.thead,
      html`<tr aria-rowindex="1">
        <th scope="col" class="rownum"><input type="checkbox" class="pick-all" data-testid="select-all" aria-label="Select all rows"></th>
        ${columns.map((column, i) => this.headCell(column, i))}
      </tr>`,
    );
    this.table.setAttribute("aria-rowcount", String(this.rows.length + 1));
    this.table.setAttribute("aria-colcount", String(columns.length + 1));
    this.table.dataset.rows = String(this.rows.length);
    this.table.dataset.columns = columns.join("\n");
  }

  headCell(column, i) {
    const direction = this.sort && this.sort.column === column ? this.sort.direction : 0;
    const sort = direction > 0 ? "ascending" : direction < 0 ? "descending" : "none";
    const arrow = direction > 0 ? " ▲" : direction < 0 ? " ▼" : "";
    const key = KEY_BADGES[this.keys.indexOf(column)] || "";
    const title = key
      ? `${column}: the table's ${key === "PK" ? "partition" : "sort"} key`
      : column;
    return html`<th scope="col" aria-sort="${sort}" aria-colindex="${i + 2}" draggable="true"
      data-column="${column}" data-key="${key}" data-testid="col-header" title="${title}"><button
      type="button" class="sort" data-column="${column}">${column}${arrow}</button></th>`;
  }

  rowHtml(pos, columns) {
    const row = this.rowAt(pos);
    const selected = this.selected.has(row);
    const open = this.expanded.get(row);
    const check = html`<input type="checkbox" class="pick" data-testid="row-check"
      aria-label="Select row ${pos + 1}" ${selected ? html`checked` : ""}>`;
    return html`<tr data-testid="result-row" data-pos="${pos}" aria-rowindex="${pos + 2}"
      aria-selected="${String(selected)}" tabindex="-1" class="${selected ? "selected" : ""}">
      <th scope="row" class="rownum"><label class="pick">${check}<span>${pos + 1}</span></label></th>
      ${columns.map((column, col) => cellHtml(row[column], col, !!open && open.has(column)))}
    </tr>`;
  }

  // The rows in view (and OVERSCAN more each side); force: even when they are drawn already.
  render(force = false, depth = 0) {
    const count = this.order.length;
    const head = this.thead.offsetHeight;
    const top = Math.max(0, this.scroller.scrollTop - head);
    const height = this.scroller.clientHeight || 600;
    const [first, last] = [this.positionAt(top), this.positionAt(top + height)];
    const drawn = this.range && first >= this.range[0] && last < this.range[1];
    if (drawn && !force && !this.stale) return; // the rows in view are there already
    const start = Math.max(0, first - OVERSCAN);
    const end = Math.min(count, last + OVERSCAN + 1);
    const began = performance.now();
    this.range = [start, end];
    const focused = document.activeElement;
    const hadFocus = this.tbody.contains(focused) || focused === this.scroller;
    const columns = this.visibleColumns();
    const rows = [];
    for (let pos = start; pos < end; pos++) rows.push(this.rowHtml(pos, columns));
    const spacer = html`<tr class="spacer" aria-hidden="true"><td colspan="${columns.length + 1}"></td></tr>`;
    setHtml(this.tbody, html`${spacer}${rows}${spacer}`);
    this.tbody.firstElementChild.style.height = `${this.offsetOf(start)}px`;
    this.tbody.lastElementChild.style.height = `${this.offsetOf(count) - this.offsetOf(end)}px`;
    this.stale = !this.scroller.offsetParent;
    if (this.measure() && depth < 3) return this.render(true, depth + 1);
    this.paintActive();
    if (hadFocus) this.focusActive();
    this.table.dataset.rowsRendered = String(end - start);
    this.table.dataset.lastRenderMs = (performance.now() - began).toFixed(1);
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render(this.stale);
    });
  }

  // Render again, e.g. once the grid is shown (a hidden grid measures nothing).
  refresh() {
    this.stale = true;
    this.render(true);
  }

  rowElement(pos) {
    return this.tbody.querySelector(`tr[data-pos="${pos}"]`);
  }

  // The active row takes the grid's tab stop; its active cell is outlined (what Ctrl+C copies).
  paintActive() {
    for (const cell of this.tbody.querySelectorAll(".active-cell")) {
      cell.classList.remove("active-cell");
    }
    for (const tr of this.tbody.querySelectorAll('tr[tabindex="0"]')) tr.tabIndex = -1;
    const tr = this.rowElement(this.active.pos) || this.tbody.querySelector("tr[data-pos]");
    if (!tr) return;
    tr.tabIndex = 0;
    if (Number(tr.dataset.pos) !== this.active.pos) return;
    const cell = tr.querySelector(`td[data-col="${this.active.col}"]`);
    if (cell) cell.classList.add("active-cell");
  }

  // The focus on the active row (on the grid while that row is not drawn: keys still work).
  focusActive() {
    const tr = this.rowElement(this.active.pos);
    (tr || this.scroller).focus({ preventScroll: true });
  }

  setActive(pos, col = this.active.col) {
    this.active = { pos, col };
    this.paintActive();
  }

  // -- selection ---------------------------------------------------------------------------

  pick(pos, checked, range) {
    const from = range && this.anchor !== null ? Math.min(this.anchor, pos) : pos;
    const to = range && this.anchor !== null ? Math.max(this.anchor, pos) : pos;
    for (let at = from; at <= to; at++) {
      if (checked) this.selected.add(this.rowAt(at));
      else this.selected.delete(this.rowAt(at));
    }
    if (!range || this.anchor === null) this.anchor = pos;
    this.selectionChanged(true);
  }

  selectAll(on) {
    if (on) for (const row of this.rows) this.selected.add(row);
    else this.selected.clear();
    this.selectionChanged(true);
  }

  selectionChanged(rerender = false) {
    const count = this.selected.size;
    if (rerender) this.render(true);
    const all = this.thead.querySelector(".pick-all");
    all.checked = count > 0 && count === this.rows.length;
    all.indeterminate = count > 0 && count < this.rows.length;
    this.bar.querySelector(".grid-selection").textContent = count ? `${count} selected` : "";
    for (const action of ["copy-selection", "clear-selection"]) {
      this.bar.querySelector(`[data-action="${action}"]`).disabled = !count;
    }
    if (count !== this.told) this.onSelection(count);
    this.told = count;
  }

  // -- sorting, expanding, columns ---------------------------------------------------------

  sortBy(column) {
    const began = performance.now();
    const same = this.sort && this.sort.column === column;
    this.sort = { column, direction: same ? -this.sort.direction : 1 };
    this.anchor = null;
    this.reorder();
    this.renderHead();
    this.render(true);
    this.selectionChanged();
    this.afterPaint(began, "sortMs");
    const button = this.thead.querySelector(`th[data-column="${CSS.escape(column)}"] button`);
    if (button) button.focus();
  }

  toggleExpand(pos, col) {
    const row = this.rowAt(pos);
    const column = this.visibleColumns()[col];
    const open = this.expanded.get(row) || new Set();
    if (open.has(column)) open.delete(column);
    else open.add(column);
    if (open.size) this.expanded.set(row, open);
    else this.expanded.delete(row);
    const refocus = document.activeElement && document.activeElement.matches("button.expander");
    this.render(true);
    const button = this.rowElement(pos)?.querySelector(`td[data-col="${col}"] button.expander`);
    if (refocus && button) button.focus();
  }

  columnsChanged() {
    this.renderHead();
    this.render(true);
    this.selectionChanged();
    if (!this.columnMenu.hidden) this.renderColumnMenu();
  }

  moveColumn(column, delta) {
    const visible = this.visibleColumns();
    const other = visible[visible.indexOf(column) + delta];
    if (other === undefined) return;
    const [a, b] = [this.columns.indexOf(column), this.columns.indexOf(other)];
    [this.columns[a], this.columns[b]] = [other, column];
    this.custom = true;
    this.columnsChanged();
  }

  // A header dropped on another: the column takes that one's place.
  dropColumn(column, target) {
    if (column === target || !this.columns.includes(column)) return;
    const to = this.columns.indexOf(target);
    this.columns.splice(this.columns.indexOf(column), 1);
    this.columns.splice(to, 0, column);
    this.custom = true;
    this.columnsChanged();
  }

  showColumn(column, shown) {
    if (shown) this.hidden.delete(column);
    else this.hidden.add(column);
    this.columnsChanged();
  }

  resetColumns() {
    this.columns = [...this.natural];
    this.hidden.clear();
    this.custom = false;
    this.columnsChanged();
  }

  renderColumnMenu() {
    const item = (column) => html`<li data-column="${column}">
      <label><input type="checkbox" data-testid="col-toggle" data-column="${column}"
        ${this.hidden.has(column) ? "" : html`checked`}> ${column}</label>
      <button type="button" class="small" data-move="-1" data-column="${column}"
        data-testid="col-left" aria-label="Move ${column} left">←</button>
      <button type="button" class="small" data-move="1" data-column="${column}"
        data-testid="col-right" aria-label="Move ${column} right">→</button>
    </li>`;
    const focused = document.activeElement;
    const { testid, column } = this.columnMenu.contains(focused) ? focused.dataset : {};
    const again =
      column === undefined
        ? `[data-testid="${testid}"]`
        : `[data-testid="${testid}"][data-column="${CSS.escape(column)}"]`;
    setHtml(
      this.columnMenu,
      html`<p class="hint">Show, hide and move the columns (or drag a header onto another).</p>
        <ul>${this.columns.map(item)}</ul>
        <button type="button" class="small" data-action="reset-columns" data-testid="col-reset">Reset columns</button>`,
    );
    const target = testid && this.columnMenu.querySelector(again);
    if (target) target.focus();
  }

  toggleColumnMenu(open = this.columnMenu.hidden) {
    this.columnMenu.hidden = !open;
    this.bar.querySelector('[data-action="columns"]').setAttribute("aria-expanded", String(open));
    if (open) this.renderColumnMenu();
  }

  // -- copying and opening -----------------------------------------------------------------

  activeValue() {
    const row = this.rowAt(this.active.pos);
    return row && row[this.visibleColumns()[this.active.col]];
  }

  copy(what) {
    const texts = {
      cell: () => {
        const value = this.activeValue();
        return value === undefined ? "" : stringify(value, 2);
      },
      row: () => stringify(this.rowAt(this.active.pos) || {}, 2),
      selection: () => stringify(this.selectedRows(), 2),
    };
    const text = texts[what]();
    const label = what === "selection" ? `${this.selected.size} rows` : `the ${what}`;
    const status = this.bar.querySelector(".grid-status");
    navigator.clipboard.writeText(text).then(
      () => (status.textContent = `Copied ${label} as JSON.`),
      (error) => (status.textContent = `Could not copy: ${error.message}`),
    );
  }

  open(pos) {
    const row = this.rowAt(pos);
    if (row) this.onOpen(row);
  }

  act(action) {
    const actions = {
      "copy-cell": () => this.copy("cell"),
      "copy-row": () => this.copy("row"),
      "copy-selection": () => this.copy("selection"),
      "clear-selection": () => this.selectAll(false),
      "reset-columns": () => this.resetColumns(),
      open: () => this.open(this.active.pos),
      columns: () => this.toggleColumnMenu(),
    };
    if (action !== "reset-columns") this.closeMenus(action === "columns");
    if (actions[action]) actions[action]();
  }

  showContextMenu(x, y) {
    const menu = this.contextMenu;
    const count = this.selected.size;
    const selection = menu.querySelector('[data-action="copy-selection"]');
    selection.disabled = !count;
    selection.textContent = count ? `Copy ${count} selected rows as JSON` : "Copy selected rows";
    menu.hidden = false;
    this.root.classList.add("context-open");
    const { width, height } = menu.getBoundingClientRect();
    menu.style.left = `${Math.min(x, window.innerWidth - width - 4)}px`;
    menu.style.top = `${Math.min(y, window.innerHeight - height - 4)}px`;
    menu.querySelector("button").focus();
  }

  closeMenus(keepColumns = false) {
    this.contextMenu.hidden = true;
    this.root.classList.remove("context-open");
    if (!keepColumns) this.toggleColumnMenu(false);
  }

  // -- events ------------------------------------------------------------------------------

  listen() {
    this.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
    this.table.addEventListener("click", (event) => this.onClick(event));
    this.scroller.addEventListener("keydown", (event) => this.onKey(event));
    this.table.addEventListener("contextmenu", (event) => this.onContextMenu(event));
    this.listenToDrags();
    const onAction = (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) this.act(button.dataset.action);
    };
    this.bar.addEventListener("click", onAction);
    this.contextMenu.addEventListener("click", onAction);
    this.contextMenu.addEventListener("keydown", (event) => this.onMenuKey(event));
    this.columnMenu.addEventListener("click", (event) => this.onColumnMenu(event));
    document.addEventListener("keydown", (event) => {
      const open = !this.columnMenu.hidden || !this.contextMenu.hidden;
      if (event.key === "Escape" && open) this.closeMenus();
    });
    document.addEventListener("pointerdown", (event) => {
      if (!this.contextMenu.contains(event.target)) {
        this.contextMenu.hidden = true;
        this.root.classList.remove("context-open");
      }
      if (!this.bar.contains(event.target)) this.toggleColumnMenu(false);
    });
  }

  onClick(event) {
    const target = event.target;
    if (this.thead.contains(target)) return this.onHeadClick(event);
    const tr = target.closest("tr[data-pos]");
    if (!tr) return;
    const pos = Number(tr.dataset.pos);
    const cell = target.closest("td[data-col]");
    this.setActive(pos, cell ? Number(cell.dataset.col) : this.active.col);
    if (target.matches("input.pick")) return this.pick(pos, target.checked, event.shiftKey);
    if (target.closest("label.pick")) return; // the label passes the click on to its checkbox
    if (target.closest("button.expander")) return this.toggleExpand(pos, this.active.col);
    if (target.closest("pre.nested") || String(window.getSelection())) return;
    this.open(pos);
  }

  onHeadClick(event) {
    if (event.target.matches("input.pick-all")) return this.selectAll(event.target.checked);
    const th = event.target.closest("th[data-column]");
    if (th) this.sortBy(th.dataset.column);
  }

  onContextMenu(event) {
    const tr = event.target.closest("tr[data-pos]");
    if (!tr || !this.tbody.contains(tr)) return;
    event.preventDefault();
    const cell = event.target.closest("td[data-col]");
    this.setActive(Number(tr.dataset.pos), cell ? Number(cell.dataset.col) : this.active.col);
    this.showContextMenu(event.clientX, event.clientY);
  }

  onKey(event) {
    if (this.thead.contains(event.target)) return; // the header's buttons have their own keys
    const key = event.key;
    const control = event.ctrlKey || event.metaKey;
    if (control && key.toLowerCase() === "c") return this.onCopyKey(event);
    if (control && key.toLowerCase() === "a") {
      event.preventDefault();
      return this.selectAll(true);
    }
    if (event.target.matches("input, button") && (key === "Enter" || key === " ")) return;
    if (key === "Enter") this.open(this.active.pos);
    else if (key === " ")
      this.pick(this.active.pos, !this.selected.has(this.rowAt(this.active.pos)), event.shiftKey);
    else if (key === "Escape") this.closeMenus();
    else if (!this.onMoveKey(event)) return;
    event.preventDefault();
  }

  // Ctrl+C: the text selected in the page if any, else the rows selected, else the active cell
  // (Ctrl+Shift+C: its row).
  onCopyKey(event) {
    if (String(window.getSelection())) return;
    event.preventDefault();
    this.copy(this.selected.size ? "selection" : event.shiftKey ? "row" : "cell");
  }

  onMoveKey(event) {
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / this.rowHeight) - 1);
    const last = this.rows.length - 1;
    const { pos, col } = this.active;
    const moves = {
      ArrowDown: [pos + 1, col],
      ArrowUp: [pos - 1, col],
      ArrowRight: [pos, col + 1],
      ArrowLeft: [pos, col - 1],
      PageDown: [pos + page, col],
      PageUp: [pos - page, col],
      Home: event.ctrlKey ? [0, col] : [pos, 0],
      End: event.ctrlKey ? [last, col] : [pos, this.visibleColumns().length - 1],
    };
    if (!moves[event.key] || last < 0) return false;
    const [to, toCol] = moves[event.key];
    this.moveTo(
      Math.max(0, Math.min(last, to)),
      Math.max(0, Math.min(this.visibleColumns().length - 1, toCol)),
    );
    return true;
  }

  // Make the row at `pos` the active one, scrolled into view, with the focus.
  moveTo(pos, col) {
    const head = this.thead.offsetHeight;
    const [top, bottom] = [this.offsetOf(pos), this.offsetOf(pos + 1)];
    const view = this.scroller.clientHeight - head;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (bottom > this.scroller.scrollTop + view) this.scroller.scrollTop = bottom - view;
    this.active = { pos, col };
    this.render();
    this.paintActive();
    this.focusActive();
    const cell = this.tbody.querySelector(".active-cell");
    if (cell) cell.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  onMenuKey(event) {
    const items = [...this.contextMenu.querySelectorAll("button:not(:disabled)")];
    const at = items.indexOf(document.activeElement);
    if (event.key === "Escape") {
      this.closeMenus();
      this.focusActive();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(at + step + items.length) % items.length].focus();
    } else return;
    event.preventDefault();
  }

  onColumnMenu(event) {
    const target = event.target;
    if (target.matches('input[type="checkbox"][data-column]')) {
      this.showColumn(target.dataset.column, target.checked);
    } else if (target.closest("button[data-move]")) {
      const button = target.closest("button[data-move]");
      this.moveColumn(button.dataset.column, Number(button.dataset.move));
    } else if (target.closest('button[data-action="reset-columns"]')) {
      this.resetColumns();
    }
  }

  listenToDrags() {
    const header = (event) => event.target.closest && event.target.closest("th[data-column]");
    this.thead.addEventListener("dragstart", (event) => {
      const th = header(event);
      if (!th) return;
      this.dragging = th.dataset.column;
      event.dataTransfer.setData("text/plain", th.dataset.column);
      event.dataTransfer.effectAllowed = "move";
    });
    this.thead.addEventListener("dragover", (event) => {
      if (this.dragging && header(event)) event.preventDefault();
    });
    this.thead.addEventListener("drop", (event) => {
      const th = header(event);
      if (!th || !this.dragging) return;
      event.preventDefault();
      this.dropColumn(this.dragging, th.dataset.column);
      this.dragging = null;
    });
    this.thead.addEventListener("dragend", () => (this.dragging = null));
  }

  // Once the browser has painted: the time since `began` in the table's data-<name>.
  afterPaint(began, name) {
    requestAnimationFrame(() =>
      setTimeout(() => (this.table.dataset[name] = (performance.now() - began).toFixed(1)), 0),
    );
  }
}
