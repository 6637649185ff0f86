"""Middleware of our own; each module overrides only the hooks it needs."""
