// The case page: after an entry is added, the timeline reloads itself (hx-trigger on
// #timeline-refresh); this marks the new entry and brings it into view. Without it the page still works.
let fresh = null;

document.body.addEventListener("timeline-updated", (event) => {
  fresh = event.detail && typeof event.detail.entry === "string" ? event.detail.entry : null;
});

document.body.addEventListener("htmx:afterSettle", () => {
  if (!fresh) return;
  const entry = document.getElementById(`timeline-entry-${fresh}`);
  if (!entry) return;  // on a page not loaded yet: the flash message says it was added
  fresh = null;
  entry.classList.add("is-new");
  entry.scrollIntoView({ block: "nearest", behavior: "smooth" });
});
