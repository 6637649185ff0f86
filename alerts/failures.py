"""How a notification send can fail: worth retrying, or refused for good (SPEC §15)."""

from __future__ import annotations


class DeliveryFailed(Exception):
    """Retryable: 5xx or any other non-2xx answer, a timeout, a dropped connection, 4xx SMTP."""


class DeliveryRefused(Exception):
    """Permanent: a refused address, an e-mail address rejected with 5xx, a WhatsApp number
    Twilio refuses. The delivery is `failed`; no retry."""
