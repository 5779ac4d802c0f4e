"""Email through each organization's own SMTP server: missed chats to the team, transcripts
to visitors, invitations and password resets, all delivered by the outbox worker.

`chatiq.mail.setup.setup_mail(app)` registers the sender; this package's __init__ imports
nothing, since the panel's strings (chatiq/mail/strings.py) load while the panel does.
"""
