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

for (const el of document.querySelectorAll("time.local-time")) {
  const when = new Date(el.dateTime);
  if (!Number.isNaN(when.getTime())) {
    el.textContent = when.toLocaleString(locale(), { dateStyle: "medium", timeStyle: "short" });
  }
}
