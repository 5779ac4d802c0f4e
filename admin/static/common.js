// Behaviour every panel page shares: copy buttons and local times.

import { locale } from "./format.js";

for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    const label = button.textContent;
    button.textContent = button.dataset.copied || label;
    setTimeout(() => { button.textContent = label; }, 1500);
  });
}

// The navigation folds into a "Menu" button on narrow screens (panel.css decides when).
const navToggle = document.getElementById("nav-toggle");
const nav = document.getElementById("main-nav");
if (navToggle && nav) {
  const setOpen = (open) => {
    navToggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  };
  navToggle.addEventListener("click", () => setOpen(navToggle.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && nav.classList.contains("open")) {
      setOpen(false);
      navToggle.focus();
    }
  });
}

// A time zone never chosen yet starts as the browser's own (the owner's, most likely).
for (const input of document.querySelectorAll("input[data-browser-zone]")) {
  if (!input.value) {
    try { input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { /* old browser */ }
  }
}

for (const el of document.querySelectorAll("time.local-time")) {
  const when = new Date(el.dateTime);
  if (!Number.isNaN(when.getTime())) {
    el.textContent = when.toLocaleString(locale(), { dateStyle: "medium", timeStyle: "short" });
  }
}
