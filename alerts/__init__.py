"""Usage alerts, pace and notifications (SPEC §15)."""
