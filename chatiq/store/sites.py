"""Sites, who may work on them, and their widget settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from chatiq.store import db
from chatiq.store.accounts import User


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    org_id: int
    name: str
    domain: str | None
    site_key: str
    allowed_origins: list[str]
    enabled: bool
    created_at: datetime


# Column lists are constants of this module, never built from input.
_SITE_COLUMNS = "s.id, s.org_id, s.name, s.domain, s.site_key, s.allowed_origins, s.enabled, s.created_at"

# Visible sites for a user: all of the organization's for an OWNER, the assigned
# ones for an OPERATOR.
_ACCESS = ("s.org_id = %(org)s AND (%(owner)s OR EXISTS ("
           "SELECT 1 FROM site_operators so WHERE so.site_id = s.id AND so.user_id = %(uid)s))")


def _access_params(user: User) -> dict:
    return {"org": user.org_id, "owner": user.is_owner, "uid": user.id}


async def create_site(pool, *, org_id: int, name: str, domain: str | None,
                      allowed_origins: list[str], site_key: str) -> Site:
    row = await db.fetchone(
        pool,
        "INSERT INTO sites AS s (org_id, name, domain, allowed_origins, site_key)"
        " VALUES (%(org)s, %(name)s, %(domain)s, %(origins)s, %(key)s)"
        " RETURNING " + _SITE_COLUMNS,
        {"org": org_id, "name": name, "domain": domain, "origins": allowed_origins,
         "key": site_key})
    return Site(**row)


async def sites_for(pool, user: User) -> list[Site]:
    rows = await db.fetchall(
        pool, "SELECT " + _SITE_COLUMNS + " FROM sites s WHERE " + _ACCESS + " ORDER BY s.id",
        _access_params(user))
    return [Site(**r) for r in rows]


async def site_for(pool, user: User, site_id: int | None) -> Site:
    """A site the user may see, or NotFound (also for other tenants' sites)."""
    if site_id is None:
        raise db.NotFound("site not found")
    row = await db.fetchone(
        pool, "SELECT " + _SITE_COLUMNS + " FROM sites s WHERE s.id = %(id)s AND " + _ACCESS,
        {"id": site_id, **_access_params(user)})
    if row is None:
        raise db.NotFound("site not found")
    return Site(**row)


async def site_by_key(pool, site_key: str) -> Site | None:
    row = await db.fetchone(
        pool, "SELECT " + _SITE_COLUMNS + " FROM sites s WHERE s.site_key = %(k)s", {"k": site_key})
    return None if row is None else Site(**row)


async def update_site(pool, site_id: int, changes: dict) -> Site:
    """Apply the given fields (name, domain, allowed_origins, enabled)."""
    row = await db.fetchone(
        pool,
        "UPDATE sites AS s SET"
        " name = CASE WHEN %(set_name)s THEN %(name)s ELSE s.name END,"
        " domain = CASE WHEN %(set_domain)s THEN %(domain)s ELSE s.domain END,"
        " allowed_origins = CASE WHEN %(set_origins)s THEN %(origins)s::text[]"
        "                   ELSE s.allowed_origins END,"
        " enabled = CASE WHEN %(set_enabled)s THEN %(enabled)s ELSE s.enabled END"
        " WHERE s.id = %(id)s RETURNING " + _SITE_COLUMNS,
        {"id": site_id,
         "set_name": "name" in changes, "name": changes.get("name"),
         "set_domain": "domain" in changes, "domain": changes.get("domain"),
         "set_origins": "allowed_origins" in changes,
         "origins": changes.get("allowed_origins", []),
         "set_enabled": "enabled" in changes, "enabled": changes.get("enabled")})
    if row is None:
        raise db.NotFound("site not found")
    return Site(**row)


async def delete_site(pool, site_id: int) -> None:
    await db.fetchone(pool, "DELETE FROM sites WHERE id = %(id)s RETURNING id", {"id": site_id})


async def site_user_ids(pool, site: Site) -> list[int]:
    """Every user who may work on the site: the org's OWNERs and its assigned OPERATORs."""
    rows = await db.fetchall(
        pool,
        "SELECT u.id FROM users u WHERE u.org_id = %(org)s AND (u.role = 'OWNER' OR EXISTS ("
        " SELECT 1 FROM site_operators so WHERE so.site_id = %(site)s AND so.user_id = u.id))",
        {"org": site.org_id, "site": site.id})
    return [r["id"] for r in rows]


async def set_site_operators(pool, site_id: int, user_ids: list[int]) -> None:
    async with db.transaction(pool) as cur:
        await cur.execute("DELETE FROM site_operators WHERE site_id = %(s)s", {"s": site_id})
        for uid in user_ids:
            await cur.execute(
                "INSERT INTO site_operators (site_id, user_id) VALUES (%(s)s, %(u)s)",
                {"s": site_id, "u": uid})


async def give_sites(pool, user_id: int, site_ids: list[int]) -> None:
    """Let one user work on these sites too (the ones they had stay)."""
    async with db.transaction(pool) as cur:
        for site_id in site_ids:
            await cur.execute(
                "INSERT INTO site_operators (site_id, user_id) VALUES (%(s)s, %(u)s)"
                " ON CONFLICT DO NOTHING", {"s": site_id, "u": user_id})


async def widget_settings(pool, site_id: int) -> dict:
    row = await db.fetchone(
        pool, "SELECT settings FROM widget_settings WHERE site_id = %(s)s", {"s": site_id})
    return dict(row["settings"]) if row else {}


async def save_widget_settings(pool, site_id: int, changes: dict) -> dict:
    """Merge `changes` into the stored settings and return the result."""
    row = await db.fetchone(
        pool,
        "INSERT INTO widget_settings (site_id, settings) VALUES (%(s)s, %(c)s::jsonb)"
        " ON CONFLICT (site_id) DO UPDATE SET settings = widget_settings.settings || %(c)s::jsonb,"
        " updated_at = now() RETURNING settings",
        {"s": site_id, "c": json.dumps(changes)})
    return dict(row["settings"])


async def site_operator_map(pool, org_id: int) -> dict[int, set[int]]:
    """Site id → ids of the OPERATORs given that site, for one organization."""
    rows = await db.fetchall(
        pool, "SELECT so.site_id, so.user_id FROM site_operators so JOIN sites s"
              " ON s.id = so.site_id WHERE s.org_id = %(org)s", {"org": org_id})
    found: dict[int, set[int]] = {}
    for row in rows:
        found.setdefault(row["site_id"], set()).add(row["user_id"])
    return found


# --- origins the widget was refused from ------------------------------------------------

# Rows kept per site: the panel shows a handful; more would only be noise someone sent.
REFUSED_KEPT = 20


@dataclass(frozen=True)
class RefusedOrigin:
    site_id: int
    origin: str
    attempts: int
    last_seen: datetime


async def note_refused_origin(pool, site_id: int, origin: str) -> None:
    """Count a refusal of `origin`, keeping only the site's REFUSED_KEPT most recent."""
    async with db.transaction(pool) as cur:
        await cur.execute(
            "INSERT INTO refused_origins (site_id, origin) VALUES (%(site)s, %(origin)s)"
            " ON CONFLICT (site_id, origin) DO UPDATE"
            " SET attempts = refused_origins.attempts + 1, last_seen = now()",
            {"site": site_id, "origin": origin})
        await cur.execute(
            "DELETE FROM refused_origins WHERE site_id = %(site)s AND origin NOT IN ("
            " SELECT origin FROM refused_origins WHERE site_id = %(site)s"
            " ORDER BY last_seen DESC LIMIT %(kept)s)",
            {"site": site_id, "kept": REFUSED_KEPT})


async def refused_origins(pool, site_ids: list[int], days: int = 7) -> list[RefusedOrigin]:
    """Refusals of the last `days` days for these sites, newest first, minus origins the
    site has allowed since."""
    rows = await db.fetchall(
        pool,
        "SELECT r.site_id, r.origin, r.attempts, r.last_seen FROM refused_origins r"
        " JOIN sites s ON s.id = r.site_id"
        " WHERE r.site_id = ANY(%(ids)s) AND r.last_seen > now() - make_interval(days => %(days)s)"
        " AND NOT r.origin = ANY(s.allowed_origins)"
        " ORDER BY r.last_seen DESC",
        {"ids": site_ids, "days": days})
    return [RefusedOrigin(**r) for r in rows]


async def allow_origin(pool, site_id: int, origin: str) -> Site:
    """Add `origin` to the site's allowed origins (once) and forget its refusals."""
    async with db.transaction(pool) as cur:
        await cur.execute(
            "UPDATE sites s SET allowed_origins = CASE WHEN %(origin)s = ANY(s.allowed_origins)"
            " THEN s.allowed_origins ELSE array_append(s.allowed_origins, %(origin)s) END"
            " WHERE s.id = %(site)s RETURNING " + _SITE_COLUMNS,
            {"site": site_id, "origin": origin})
        row = await cur.fetchone()
        await cur.execute("DELETE FROM refused_origins WHERE site_id = %(site)s"
                          " AND origin = %(origin)s", {"site": site_id, "origin": origin})
    if row is None:
        raise db.NotFound("site not found")
    return Site(**row)
