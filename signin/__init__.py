"""Signing in to the dashboard: server-side sessions, the failed sign-in limit, the
client's address behind trusted proxies (SPEC §14)."""
