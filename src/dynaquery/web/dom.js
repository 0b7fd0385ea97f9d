// Small DOM helpers shared by the views.

// Parts of the page the signed-in role may not use are taken out of the document (renderFor),
// not only hidden; `$` still finds them where they are kept aside, so a view's code that fills
// them works the same whatever the role.
const aside = new Map(); // element taken out -> the comment that keeps its place

function findAside(selector) {
  for (const element of aside.keys()) {
    if (element.matches(selector)) return element;
    const found = element.querySelector(selector);
    if (found) return found;
  }
  return null;
}

export const $ = (selector, root = document) =>
  root.querySelector(selector) ?? (root === document ? findAside(selector) : null);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// Render the parts marked data-needs="manage|edit" only for a role that may (can(what)).
export function renderFor(can) {
  for (const element of document.querySelectorAll("[data-needs]")) {
    if (can(element.dataset.needs)) continue;
    const mark = document.createComment(`needs ${element.dataset.needs}`);
    element.replaceWith(mark);
    aside.set(element, mark);
  }
  for (const [element, mark] of aside) {
    if (!can(element.dataset.needs)) continue;
    mark.replaceWith(element);
    aside.delete(element);
  }
}

// Fill a <select> with [value, label] pairs, keeping `value` selected when it is still there.
export function fillSelect(select, items, { empty = null, value = select.value } = {}) {
  const options = items.map(([id, label]) => new Option(label, id));
  if (empty !== null) options.unshift(new Option(empty, ""));
  select.replaceChildren(...options);
  const kept = options.some((option) => option.value === value);
  select.value = kept ? value : options.length ? options[0].value : "";
}

// Arrow keys, Home and End move between the tabs of a tablist.
export function tabKeys(tablist, activate) {
  tablist.addEventListener("keydown", (event) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const tabs = $$("[role=tab]", tablist);
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    event.preventDefault();
    const step = event.key === "ArrowRight" ? 1 : -1;
    const next =
      event.key === "Home"
        ? 0
        : event.key === "End"
          ? tabs.length - 1
          : (at + step + tabs.length) % tabs.length;
    tabs[next].focus();
    activate(tabs[next]);
  });
}

// Show the tab `selected` of a set of tabs and its panel (aria-controls); hide the others.
export function selectTab(tabs, isSelected) {
  for (const tab of tabs) {
    const selected = isSelected(tab);
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`#${tab.getAttribute("aria-controls")}`).hidden = !selected;
  }
}
