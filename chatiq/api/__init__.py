"""The JSON REST API under /api/v1 (PROTOCOL.md §6)."""
