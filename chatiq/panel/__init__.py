"""Operator panel (server-rendered admin)."""
