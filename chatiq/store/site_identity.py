"""A site's identity secret and whether it enforces verified visitors (site_identity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chatiq.core.identity import new_secret
from chatiq.store import db


@dataclass(frozen=True)
class SiteIdentity:
    site_id: int
    secret: str
    enforce: bool
    rotated_at: datetime


_COLUMNS = "site_id, secret, enforce, rotated_at"


async def identity_for_join(pool, site_id: int) -> SiteIdentity | None:
    """The site's settings, or None when no owner has looked at them yet (nothing to
    verify against, nothing enforced). Never creates a row: joins stay reads."""
    row = await db.fetchone(
        pool, "SELECT " + _COLUMNS + " FROM site_identity WHERE site_id = %(s)s", {"s": site_id})
    return None if row is None else SiteIdentity(**row)


async def ensure(pool, site_id: int) -> SiteIdentity:
    """The site's settings, generating its secret the first time (two callers at once
    agree on one secret: the loser's insert does nothing)."""
    await db.fetchone(
        pool,
        "INSERT INTO site_identity (site_id, secret) SELECT id, %(secret)s FROM sites"
        " WHERE id = %(s)s ON CONFLICT (site_id) DO NOTHING RETURNING site_id",
        {"s": site_id, "secret": new_secret()})
    found = await identity_for_join(pool, site_id)
    if found is None:  # the site was deleted in between
        raise db.NotFound("site not found")
    return found


async def rotate_secret(pool, site_id: int) -> SiteIdentity:
    """A new secret; hashes made with the old one stop verifying at once."""
    row = await db.fetchone(
        pool,
        "INSERT INTO site_identity (site_id, secret) SELECT id, %(secret)s FROM sites"
        " WHERE id = %(s)s"
        " ON CONFLICT (site_id) DO UPDATE SET secret = EXCLUDED.secret, rotated_at = now()"
        " RETURNING " + _COLUMNS,
        {"s": site_id, "secret": new_secret()})
    if row is None:
        raise db.NotFound("site not found")
    return SiteIdentity(**row)


async def set_enforce(pool, site_id: int, enforce: bool) -> SiteIdentity:
    await ensure(pool, site_id)
    row = await db.fetchone(
        pool,
        "UPDATE site_identity SET enforce = %(e)s WHERE site_id = %(s)s RETURNING " + _COLUMNS,
        {"s": site_id, "e": enforce})
    if row is None:
        raise db.NotFound("site not found")
    return SiteIdentity(**row)
