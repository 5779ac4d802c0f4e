"""Email through each organization's own SMTP server: missed chats to the team, transcripts
to visitors, invitations and password resets, all delivered by the outbox worker.

`chatiq.mail.setup.setup_mail(app)` registers the sender. Importing any part of the package
adds its strings to core/i18n's tables.
"""

from chatiq.mail import strings as _strings  # noqa: F401 - registers the texts
