// The parameter editor: a plain <textarea> over a highlighted copy of its text, with a gutter of
// line numbers. Errors are marked on their line (gutter and line) with their message.
//
// Keys: Tab / Shift+Tab indent and outdent (press Esc first to move focus on with Tab),
// Enter keeps the indentation, Ctrl+Enter runs, Ctrl+S saves. The editor grows with its text,
// up to MAX_LINES lines (then it scrolls); a key handler added with onKey (the completion's
// list) sees the keys first.

import { html, setHtml } from "./html.js";
import { highlight } from "./json.js";

const INDENT = "    ";
const MIN_LINES = 6;
const MAX_LINES = 22;

export class JsonEditor {
  constructor(root, { onInput = () => {}, onRun = () => {}, onSave = () => {} } = {}) {
    this.root = root;
    this.textarea = root.querySelector("textarea");
    this.gutter = root.querySelector(".gutter-lines");
    this.layer = root.querySelector(".layer");
    this.code = root.querySelector(".highlight code");
    this.marks = root.querySelector(".marks");
    this.errors = [];
    this.escaped = false;
    this.keyHandlers = [];
    this.onInput = onInput;
    this.onRun = onRun;
    this.onSave = onSave;
    this.textarea.addEventListener("input", () => {
      this.renderSoon();
      this.onInput(this.value);
    });
    this.textarea.addEventListener("scroll", () => this.sync());
    this.textarea.addEventListener("keydown", (event) => this.key(event));
    this.render();
  }

  get value() {
    return this.textarea.value;
  }

  // Replace the text. undoable: through the browser's editing (Ctrl+Z brings the old text back).
  setValue(text, { undoable = false } = {}) {
    if (undoable && this.replaceAll(text)) return;
    this.textarea.value = text;
    this.render();
    this.onInput(this.value);
  }

  replaceAll(text) {
    this.textarea.focus();
    this.textarea.select();
    const done = document.execCommand && document.execCommand("insertText", false, text);
    if (done && this.textarea.value === text) {
      this.textarea.setSelectionRange(0, 0);
      this.textarea.scrollTop = 0;
      return true;
    }
    return false;
  }

  // handler(event) -> true when it took the key (the editor then does nothing with it).
  onKey(handler) {
    this.keyHandlers.push(handler);
  }

  // Where the caret is, in the viewport: {left, top, bottom} of its character cell.
  caretBox() {
    const ta = this.textarea;
    const before = ta.value.slice(0, ta.selectionStart);
    const line = before.split("\n").length - 1;
    const column = before.length - before.lastIndexOf("\n") - 1;
    const style = getComputedStyle(ta);
    const lineHeight = parseFloat(style.lineHeight) || 20;
    const pad = parseFloat(style.paddingTop) || 0;
    const box = ta.getBoundingClientRect();
    const left = box.left + pad + column * charWidth(style.font) - ta.scrollLeft;
    const top = box.top + pad + line * lineHeight - ta.scrollTop;
    return { left, top, bottom: top + lineHeight };
  }

  // The height that shows every line, between MIN_LINES and MAX_LINES (set when it changes).
  fitHeight(lineCount) {
    const lines = Math.max(MIN_LINES, Math.min(MAX_LINES, lineCount + 1)); // +1: a scroll bar
    if (lines === this.fitLines) return;
    this.fitLines = lines;
    const style = getComputedStyle(this.textarea);
    const lineHeight = parseFloat(style.lineHeight) || 20;
    const pad = (parseFloat(style.paddingTop) || 0) + (parseFloat(style.paddingBottom) || 0);
    this.root.style.setProperty("--editor-height", `${Math.ceil(lines * lineHeight + pad + 2)}px`);
  }

  // errors: [{line, column?, message}]
  setErrors(errors) {
    this.errors = errors.filter((e) => e.line);
    this.textarea.setAttribute("aria-invalid", this.errors.length ? "true" : "false");
    this.render();
  }

  // Typing: drawn once per frame (a paste of many lines fires an input event per line).
  renderSoon() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = null;
    const text = this.textarea.value;
    // a last empty line still needs its height
    setHtml(this.code, html`${highlight(text)}${text.endsWith("\n") || !text ? " " : ""}`);
    const byLine = new Map();
    for (const error of this.errors) {
      if (!byLine.has(error.line)) byLine.set(error.line, []);
      byLine.get(error.line).push(error);
    }
    const lineCount = text.split("\n").length;
    setHtml(this.gutter, gutterLines(lineCount, byLine));
    this.fitHeight(lineCount);
    this.marks.replaceChildren(...errorMarks(byLine));
    this.sync();
  }

  sync() {
    const { scrollLeft, scrollTop } = this.textarea;
    this.layer.style.transform = `translate(${-scrollLeft}px, ${-scrollTop}px)`;
    this.gutter.style.transform = `translateY(${-scrollTop}px)`;
  }

  // Put the caret at a line (1-based) and column, and show it.
  reveal(line, column = 1) {
    const lines = this.textarea.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
    offset += Math.max(0, Math.min(column - 1, (lines[line - 1] || "").length));
    this.textarea.focus();
    this.textarea.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(this.textarea).lineHeight) || 20;
    const top = (line - 1) * lineHeight;
    if (
      top < this.textarea.scrollTop ||
      top > this.textarea.scrollTop + this.textarea.clientHeight - lineHeight * 2
    ) {
      this.textarea.scrollTop = Math.max(0, top - this.textarea.clientHeight / 3);
    }
  }

  insert(text) {
    if (!(document.execCommand && document.execCommand("insertText", false, text))) {
      this.textarea.setRangeText(
        text,
        this.textarea.selectionStart,
        this.textarea.selectionEnd,
        "end",
      );
      this.textarea.dispatchEvent(new Event("input"));
    }
  }

  key(event) {
    if (this.keyHandlers.some((handler) => handler(event))) return;
    const command = event.ctrlKey || event.metaKey;
    if (command && event.key === "Enter") {
      event.preventDefault();
      this.onRun();
    } else if (command && event.key.toLowerCase() === "s") {
      event.preventDefault();
      this.onSave();
    } else if (event.key === "Escape") {
      this.escaped = true;
    } else if (event.key === "Tab") {
      const moveOn = this.escaped || event.ctrlKey || event.altKey || event.metaKey;
      this.escaped = false;
      if (!moveOn) this.tab(event); // else focus moves on as usual
    } else {
      this.escaped = false;
      const plain = !event.shiftKey && !event.ctrlKey && !event.metaKey && !event.altKey;
      if (event.key === "}" || event.key === "]") this.closing(event);
      else if (event.key === "Enter" && plain) this.newLine(event);
    }
  }

  // Tab indents (a caret: to the next stop; a selection: every line), Shift+Tab outdents.
  tab(event) {
    const ta = this.textarea;
    event.preventDefault();
    const { selectionStart: start, selectionEnd: end, value } = ta;
    const lineStart = value.lastIndexOf("\n", start - 1) + 1;
    if (start === end && !event.shiftKey) {
      this.insert(INDENT.slice(0, INDENT.length - ((start - lineStart) % INDENT.length)));
      return;
    }
    const blockEnd = end > start && value[end - 1] === "\n" ? end - 1 : end;
    const changed = value
      .slice(lineStart, blockEnd)
      .split("\n")
      .map((line) => (event.shiftKey ? line.replace(/^( {1,4}|\t)/, "") : INDENT + line))
      .join("\n");
    ta.setSelectionRange(lineStart, blockEnd);
    this.insert(changed);
    ta.setSelectionRange(lineStart, lineStart + changed.length);
  }

  // A closing bracket typed alone on its line goes back one level.
  closing(event) {
    const ta = this.textarea;
    if (ta.selectionStart !== ta.selectionEnd) return;
    const { selectionStart: start, value } = ta;
    const before = value.slice(value.lastIndexOf("\n", start - 1) + 1, start);
    if (before.length < INDENT.length || !/^ +$/.test(before)) return;
    event.preventDefault();
    ta.setSelectionRange(start - INDENT.length, start);
    this.insert(event.key);
  }

  // Enter keeps the indentation, one level more after an opening bracket.
  newLine(event) {
    const ta = this.textarea;
    const { selectionStart: start, value } = ta;
    const lineStart = value.lastIndexOf("\n", start - 1) + 1;
    const indent = /^[ \t]*/.exec(value.slice(lineStart, start))[0];
    const before = value.slice(lineStart, start).trimEnd();
    const opens = before.endsWith("{") || before.endsWith("[");
    const after = value[ta.selectionEnd];
    event.preventDefault();
    if (opens && (after === "}" || after === "]")) {
      this.insert("\n" + indent + INDENT + "\n" + indent);
      const caret = start + 1 + indent.length + INDENT.length;
      ta.setSelectionRange(caret, caret);
    } else {
      this.insert("\n" + indent + (opens ? INDENT : ""));
    }
  }
}

// The width of a character of the editor's monospaced font.
const widths = new Map();
function charWidth(font) {
  if (!widths.has(font)) {
    const context = document.createElement("canvas").getContext("2d");
    context.font = font;
    widths.set(font, context.measureText("0".repeat(100)).width / 100);
  }
  return widths.get(font);
}

// The gutter's line numbers; a line with errors has their messages as its title.
function gutterLines(count, byLine) {
  const lines = [];
  for (let n = 1; n <= count; n++) {
    const errors = byLine.get(n);
    if (errors) {
      const title = errors.map((e) => e.message).join("\n");
      lines.push(
        html`<div class="ln error" data-line="${n}" data-testid="gutter-error"
          title="${title}">${n}</div>`,
      );
    } else {
      lines.push(html`<div class="ln" data-line="${n}">${n}</div>`);
    }
  }
  return lines;
}

// The marks behind the text: each line with an error, and each error's column. Positions are
// set through the CSSOM, not style attributes (the page's style policy refuses those).
function errorMarks(byLine) {
  const mark = (className, line, column = null) => {
    const div = document.createElement("div");
    div.className = className;
    div.style.setProperty("--line-index", String(line - 1));
    if (column !== null) div.style.setProperty("--column", String(column));
    return div;
  };
  const marks = [];
  for (const [line, errors] of byLine) {
    const lineMark = mark("mark-line", line);
    lineMark.dataset.line = String(line);
    marks.push(lineMark);
    for (const error of errors) {
      if (error.column) marks.push(mark("mark-column", line, Number(error.column)));
    }
  }
  return marks;
}
