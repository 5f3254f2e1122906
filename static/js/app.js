// Small enhancements only; every page works without this file.
document.documentElement.classList.add("js");

// Flash messages sent by HTMX responses as an HX-Trigger "flash" event.
document.body.addEventListener("flash", (event) => {
  const region = document.getElementById("flash");
  if (!region || !event.detail) return;
  const p = document.createElement("p");
  const category = ["success", "warning", "error"].includes(event.detail.category) ? event.detail.category : "info";
  p.className = `flash flash--${category}`;
  p.setAttribute("role", "status");
  p.textContent = event.detail.message;  // text, never HTML
  region.replaceChildren(p);
});

// Forms marked data-autosubmit submit when a select changes (tenant switcher).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form && event.target.matches("select")) form.requestSubmit();
});

// Close the narrow-screen menu by default on phones.
if (window.matchMedia("(max-width: 768px)").matches) {
  document.querySelectorAll("details.sidenav[open]").forEach((d) => d.removeAttribute("open"));
}

// Copy buttons for one-time secrets (API keys, password links).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  await navigator.clipboard.writeText(source.value || source.textContent.trim());
  button.textContent = "Copied";
});
