"""The two languages visitors and operators meet ChatIQ in, and texts written in both."""

from __future__ import annotations

LANGUAGES = ("en", "uk")


def language_of(tag: str | None) -> str:
    """'uk-UA' → 'uk'; anything else (or nothing) → 'en'."""
    return "uk" if (tag or "").lower().startswith("uk") else "en"


def in_language(texts: dict | None, lang: str, fallback: str | None) -> str | None:
    """The text written for `lang`, else the fallback (which holds the other language)."""
    return ((texts or {}).get(lang) or "").strip() or fallback


def texts_and_fallback(en: str | None, uk: str | None) -> tuple[dict, str]:
    """Form fields → ({lang: text} for those written, the fallback: English, else Ukrainian)."""
    texts = {lang: text.strip() for lang, text in (("en", en), ("uk", uk)) if text and text.strip()}
    return texts, texts.get("en") or texts.get("uk") or ""
