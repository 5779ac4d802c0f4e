"""OpenID Connect for operators' sign-in: the protocol without the panel around it.

`idtoken` and `authorize` are pure; `provider` talks to the provider over HTTP.
"""
