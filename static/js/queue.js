// The alert queue's keyboard: j/k move between rows, x selects, a assigns to me, c opens a case,
// Enter opens the alert. Every action is a real link or form button, so the page works without this.
const ROWS = "#alert-rows tr.alert-row";

function rows() {
  return [...document.querySelectorAll(ROWS)];
}

function focusedRow() {
  return document.activeElement?.closest?.(ROWS) || document.querySelector(`${ROWS}.is-focused`);
}

function focusRow(row) {
  if (!row) return;
  document.querySelectorAll(`${ROWS}.is-focused`).forEach((r) => r.classList.remove("is-focused"));
  row.classList.add("is-focused");
  row.setAttribute("tabindex", "-1");
  row.focus({ preventScroll: true });
  row.scrollIntoView({ block: "nearest" });
}

function move(step) {
  const all = rows();
  if (!all.length) return;
  const index = all.indexOf(focusedRow());
  focusRow(all[Math.min(all.length - 1, Math.max(0, index < 0 ? 0 : index + step))]);
}

function checkbox(row) {
  return row?.querySelector('input[type="checkbox"][name="alert_id"]');
}

// Bulk buttons act on the ticked rows; with none ticked, on the focused row.
function clickBulk(key) {
  const button = document.querySelector(`#bulk-form [data-key="${key}"]`);
  if (!button) return;
  const ticked = document.querySelectorAll('#alert-rows input[name="alert_id"]:checked');
  if (!ticked.length) {
    const box = checkbox(focusedRow());
    if (!box) return;
    box.checked = true;
  }
  button.click();
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, select, textarea, [contenteditable]")) return;
  if (!document.getElementById("alert-results")) return;
  const actions = {
    j: () => move(1),
    k: () => move(-1),
    x: () => { const box = checkbox(focusedRow()); if (box) box.checked = !box.checked; },
    a: () => clickBulk("assign-me"),
    c: () => clickBulk("create-case"),
    Enter: () => { const link = focusedRow()?.querySelector("td.cell-ref a"); if (link) window.location.assign(link.href); },
  };
  const action = actions[event.key];
  if (!action) return;
  if (event.key === "Enter" && event.target.closest("a, button")) return;  // links open themselves
  event.preventDefault();
  action();
});

// Clicking in a row makes it the keyboard's row.
document.addEventListener("click", (event) => {
  const row = event.target.closest(ROWS);
  if (row) {
    document.querySelectorAll(`${ROWS}.is-focused`).forEach((r) => r.classList.remove("is-focused"));
    row.classList.add("is-focused");
  }
});

// The new-alerts poll skips its turn while the tab is hidden (htmx filters would need eval).
document.body.addEventListener("htmx:beforeRequest", (event) => {
  if (document.hidden && event.target.id === "new-alerts") event.preventDefault();
});
