"""A stand-in for Twilio's REST API that the real `twilio` client talks to.

Point the client at it with a `TwilioHttpClient` whose `request()` rewrites scheme and host
to `FakeTwilio.url`. It serves message sends (`POST /2010-04-01/Accounts/{sid}/Messages.json`),
message fetches and Content API templates (`GET /v1/Content/{sid}`), records every send and
injects Twilio's failures (error codes, 429 with Retry-After, slow answers, dropped
connections).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from localdev._http import Fault, RecordedRequest, RecordLog, Reply, StandInServer

API = "2010-04-01"
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
_CONTENT = re.compile(r"^/v1/Content/(?P<sid>[^/]+)$")
# Our own read-only view of the recorded sends, for a process that runs us as a server.
INSPECT_PATH = "/_fake/sends"
# Faults with no path apply to message sends: that is what tests of delivery break.
SENDS = r"/Messages\.json$"

ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service unavailable",
    21211: "Invalid 'To' Phone Number",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21619: "A text message body or media urls must be specified.",
    21655: "The ContentSid is Invalid.",
    21656: "The ContentVariables Parameter is invalid.",
    63016: "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
}


def twilio_error(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """Return Twilio's JSON error body for `code`."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _rfc2822_now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


class FakeTwilio(StandInServer):
    """Twilio's Messages and Content APIs over real HTTP, recording what was sent.

    Parameters:
      account_sid(str): The account; "AC" + 32 random hex digits when None.
      auth_token(str): The token required with it (HTTP Basic); a random one when None.
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.messages: RecordLog[dict[str, Any]] = RecordLog()
        # sid -> fields replacing the default template's; every other HX... sid exists.
        self.content_templates: dict[str, dict[str, Any]] = {}
        self.missing_content: set[str] = set()
        self._created: dict[str, dict[str, Any]] = {}
        self._created_lock = threading.Lock()

    # -- what tests read ------------------------------------------------------------------

    def sent(self) -> list[dict[str, Any]]:
        """Return the sends Twilio accepted (answered 2xx), in arrival order."""
        return [m for m in self.messages if _accepted(m)]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least `count` sends were accepted; return them.

        Raises:
          AssertionError: when fewer arrived within `timeout` seconds.
        """
        if not self.messages.wait_until(
            lambda items: sum(1 for m in items if _accepted(m)) >= count, timeout
        ):
            seen = [
                {k: m.get(k) for k in ("To", "Body", "ContentSid", "status_code", "timed_out")}
                for m in self.messages
            ]
            raise AssertionError(
                f"FakeTwilio: expected at least {count} accepted sends within {timeout}s, "
                f"got {len(self.sent())}; all send attempts: {seen}"
            )
        return self.sent()

    def clear(self) -> None:
        """Forget recorded sends and requests (faults stay)."""
        self.messages.clear()
        self.clear_requests()
        with self._created_lock:
            self._created.clear()

    # -- fault injection ------------------------------------------------------------------

    def fail(
        self,
        status: int = 500,
        code: int = 20500,
        times: int | None = None,
        path_regex: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Answer Twilio's error `code` with `status` to the next `times` sends (all when None).

        `path_regex` None means message sends; pass ".*" for every request.
        """
        body = twilio_error(status, code)
        return self.add_fault(
            "fail", path_regex or SENDS, times=times, status=status, body=body, headers=headers
        )

    def timeout(
        self, seconds: float, times: int | None = None, path_regex: str | None = None
    ) -> Fault:
        """Accept the next sends but hold the answer `seconds` long, so clients time out."""
        return self.add_fault("timeout", path_regex or SENDS, times=times, seconds=seconds)

    def drop(self, times: int | None = None, path_regex: str | None = None) -> Fault:
        """Close the next sends' connections without an answer (and without sending)."""
        return self.add_fault("drop", path_regex or SENDS, times=times)

    # -- serving --------------------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Reply:
        if request.path == INSPECT_PATH and request.method == "GET":
            # Not Twilio's: lets a process that started us (benchmarks) read what arrived.
            fields = ("sid", "To", "From", "Body", "ContentSid", "status_code", "received_at")
            return Reply(200, {"sends": [{k: m.get(k) for k in fields} for m in self.messages]})
        if not self._authenticated(request):
            return Reply(
                401, twilio_error(401, 20003), {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
        if found := _MESSAGES.match(request.path):
            if request.method != "POST":
                return Reply(405, twilio_error(405, 20004, "Method not allowed"))
            if found["account"] != self.account_sid:
                return Reply(404, twilio_error(404, 20404))
            return self._create_message(request.form)
        if (found := _MESSAGE.match(request.path)) and request.method == "GET":
            with self._created_lock:
                resource = self._created.get(found["sid"])
            if resource is None or found["account"] != self.account_sid:
                return Reply(404, twilio_error(404, 20404))
            return Reply(200, resource)
        if (found := _CONTENT.match(request.path)) and request.method == "GET":
            resource = self.content(found["sid"])
            return Reply(200, resource) if resource else Reply(404, twilio_error(404, 20404))
        return Reply(404, twilio_error(404, 20404))

    def observe(self, request: RecordedRequest, reply: Reply | None, fault: Fault | None) -> None:
        found = _MESSAGES.match(request.path)
        if found is None or request.method != "POST":
            return
        # A held answer may never reach the client, yet the message went out: sid, no status.
        held = fault is not None and fault.kind == "timeout"
        payload = reply.payload if reply is not None and isinstance(reply.payload, dict) else {}
        created = reply is not None and 200 <= reply.status < 300
        self.messages.append(
            {
                **request.form,
                "account_sid": found["account"],
                "sid": payload.get("sid") if created else None,
                "status_code": None if held or reply is None else reply.status,
                "error_code": None if created else payload.get("code"),
                "timed_out": held,
                "dropped": reply is None,
                "received_at": request.received_at,
                "received_monotonic": request.received_monotonic,
            }
        )

    def content(self, sid: str) -> dict[str, Any] | None:
        """Return the Content resource `sid`, or None when it does not exist."""
        if sid in self.missing_content:
            return None
        if sid not in self.content_templates and not sid.startswith("HX"):
            return None
        url = f"https://content.twilio.com/v1/Content/{sid}"
        resource: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "friendly_name": "welcome_quick_reply",
            "language": "en",
            "variables": {"1": "restaurant_name", "2": "customer_name"},
            "types": {
                "twilio/quick-reply": {
                    "body": "Welcome to {{1}}, {{2}}!",
                    "actions": [
                        {"title": "Menu", "id": "MENU"},
                        {"title": "Branches", "id": "BRANCHES"},
                    ],
                }
            },
            "url": url,
            "date_created": "2024-05-01T09:30:00Z",
            "date_updated": "2024-05-01T09:30:00Z",
            "links": {
                "approval_create": f"{url}/ApprovalRequests/whatsapp",
                "approval_fetch": f"{url}/ApprovalRequests",
            },
        }
        resource.update(self.content_templates.get(sid, {}))
        return resource

    def _authenticated(self, request: RecordedRequest) -> bool:
        scheme, _, encoded = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Bytes, not str: compare_digest refuses non-ASCII text.
        return hmac.compare_digest(username.encode(), self.account_sid.encode()) and (
            hmac.compare_digest(password.encode(), self.auth_token.encode())
        )

    def _create_message(self, form: dict[str, str]) -> Reply:
        error = _invalid_send(form, self.missing_content)
        if error is not None:
            return Reply(400, twilio_error(400, error))
        sid = "SM" + secrets.token_hex(16)
        now = _rfc2822_now()
        uri = f"/{API}/Accounts/{self.account_sid}/Messages/{sid}"
        body = form.get("Body") if not form.get("ContentSid") else None
        resource = {
            "account_sid": self.account_sid,
            "api_version": API,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "1" if form.get("MediaUrl") else "0",
            # A long text travels as 153-character parts.
            "num_segments": str(-(-len(body) // 153)) if body and len(body) > 160 else "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": form.get("To"),
            "uri": f"{uri}.json",
        }
        with self._created_lock:
            self._created[sid] = resource
        return Reply(201, resource)


def _accepted(message: dict[str, Any]) -> bool:
    status = message.get("status_code")
    return status is not None and 200 <= status < 300


def _invalid_send(form: dict[str, str], missing_content: set[str]) -> int | None:
    """Return the Twilio error code Twilio gives this send, or None when it is valid."""
    if not form.get("To"):
        return 21604
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return 21603
    content_sid = form.get("ContentSid")
    if not form.get("Body") and not content_sid and not form.get("MediaUrl"):
        return 21619
    if content_sid and (not content_sid.startswith("HX") or content_sid in missing_content):
        return 21655
    if content_sid and form.get("ContentVariables"):
        try:
            variables = json.loads(form["ContentVariables"])
        except ValueError:
            return 21656
        if not isinstance(variables, dict):
            return 21656
    if len(form.get("Body") or "") > 1600:
        return 21617
    return None


def main(argv: list[str] | None = None) -> int:
    """Serve FakeTwilio until SIGTERM/SIGINT; print `TWILIO_URL=…` once listening."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid")
    parser.add_argument("--auth-token")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = FakeTwilio(args.account_sid, args.auth_token, port=args.port)
    server.latency = args.latency
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        print(f"TWILIO_URL={server.url}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
