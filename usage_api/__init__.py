"""The REST API for restaurant owners (PAT) and admins (API key)."""
