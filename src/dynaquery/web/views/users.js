// The users (admins only, GET/POST/PUT/DELETE /api/users...): the list, the form that adds one,
// and one user's panel: role, new password, API tokens (a new one shown once, in a dialog),
// grants of data sources, removal. Every check but "field empty" is the server's: the page shows
// its message as it comes.

import { del, get, post, put, q } from "../api.js";
import { $ } from "../dom.js";
import { html, setHtml } from "../html.js";
import { guard, hideInline, showInline, toast } from "../messages.js";
import * as state from "../state.js";

const ROLES = ["admin", "editor", "runner"];

let users = []; // GET /api/users: [{name, role, password, created_at, tokens, grants}]
let open = null; // the name of the user whose panel is shown
let removing = false; // the panel asks whether to remove its user

export async function loadUsers() {
  users = await get("/api/users");
  if (!users.some((user) => user.name === open)) open = null;
  render();
}

const userPath = (name) => `/api/users/${q(name)}`;
const openUser = () => users.find((user) => user.name === open);

// -- the list -------------------------------------------------------------------------------

function grantBadges(user) {
  if (user.role === "admin") return html`<span class="muted">every data source (admin)</span>`;
  if (!user.grants.length) return html`<span class="muted">none</span>`;
  return user.grants.map(
    (grant) =>
      html`<span class="badge${grant.read_only ? " ro" : ""}" data-testid="u-grant-badge"
        >${grant.datasource}${grant.read_only ? " · read-only" : ""}</span> `,
  );
}

function userRow(user) {
  const session = state.get("session");
  const you = session && session.user === user.name ? html` <span class="muted">(you)</span>` : "";
  const shown = user.name === open;
  return html`<tr data-testid="u-row" data-name="${user.name}" class="${shown ? "selected" : ""}">
    <td><strong>${user.name}</strong>${you}</td>
    <td data-testid="u-role">${user.role}</td>
    <td data-testid="u-password">${user.password ? "yes" : "no"}</td>
    <td class="num" data-testid="u-tokens">${user.tokens.length}</td>
    <td class="u-grants" data-testid="u-grants">${grantBadges(user)}</td>
    <td><button type="button" class="small" data-testid="u-manage" aria-expanded="${String(shown)}"
      aria-controls="u-panel">Manage</button></td>
  </tr>`;
}

function render() {
  setHtml($("#u-rows"), users.map(userRow));
  $("#u-empty").hidden = users.length > 0;
  renderPanel();
}

// -- one user's panel -----------------------------------------------------------------------

function roleOptions(role) {
  return ROLES.map(
    (name) => html`<option value="${name}" ${name === role ? html`selected` : ""}>${name}</option>`,
  );
}

function tokenList(user) {
  if (!user.tokens.length) return html`<p class="empty">No API token.</p>`;
  return html`<ul class="list u-items">
    ${user.tokens.map(
      (token) => html`<li data-testid="u-token-item" data-id="${token.id}">
        <code>${token.id}</code> <span class="muted">made ${token.created_at}</span>
        <button type="button" class="small danger" data-act="revoke-token" data-testid="u-revoke-token"
          >Revoke</button>
      </li>`,
    )}
  </ul>`;
}

function grantList(user) {
  if (!user.grants.length) return html`<p class="empty">No data source granted.</p>`;
  return html`<ul class="list u-items">
    ${user.grants.map(
      (grant) => html`<li data-testid="u-grant-item" data-datasource="${grant.datasource}">
        <span>${grant.datasource}</span>
        ${grant.read_only ? html`<span class="badge ro">read-only</span>` : ""}
        <button type="button" class="small danger" data-act="revoke-grant" data-testid="u-revoke-grant"
          >Revoke</button>
      </li>`,
    )}
  </ul>`;
}

function grantForm() {
  const datasources = state.get("datasources");
  if (!datasources.length) return html`<p class="empty">No data source to grant yet.</p>`;
  return html`<div class="row">
    <div class="field">
      <label for="u-grant-ds">Data source</label>
      <select id="u-grant-ds" data-testid="u-grant-ds">
        ${datasources.map((ds) => html`<option value="${ds.name}">${ds.name}</option>`)}
      </select>
    </div>
    <label class="check"><input type="checkbox" id="u-grant-ro" data-testid="u-grant-ro"> Read-only
      <span class="hint">(reads only)</span></label>
    <button type="button" data-act="grant" data-testid="u-grant">Grant</button>
  </div>`;
}

function removeConfirm(user) {
  if (!removing) return "";
  return html`<div class="confirm" data-testid="u-remove-confirm">
    <p>Remove the user “${user.name}”? Their sessions, API tokens and grants go with them.</p>
    <button type="button" class="danger" data-act="remove-yes" data-testid="u-remove-yes">Remove</button>
    <button type="button" data-act="remove-no" data-testid="u-remove-no">Keep them</button>
  </div>`;
}

function panel(user) {
  return html`<h2 id="u-panel-title" data-testid="u-panel-title">User “${user.name}”</h2>
    <div class="row">
      <div class="field">
        <label for="u-role-select">Role</label>
        <select id="u-role-select" data-testid="u-role-select">${roleOptions(user.role)}</select>
      </div>
      <button type="button" data-act="role" data-testid="u-set-role">Change role</button>
      <div class="field grow">
        <label for="u-new-password">New password</label>
        <input id="u-new-password" type="password" autocomplete="new-password"
          data-testid="u-new-password">
      </div>
      <button type="button" data-act="password" data-testid="u-set-password">Set password</button>
    </div>
    <p class="hint">Another role or a new password ends the user's sessions: they sign in again.</p>
    <h3>API tokens</h3>
    ${tokenList(user)}
    <button type="button" data-act="new-token" data-testid="u-new-token">New API token</button>
    <h3>Data sources granted</h3>
    ${user.role === "admin" ? html`<p class="hint">An admin uses every data source.</p>` : ""}
    ${grantList(user)} ${grantForm()}
    <pre id="u-error" class="inline-error" role="alert" data-testid="u-error" hidden></pre>
    <div class="actions">
      <span class="spacer"></span>
      <button type="button" class="danger" data-act="remove" data-testid="u-remove">Remove user</button>
    </div>
    ${removeConfirm(user)}`;
}

function renderPanel() {
  const user = openUser();
  $("#u-panel").hidden = !user;
  setHtml($("#u-panel"), user ? panel(user) : "");
}

// -- what the panel does --------------------------------------------------------------------

// Change the user open, then show the list anew; an error stays in the panel.
async function change(action, done) {
  const user = openUser();
  if (!user) return;
  await guard(async () => {
    await action(user);
    removing = false;
    await loadUsers();
    toast(done(users.find((now) => now.name === user.name) || user));
  }, $("#u-error"));
}

function needed(value, message, selector) {
  if (value) return true;
  showInline($("#u-error"), new Error(message));
  $(selector).focus();
  return false;
}

function setPassword() {
  const password = $("#u-new-password").value;
  if (!needed(password, "Enter the new password.", "#u-new-password")) return;
  change(
    (user) => put(userPath(user.name), { password }),
    (user) => `Set a new password for “${user.name}”.`,
  );
}

function grant() {
  const datasource = $("#u-grant-ds").value;
  const readOnly = $("#u-grant-ro").checked;
  change(
    (user) => put(`${userPath(user.name)}/grants/${q(datasource)}`, { read_only: readOnly }),
    (user) => `Granted “${datasource}” to “${user.name}”${readOnly ? ", read-only" : ""}.`,
  );
}

function revokeGrant(item) {
  const { datasource } = item.dataset;
  change(
    (user) => del(`${userPath(user.name)}/grants/${q(datasource)}`),
    (user) => `Revoked “${user.name}”'s grant of “${datasource}”.`,
  );
}

function revokeToken(item) {
  const { id } = item.dataset;
  change(
    (user) => del(`${userPath(user.name)}/tokens/${q(id)}`),
    (user) => `Revoked “${user.name}”'s API token ${id}.`,
  );
}

async function newToken() {
  const user = openUser();
  if (!user) return;
  await guard(async () => {
    const made = await post(`${userPath(user.name)}/tokens`);
    showToken(user.name, made.token);
    await loadUsers();
  }, $("#u-error"));
}

function askRemove(asking) {
  removing = asking;
  renderPanel();
  $(asking ? "#u-panel [data-act=remove-no]" : "#u-panel [data-act=remove]").focus();
}

const ACTIONS = {
  role: () =>
    change(
      (user) => put(userPath(user.name), { role: $("#u-role-select").value }),
      (user) => `“${user.name}” is now ${user.role === "admin" ? "an" : "a"} ${user.role}.`,
    ),
  password: setPassword,
  "new-token": newToken,
  "revoke-token": revokeToken,
  grant,
  "revoke-grant": revokeGrant,
  remove: () => askRemove(true),
  "remove-no": () => askRemove(false),
  "remove-yes": () =>
    change(
      (user) => del(userPath(user.name)),
      (user) => `Removed the user “${user.name}”.`,
    ),
};

function onPanelClick(event) {
  const button = event.target.closest("button[data-act]");
  if (!button) return;
  hideInline($("#u-error"));
  ACTIONS[button.dataset.act](button.closest("li[data-id], li[data-datasource]"));
}

// -- the new API token: shown once ----------------------------------------------------------

// The token lives only in the dialog's DOM while it is open: closing it (Close, Esc) empties it.
function showToken(name, token) {
  setHtml(
    $("#u-token-body"),
    html`<p>The API token of “${name}”, <strong>shown this once</strong>: copy it now. The server
        keeps only a digest of it and cannot show it again.</p>
      <code class="token-text" id="u-token-text" data-testid="u-token-text">${token}</code>
      <p class="hint">Sign in with it on the page (“Sign in with a token”), or send it as
        <code>Authorization: Bearer …</code> to the API.</p>`,
  );
  $("#u-copy-status").textContent = "";
  $("#u-token-dialog").showModal();
  $("#u-token-copy").focus();
}

async function copyToken() {
  const text = $("#u-token-text");
  if (!text) return;
  const status = $("#u-copy-status");
  try {
    await navigator.clipboard.writeText(text.textContent);
    status.textContent = "Copied.";
  } catch {
    // no clipboard for this page: the token selected, to copy by hand
    window.getSelection().selectAllChildren(text);
    status.textContent = "The browser refused to copy: the token is selected, copy it by hand.";
  }
}

function forgetToken() {
  setHtml($("#u-token-body"), "");
  $("#u-copy-status").textContent = "";
}

// -- the form that adds a user --------------------------------------------------------------

async function addUser(event) {
  event.preventDefault();
  const box = $("#u-add-error");
  hideInline(box);
  const name = $("#u-add-name").value.trim();
  if (!name) {
    showInline(box, new Error("Enter the new user's name."));
    $("#u-add-name").focus();
    return;
  }
  const body = { name, role: $("#u-add-role").value };
  const password = $("#u-add-password").value;
  if (password) body.password = password; // none: the user signs in with API tokens only
  await guard(async () => {
    const added = await post("/api/users", body);
    $("#u-add").reset();
    open = added.name;
    removing = false;
    await loadUsers();
    toast(`Added the ${added.role} “${added.name}”.`);
  }, box);
}

// -- wiring ---------------------------------------------------------------------------------

function loadIfShown() {
  if (state.get("view") === "users" && state.can("manage")) guard(loadUsers);
}

function onListClick(event) {
  const row = event.target.closest("[data-testid=u-manage]")?.closest("tr[data-name]");
  if (!row) return;
  open = open === row.dataset.name ? null : row.dataset.name;
  removing = false;
  render();
  if (open) $("#u-panel").scrollIntoView({ block: "nearest" });
}

export function setUp() {
  state.subscribe("view", loadIfShown);
  state.subscribe("session", loadIfShown);
  state.subscribe("datasources", () => {
    if (openUser()) renderPanel();
  });
  $("#u-add").addEventListener("submit", addUser);
  $("#u-rows").addEventListener("click", onListClick);
  $("#u-panel").addEventListener("click", onPanelClick);
  $("#u-token-copy").addEventListener("click", copyToken);
  $("#u-token-close").addEventListener("click", () => {
    forgetToken(); // at once: the dialog's "close" event comes a moment later
    $("#u-token-dialog").close();
  });
  $("#u-token-dialog").addEventListener("close", forgetToken); // Esc too
}
