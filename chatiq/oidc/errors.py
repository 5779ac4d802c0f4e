"""The one error a sign-in through a provider fails with, carrying why."""

from __future__ import annotations


class OidcError(Exception):
    """`reason` is a short fixed code (for the refusal page and log searches); `detail`
    explains this case for the log and never reaches the browser."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
