"""Store rows turned into the contract's JSON objects (PROTOCOL.md §2, §4, §6)."""

from __future__ import annotations

from urllib.parse import quote

from chatiq.core.protocol import iso, make_id

# What the widget shows when a site has not chosen otherwise.
DEFAULT_SETTINGS = {
    "color": "#4f46e5",
    "secondaryColor": "#eef2ff",
    "position": "right",
    "size": "standard",
    "greeting": None,
    # (ext) language → greeting; `greeting` is for visitors whose language has none
    "greetings": {},
    "agentName": None,
    "agentAvatarUrl": None,
    "quickReplies": [],
    "showBranding": True,
}


def settings_object(stored: dict) -> dict:
    return {**DEFAULT_SETTINGS, **{k: v for k, v in stored.items() if k in DEFAULT_SETTINGS}}


def attachment_object(att_id: str | None, name: str | None, size: int | None,
                      mime: str | None, has_thumb: bool | None) -> dict | None:
    if att_id is None:
        return None
    # The name is only a label in the URL; quoted, since it may hold spaces, '#' or '?'.
    url = f"/files/{att_id}/{quote(name or 'file', safe='')}"
    return {"id": att_id, "name": name, "size": size, "mime": mime, "url": url,
            "thumbUrl": f"/files/{att_id}/thumb" if has_thumb else None}


def _author(row: dict) -> dict:
    kind = row["author_kind"]
    if kind == "operator":
        return {"kind": kind, "id": make_id("u", row["author_id"]),
                "name": row["operator_name"], "avatarUrl": row["operator_avatar"]}
    if kind == "visitor":
        # (ext) anonymous: the name is the fallback "Visitor #N", which panels may translate
        return {"kind": kind, "id": make_id("v", row["author_id"]),
                "name": row["visitor_name"] or f"Visitor #{row['author_id']}", "avatarUrl": None,
                "anonymous": row["visitor_name"] is None}
    return {"kind": kind, "id": None, "name": None, "avatarUrl": None}


def message_object(row: dict) -> dict:
    return {
        "id": make_id("m", row["id"]),
        "chatId": make_id("c", row["chat_id"]),
        "seq": row["seq"],
        "clientId": row["client_id"],
        "author": _author(row),
        "text": row["text"],
        "attachment": attachment_object(row["att_id"], row["att_name"], row["att_size"],
                                        row["att_mime"], row["att_thumb"]),
        "reactions": row["reactions"] or {},
        "createdAt": iso(row["created_at"]),
        "readAt": iso(row["read_at"]),
    }


def chat_summary(row: dict) -> dict:
    last = None
    if row["lm_id"] is not None:
        last = {"id": make_id("m", row["lm_id"]), "seq": row["lm_seq"], "text": row["lm_text"],
                "author": {"kind": row["lm_author_kind"]},
                "hasAttachment": row["lm_attachment_id"] is not None,
                "createdAt": iso(row["lm_created_at"])}
    return {
        "id": make_id("c", row["id"]),
        "siteId": make_id("s", row["site_id"]),
        "visitor": {
            "id": make_id("v", row["visitor_id"]),
            "name": row["visitor_name"] or f"Visitor #{row['visitor_id']}",
            # (ext) the name is the fallback above, which panels may translate
            "anonymous": row["visitor_name"] is None,
            "email": row["visitor_email"],
            "pageUrl": row["page_url"],
            "pageTitle": row["page_title"],
            "referrer": row["referrer"],
            "language": row["language"],
            "userAgent": row["user_agent"],
            "timezone": row["timezone"],
            "firstSeen": iso(row["first_seen"]),
            "lastSeen": iso(row["last_seen"]),
            # (ext) the site's customer id when their identity verified (docs/identity.md)
            "verified": row["visitor_external_id"] is not None,
            "userId": row["visitor_external_id"],
        },
        "status": row["status"],
        "assignedTo": make_id("u", row["assigned_to"]),
        "unread": row["unread"],
        "lastSeq": row["last_seq"],
        "operatorReadSeq": row["operator_read_seq"],
        "visitorReadSeq": row["visitor_read_seq"],
        "lastMessage": last,
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "closedAt": iso(row["closed_at"]),
    }


def site_object(site) -> dict:
    """site: a store.sites.Site (core knows rows and dataclasses only by their fields)."""
    return {"id": make_id("s", site.id), "name": site.name, "domain": site.domain,
            "siteKey": site.site_key, "allowedOrigins": list(site.allowed_origins),
            "enabled": site.enabled, "createdAt": iso(site.created_at)}


def user_object(user) -> dict:
    """user: a store.accounts.User."""
    return {"id": make_id("u", user.id), "organizationId": make_id("o", user.org_id),
            "email": user.email, "name": user.name, "role": user.role,
            "language": user.language, "avatarUrl": user.avatar_url}


def visitor_object(visitor) -> dict:
    """visitor: a store.visitors.Visitor."""
    return {"id": make_id("v", visitor.id), "name": visitor.display_name,
            "pageUrl": visitor.page_url, "pageTitle": visitor.page_title}
