// JSON with exact numbers, and the tokenizer behind the editor's highlighting.
//
// The API sends numbers with every digit (a 38-digit number, 1.50, ...). JSON.parse would round
// them, so responses are read with parseExact: a number that a JS number cannot hold as written
// becomes an ExactNumber that keeps its text. stringify writes it back verbatim.

import { html } from "./html.js";

export class ExactNumber {
  constructor(text) {
    this.text = text;
  }
  valueOf() {
    return Number(this.text);
  }
  toString() {
    return this.text;
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const LITERALS = [
  ["true", true],
  ["false", false],
  ["null", null],
];

// Most answers hold only numbers that JSON.parse reads back as written: then the built-in parser
// (ten times faster on a large answer) gives the same result. A number token that would not read
// back (1.50, a 38-digit number) sends the text to a parser that keeps it: the built-in one with
// each number's source text where the browser has it (JSON.parse source text access), else the
// parser below. The scan may also see digits inside a string: that only costs the fast path.
const NUMBER_TOKEN = /(?<=[:,[]\s*)-?\d[\d.eE+-]*/g;
const SOURCE_TEXT = (() => {
  try {
    return JSON.parse("1.50", (key, value, context) => context && context.source) === "1.50";
  } catch {
    return false;
  }
})();

function exactNumbers(key, value, context) {
  if (typeof value !== "number") return value;
  return String(value) === context.source ? value : new ExactNumber(context.source);
}

function readsBackExactly(text) {
  for (const [token] of text.matchAll(NUMBER_TOKEN)) {
    if (String(Number(token)) !== token) return false;
  }
  return true;
}

export function parseExact(text) {
  if (readsBackExactly(text)) return JSON.parse(text);
  return SOURCE_TEXT ? JSON.parse(text, exactNumbers) : parseExactSlowly(text);
}

// Longer than a screen: a recursive descent parser whose small functions share the position `at`.
export function parseExactSlowly(text) {
  let at = 0;

  function fail(what) {
    throw new SyntaxError(`${what} at position ${at}`);
  }
  function space() {
    WHITESPACE.lastIndex = at;
    WHITESPACE.exec(text);
    at = WHITESPACE.lastIndex;
  }
  // After an item of an object or array: true when another follows, false at `close`.
  function more(close) {
    space();
    if (text[at] === ",") {
      at++;
      return true;
    }
    if (text[at] === close) {
      at++;
      return false;
    }
    fail(`Expected ',' or '${close}'`);
  }
  function empty(close) {
    space();
    if (text[at] !== close) return false;
    at++;
    return true;
  }
  function string() {
    let end = at + 1;
    let escaped = false;
    for (; end < text.length; end++) {
      const c = text.charCodeAt(end);
      if (c === 92) {
        escaped = true; // a backslash: the next character is escaped
        end++;
      } else if (c === 34) break; // the closing quote
    }
    if (end >= text.length) fail("Unterminated string");
    const slice = text.slice(at, end + 1);
    at = end + 1;
    return escaped ? JSON.parse(slice) : slice.slice(1, -1);
  }
  function object() {
    at++;
    const result = {};
    if (empty("}")) return result;
    do {
      space();
      if (text[at] !== '"') fail("Expected a key");
      const key = string();
      space();
      if (text[at] !== ":") fail("Expected ':'");
      at++;
      // an own property even for "__proto__", as JSON.parse makes it
      Object.defineProperty(result, key, {
        value: value(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } while (more("}"));
    return result;
  }
  function array() {
    at++;
    const result = [];
    if (empty("]")) return result;
    do result.push(value());
    while (more("]"));
    return result;
  }
  function literal() {
    for (const [word, meaning] of LITERALS) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return meaning;
      }
    }
    NUMBER.lastIndex = at;
    const match = NUMBER.exec(text);
    if (!match) fail("Unexpected character");
    at = NUMBER.lastIndex;
    const written = match[0];
    const number = Number(written);
    return String(number) === written ? number : new ExactNumber(written);
  }
  function value() {
    space();
    const c = text[at];
    if (c === "{") return object();
    if (c === "[") return array();
    if (c === '"') return string();
    return literal();
  }

  const result = value();
  space();
  if (at !== text.length) fail("Unexpected text after the JSON value");
  return result;
}

// JSON text of a value; ExactNumber written as its digits. indent: number of spaces (0: compact).
export function stringify(value, indent = 0) {
  const pad = " ".repeat(indent);
  function write(v, depth) {
    if (v === null || v === undefined) return "null";
    if (v instanceof ExactNumber) return v.text;
    if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
    if (typeof v === "boolean") return String(v);
    if (typeof v === "string") return JSON.stringify(v);
    const inner = pad.repeat(depth + 1);
    const outer = pad.repeat(depth);
    const sep = indent ? ",\n" : ",";
    if (Array.isArray(v)) {
      if (!v.length) return "[]";
      const items = v.map((x) => (indent ? inner : "") + write(x, depth + 1));
      return indent ? `[\n${items.join(sep)}\n${outer}]` : `[${items.join(sep)}]`;
    }
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (!keys.length) return "{}";
    const colon = indent ? ": " : ":";
    const items = keys.map(
      (k) => (indent ? inner : "") + JSON.stringify(k) + colon + write(v[k], depth + 1),
    );
    return indent ? `{\n${items.join(sep)}\n${outer}}` : `{${items.join(sep)}}`;
  }
  return write(value, 0);
}

// ---------------------------------------------------------------------------------------------
// Tokens of a parameter text: JSON plus // and /* */ comments, trailing commas and {{ }} holes.

const TOKEN = new RegExp(
  [
    String.raw`(?<ws>\s+)`,
    String.raw`(?<comment>\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$))`,
    String.raw`(?<placeholder>\{\{[^{}\n]*\}\})`,
    String.raw`(?<string>"(?:[^"\\\n]|\\.)*(?:"|(?=\n)|$))`,
    String.raw`(?<number>-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)`,
    String.raw`(?<literal>\b(?:true|false|null)\b)`,
    String.raw`(?<punct>[{}\[\]:,])`,
    String.raw`(?<other>[^\s{}\[\]:,"]+|.)`,
  ].join("|"),
  "gy",
);

export function tokenize(text) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  let match;
  while (TOKEN.lastIndex < text.length && (match = TOKEN.exec(text))) {
    const type = Object.keys(match.groups).find((k) => match.groups[k] !== undefined);
    tokens.push({ type, text: match[0] });
  }
  // a string followed by ':' is a key
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].type !== "string") continue;
    let j = i + 1;
    while (j < tokens.length && (tokens[j].type === "ws" || tokens[j].type === "comment")) j++;
    if (j < tokens.length && tokens[j].text === ":") tokens[i].type = "key";
  }
  return tokens;
}

// Highlighted HTML of a parameter text (placeholders inside strings are marked too).
export function highlight(text) {
  return html`${tokenize(text).map(highlightToken)}`;
}

const PLACEHOLDER = /(\{\{[^{}\n]*\}\})/;

function highlightToken(token) {
  if (token.type === "ws") return token.text;
  let inner = token.text;
  const quoted = token.type === "string" || token.type === "key";
  if (quoted && inner.includes("{{")) {
    // split with a capturing group: the odd pieces are the placeholders
    inner = token.text
      .split(PLACEHOLDER)
      .map((piece, i) => (i % 2 ? html`<span class="t-placeholder">${piece}</span>` : piece));
  }
  return html`<span class="t-${token.type}">${inner}</span>`;
}
