"""What every email builder gets: the pool, the server's secret, the organization's
settings and name. A builder returns the letters to send, or none when the email is no
longer due (an operator answered, the chat was erased, the link was spent)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chatiq.mail.messages import Letter
from chatiq.store.mail import MailSettings
from chatiq.store.outbox import Job


@dataclass(frozen=True)
class Context:
    pool: object
    secret: str
    settings: MailSettings
    org_name: str

    def link(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path


Builder = Callable[[Context, Job], Awaitable[list[Letter]]]
