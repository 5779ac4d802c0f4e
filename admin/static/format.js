// Dates and times in the page's language.

export function locale() {
  return document.documentElement.lang === "uk" ? "uk-UA" : "en-GB";
}

export function shortTime(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const now = new Date();
  const sameDay = when.toDateString() === now.toDateString();
  return sameDay
    ? when.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" })
    : when.toLocaleDateString(locale(), { day: "numeric", month: "short" });
}

export function clockIn(timeZone) {
  try {
    return new Date().toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", timeZone });
  } catch {
    return "";
  }
}
