"""Callers of webhook gates (an adapter family of its own)."""
