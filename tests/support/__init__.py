"""Helpers shared by the test modules (databases, Redis, data factories)."""
