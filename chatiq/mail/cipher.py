"""Secrets email needs at rest (the SMTP password, links inside queued jobs), encrypted
with a key derived from the server's secret, so the database alone does not reveal them."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Undecryptable(Exception):
    """Sealed with another secret key (CHATIQ_SECRET_KEY changed) or tampered with."""


def _fernet(secret: str) -> Fernet:
    # Its own HKDF label: the key is unrelated to the JWT secret and the cookie cipher's.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"chatiq mail secrets").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, value: str) -> str:
    return _fernet(secret).encrypt(value.encode()).decode()


def unseal(secret: str, sealed: str) -> str:
    try:
        return _fernet(secret).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        raise Undecryptable("cannot decrypt: was the server's secret key changed?") from None
