// HTML from templates, escaped: html`<b>${text}</b>` escapes every interpolated value unless it
// is itself an html`...` result (or a list of them), so data never reaches the DOM as markup.
// Attribute values must be quoted in the template ("${value}"): the escaping covers quotes, and
// an unquoted one is refused.

class Html {
  constructor(text) {
    this.text = text;
  }

  toString() {
    return this.text;
  }
}

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const SPECIAL = /[&<>"']/;

function escape(text) {
  return SPECIAL.test(text) ? text.replace(/[&<>"']/g, (c) => ENTITIES[c]) : text;
}

// A value as HTML: html results as they are, lists joined, nothing for null/undefined/false.
function fragment(value) {
  if (typeof value === "string") return escape(value);
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) {
    let text = "";
    for (const item of value) text += fragment(item);
    return text;
  }
  if (value === null || value === undefined || value === false) return "";
  return escape(String(value));
}

export function html(strings, ...values) {
  let text = strings[0];
  for (let i = 0; i < values.length; i++) {
    if (strings[i].endsWith("=")) throw new Error(`Unquoted attribute value after "${strings[i]}"`);
    text += fragment(values[i]) + strings[i + 1];
  }
  return new Html(text);
}

// Replace an element's content with an html`...` result (anything else is shown as text).
export function setHtml(element, content) {
  element.innerHTML = fragment(content);
}
