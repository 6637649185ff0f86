"""The catalog (Sufrah) API client over httpx, guarded by a circuit breaker."""
