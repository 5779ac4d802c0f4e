"""Quick templates' text: shortcut rules and the variables a reply may hold. Pure."""

from __future__ import annotations

import re

VARIABLES = ("visitor.name", "operator.name", "site.name")
_VARIABLE = re.compile(r"\{(visitor\.name|operator\.name|site\.name)\}")
# Letters of any script, digits, "_" and "-": what can follow "/" in the reply box.
_SHORTCUT = re.compile(r"^[\w-]{1,32}$")


def clean_shortcut(raw: str) -> str | None:
    """"/Price" → "Price" (stored without the slash); None when it is not a shortcut."""
    value = raw.strip().removeprefix("/")
    return value if _SHORTCUT.match(value) else None


def render(text: str, *, visitor_name: str | None, operator_name: str | None,
           site_name: str | None) -> str:
    """Fill in {visitor.name}, {operator.name}, {site.name} in one pass (a name that
    itself looks like a variable stays as typed); other braces are left alone."""
    values = {"visitor.name": visitor_name or "", "operator.name": operator_name or "",
              "site.name": site_name or ""}
    return _VARIABLE.sub(lambda match: values[match.group(1)], text)
