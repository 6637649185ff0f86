"""What a failed send means: the one place that maps Twilio errors to retry, give up or opt out.

Every sender (the webhook's immediate send, the delivery actor) asks `classify()` rather
than keeping its own `except` ladder, the way RapidPro's courier classifies send errors.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

# Twilio error codes that no retry can fix (https://www.twilio.com/docs/api/errors).
INVALID_NUMBER = 21211
UNSUBSCRIBED = 21610
OUTSIDE_WINDOW = 63016
PERMANENT_CODES = {
    21211,  # invalid 'To' number
    21408,  # permission to send to this region not enabled
    21606,  # the 'From' number is not a valid, SMS-capable Twilio number
    21610,  # recipient unsubscribed (replied STOP)
    21612,  # not currently reachable via this channel
    21614,  # 'To' is not a valid mobile number
    21617,  # body exceeds 1,600 characters
    21619,  # no body, media or content
    21655,  # invalid ContentSid
    21656,  # invalid ContentVariables
    63016,  # outside WhatsApp's 24-hour window: a template is required
}
RATE_LIMITED_CODES = {20429, 14107, 63018}
# Our codes for failures that never got a Twilio answer (metrics label them from start-up).
CONNECTION, TIMEOUT, TRANSPORT = "connection", "timeout", "transport"
TRANSPORT_CODES = (CONNECTION, TIMEOUT, TRANSPORT)


class Verdict(enum.Enum):
    """What to do about a failed send."""

    RETRY = "retry"  # transient: try again later, with backoff
    GIVE_UP = "give_up"  # permanent: record the error, never resend
    OPT_OUT = "opt_out"  # permanent, and the customer must not be contacted again


@dataclass(frozen=True)
class SendFailure:
    """A classified send error.

    Parameters:
      verdict(Verdict): Retry, give up, or opt out.
      code(str): Twilio's error code, or the HTTP status, or "timeout"/"connection".
      message(str): A short human description (no secrets).
      timed_out(bool): The request may have reached Twilio; a retry may duplicate it.
    """

    verdict: Verdict
    code: str
    message: str
    timed_out: bool = False


def classify(error: BaseException) -> SendFailure:
    """Return what `error`, raised by a send, means for the message."""
    if isinstance(error, TwilioRestException):
        code = error.code
        if code == UNSUBSCRIBED:
            return SendFailure(Verdict.OPT_OUT, str(code), _message(error))
        if code in RATE_LIMITED_CODES or error.status == 429 or error.status >= 500:
            return SendFailure(Verdict.RETRY, str(code or error.status), _message(error))
        if code in PERMANENT_CODES or 400 <= error.status < 500:
            return SendFailure(Verdict.GIVE_UP, str(code or error.status), _message(error))
        return SendFailure(Verdict.RETRY, str(code or error.status), _message(error))
    if isinstance(error, requests.ConnectTimeout):
        # Never connected, so Twilio cannot have the message: safe to retry freely.
        return SendFailure(Verdict.RETRY, CONNECTION, "cannot reach Twilio: connect timeout")
    if isinstance(error, requests.Timeout | TimeoutError):
        return SendFailure(Verdict.RETRY, TIMEOUT, "Twilio did not answer in time", True)
    if isinstance(error, requests.ConnectionError | ConnectionError):
        reason = f"cannot reach Twilio: {type(error).__name__}"
        return SendFailure(Verdict.RETRY, CONNECTION, reason)
    if isinstance(error, requests.RequestException | TwilioException):
        return SendFailure(Verdict.RETRY, TRANSPORT, f"{type(error).__name__}")
    raise error


def _message(error: TwilioRestException) -> str:
    return (error.msg or f"HTTP {error.status}").strip()[:500]
