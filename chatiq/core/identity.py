"""Verified visitor identity: the site's backend signs its customer's id, we check the hash.

Pure: no I/O. `decide` turns a site's identity settings and a join's `user` into what the
join may do; live/visitor.py acts on it and docs/identity.md explains it to site owners.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from chatiq.core.protocol import ProtocolError


def new_secret() -> str:
    """256 random bits as hex: the key a site's backend signs its user ids with."""
    return secrets.token_hex(32)


def sign(secret: str, user_id: str) -> str:
    """hex HMAC-SHA256(secret, user_id), both UTF-8: what the customer's backend computes."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, user_id: str, given: str) -> bool:
    """Constant time in the hash's content; upper-case hex is accepted too."""
    expected = sign(secret, user_id).encode()
    # Bytes, not str: compare_digest refuses non-ASCII strings with a TypeError.
    return hmac.compare_digest(expected, given.lower().encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Decision:
    """What a join may do with the identity it carried (or did not)."""

    user_id: str | None = None              # the verified customer id; None: anonymous
    error: ProtocolError | None = None      # why a sent identity was not accepted
    refuse: bool = False                    # the site enforces identity: end the connection


_MISSING = "this site accepts only visitors with a verified identity (user with id and hash)"
_BAD_HASH = "the identity's hash does not verify for this site"
_NO_SECRET = "this site has no identity secret yet; its owner finds it in the site settings"


def decide(secret: str | None, enforce: bool, user: dict | None) -> Decision:
    """`secret`/`enforce` are the site's settings (no secret yet: None), `user` the join's
    validated `user` field. With enforce off a bad identity is reported and ignored."""
    if user is None:
        if enforce:
            return Decision(error=ProtocolError("unauthorized", _MISSING, field="user"),
                            refuse=True)
        return Decision()
    if secret is None:
        error = ProtocolError("unauthorized", _NO_SECRET, field="user.hash")
    elif verify(secret, user["id"], user["hash"]):
        return Decision(user_id=user["id"])
    else:
        error = ProtocolError("unauthorized", _BAD_HASH, field="user.hash")
    return Decision(error=error, refuse=enforce)
