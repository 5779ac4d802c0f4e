"""Every user-facing string in English and Ukrainian, and the one `translate`.

Each part keeps its strings beside it (panel/i18n.py, mail/strings.py, privacy/strings.py,
webhooks/strings.py) and hands them over with `add` when imported; keys are namespaced
("auth.", "mail.", …) so tables never collide. Keys starting with `js.` are handed to the
panel's JavaScript.
"""

from __future__ import annotations

LANGUAGES = ("en", "uk")

# language → key → text, every table added so far
_STRINGS: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}


def add(en: dict[str, str], uk: dict[str, str]) -> None:
    """Make a part's strings translatable (called once, by the module that defines them)."""
    _STRINGS["en"].update(en)
    _STRINGS["uk"].update(uk)


def translate(lang: str, key: str, **values) -> str:
    """The text for key in lang (English if missing there, the key itself as a last resort)."""
    text = _STRINGS.get(lang, _STRINGS["en"]).get(key) or _STRINGS["en"].get(key) or key
    return text.format(**values) if values else text


def known(key: str) -> bool:
    """Whether some table has this key (in English, which every key has)."""
    return key in _STRINGS["en"]


def tables() -> dict[str, dict[str, str]]:
    """language → key → text, for tests that check every key is translated."""
    return {lang: dict(table) for lang, table in _STRINGS.items()}


def js_strings(lang: str) -> dict[str, str]:
    table = _STRINGS.get(lang, _STRINGS["en"])
    return {key[3:]: text for key, text in table.items() if key.startswith("js.")}
