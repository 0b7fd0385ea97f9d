// The data source form's connection fields, made from the server's table of settings
// (GET /api/settings): one field per setting, shown for the auth methods that use it. A setting
// added to that table shows here with nothing to change in the page.

import { get } from "../api.js";
import { $, $$ } from "../dom.js";
import { html, setHtml } from "../html.js";
import { REGIONS } from "../regions.js";

// How the form names each auth method (a method not listed here shows its own name).
const METHOD_LABELS = {
  iam_credentials: "IAM credentials",
  instance_profile: "Instance profile (default credential chain)",
  role_arn: "Role ARN",
};
// Suggestions offered while typing a setting, by the setting's name.
const SUGGESTIONS = { region: REGIONS };
// What the form of a new data source starts with (besides the first auth method).
const NEW_SOURCE = { region: "us-east-1" };

let methods = []; // the auth methods (the choices of the "auth" setting)
let fields = []; // the other settings, each a field of the form

export const fieldId = (name) => `ds-${name.replaceAll("_", "-")}`;

const input = (setting) => $(`#${fieldId(setting.name)}`);

// Tuning settings (those with a default, bounds or choices) go under "Advanced settings".
const isAdvanced = (setting) =>
  setting.default !== null ||
  setting.minimum !== null ||
  setting.maximum !== null ||
  setting.choices.length > 0;

export async function loadSettings() {
  const settings = await get("/api/settings");
  methods = settings.find((setting) => setting.name === "auth").choices;
  fields = settings.filter((setting) => setting.name !== "auth");
  setHtml($("#ds-methods"), methods.map(methodRadio));
  $("#ds-fields").replaceChildren(...fields.filter((s) => !isAdvanced(s)).map(field));
  $("#ds-advanced-fields").replaceChildren(...fields.filter(isAdvanced).map(field));
}

function methodRadio(method) {
  const id = fieldId(`auth_${method}`);
  const radio = html`<input type="radio" name="auth" value="${method}" id="${id}"
    data-testid="${id}" />`;
  return html`<label class="radio">${radio} ${METHOD_LABELS[method] || method}</label>`;
}

function field(setting) {
  const box = document.createElement("div");
  const element = control(setting);
  const narrow = element.type === "number" || element.tagName === "SELECT";
  box.className = narrow ? "field" : "field grow";
  box.dataset.auth = setting.methods.join(" ");
  const label = document.createElement("label");
  label.htmlFor = element.id;
  label.textContent = setting.label;
  box.append(label, element);
  const suggestions = SUGGESTIONS[setting.name];
  if (suggestions) {
    const list = document.createElement("datalist");
    list.id = `${element.id}-suggestions`;
    setHtml(
      list,
      suggestions.map(([value, name]) => html`<option value="${value}">${name}</option>`),
    );
    element.setAttribute("list", list.id);
    box.append(list);
  }
  return box;
}

// The input (or select) of a setting: its kind follows the setting's type.
function control(setting) {
  const element = document.createElement(setting.choices.length ? "select" : "input");
  element.id = fieldId(setting.name);
  element.dataset.testid = element.id;
  element.title = setting.help;
  element.spellcheck = false;
  if (setting.choices.length) {
    const choices = setting.choices.map((choice) => new Option(choice, choice));
    element.append(new Option("default", ""), ...choices);
  } else if (setting.secret) {
    element.type = "password";
    element.autocomplete = "new-password";
  } else if (setting.type !== "str") {
    element.type = "number";
    element.step = setting.type === "int" ? "1" : "any";
    if (setting.minimum !== null) element.min = String(setting.minimum);
    if (setting.maximum !== null) element.max = String(setting.maximum);
  } else {
    element.type = setting.name.endsWith("_url") ? "url" : "text";
  }
  if (setting.default !== null) {
    const shown = setting.type === "str" ? setting.default : Number(setting.default);
    element.placeholder = `default: ${shown}`;
  }
  return element;
}

// A stored value that is not the setting's default (a number compared as a number).
function changed(setting, ds) {
  const value = ds[setting.name];
  if (value === null || value === undefined) return false;
  if (setting.type !== "str") return Number(value) !== Number(setting.default);
  return String(value) !== String(setting.default);
}

export function authMethod() {
  const checked = $("#ds-form input[name=auth]:checked");
  return checked ? checked.value : methods[0];
}

// Show the fields of the auth method chosen, hide the others.
export function showMethodFields() {
  const method = authMethod();
  for (const element of $$("#ds-form [data-auth]")) {
    element.hidden = !element.dataset.auth.split(" ").includes(method);
  }
}

// Put a data source's settings into the fields (null: a new data source). Stored secrets come
// from the API masked, and stay so in their field.
export function fillFields(ds) {
  const method = ds ? ds.auth : methods[0];
  const radio = $$("#ds-form input[name=auth]").find((r) => r.value === method);
  if (radio) radio.checked = true;
  for (const setting of fields) {
    const value = ds ? ds[setting.name] : NEW_SOURCE[setting.name];
    input(setting).value = value === null || value === undefined ? "" : String(value);
  }
  $("#ds-advanced").open = Boolean(ds) && fields.filter(isAdvanced).some((s) => changed(s, ds));
  $("#ds-secret-hint").hidden = !(ds && fields.some((s) => s.secret && ds[s.name]));
  showMethodFields();
}

// The settings in the form, every one. A field the method does not show, or an empty one, is
// null (no value); a secret's field is sent as it holds (the API keeps a stored secret sent back
// as it was shown, and "" clears it). Values are checked by the API.
export function readFields() {
  const method = authMethod();
  const settings = { auth: method };
  for (const setting of fields) {
    const shown = setting.methods.includes(method);
    const text = input(setting).value;
    if (setting.secret) settings[setting.name] = shown ? text : "";
    else if (!shown || text.trim() === "") settings[setting.name] = null;
    else settings[setting.name] = setting.type === "str" ? text.trim() : Number(text);
  }
  return settings;
}
