// The widget settings page: the preview follows the form as the owner types.

const form = document.getElementById("settings-form");
const preview = document.getElementById("widget-preview");

if (form && preview) {
  const agent = document.getElementById("preview-agent");
  const avatar = document.getElementById("preview-avatar");
  const greeting = document.getElementById("preview-greeting");
  const quick = document.getElementById("preview-quick");
  const brand = document.getElementById("preview-brand");
  const defaultAgent = document.getElementById("preview-note").dataset.agentDefault;

  const update = () => {
    const value = (name) => form.elements[name].value.trim();
    preview.style.setProperty("--w-primary", form.elements.color.value);
    preview.style.setProperty("--w-secondary", form.elements.secondaryColor.value);
    preview.dataset.position = value("position");
    preview.dataset.size = value("size");
    agent.textContent = value("agentName") || defaultAgent;
    const url = value("agentAvatarUrl");
    avatar.hidden = !/^(https:\/\/|\/)/i.test(url);
    if (!avatar.hidden) avatar.src = url;
    // The greeting a visitor in the panel's language would see (the other one if missing).
    const uk = document.documentElement.lang === "uk";
    const shown = (uk && value("greeting_uk")) || value("greeting") || value("greeting_uk");
    greeting.textContent = shown;
    greeting.hidden = !shown;
    quick.replaceChildren(...form.elements.quickReplies.value.split("\n")
      .map((line) => line.trim()).filter(Boolean).slice(0, 10)
      .map((line) => { const chip = document.createElement("span"); chip.textContent = line; return chip; }));
    brand.hidden = !form.elements.showBranding.checked;
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
}
