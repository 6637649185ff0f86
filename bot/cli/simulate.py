"""`flask --app bot simulate --to +E164 --from +E164 "text"`: talk to the bot without Twilio.

Posts a correctly signed webhook to the running server, as Twilio would, then prints what
the bot answered (read from the database, waiting briefly for replies a worker sends).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import click
import httpx
from flask.cli import with_appcontext
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.cli.common import Command
from bot.context import runtime
from store.models import Conversation, Message

LOCAL_TOKEN_FILE = Path("instance") / "twilio-auth-token"


def _auth_token() -> str:
    token = runtime().settings.twilio_auth_token
    if token:
        return token
    if LOCAL_TOKEN_FILE.exists():
        return LOCAL_TOKEN_FILE.read_text().strip()
    raise click.ClickException(
        "no TWILIO_AUTH_TOKEN and no instance/twilio-auth-token: start the service with make run"
    )


def _default_url() -> str:
    settings = runtime().settings
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


@click.command(
    "simulate", cls=Command, help="Send a message to the bot as a customer and print its answers."
)
@click.option("--to", "to_number", required=True, help="The restaurant's WhatsApp number.")
@click.option("--from", "from_address", required=True, help="The customer's number.")
@click.option("--name", "profile_name", default="Guest", show_default=True)
@click.option("--button", "button_payload", help="A button payload (MENU, BRANCHES).")
@click.option("--url", "base_url", help="The server (default http://HOST:PORT).")
@click.option(
    "--wait", "wait_s", default=8.0, show_default=True, help="Seconds to wait for replies."
)
@click.argument("text", default="")
@with_appcontext
def simulate(
    to_number: str,
    from_address: str,
    profile_name: str,
    button_payload: str | None,
    base_url: str | None,
    wait_s: float,
    text: str,
) -> None:
    """Post one signed inbound message and print the replies."""
    url = (base_url or _default_url()).rstrip("/") + "/whatsapp/webhook"
    sid = "SM" + uuid.uuid4().hex
    form = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": runtime().settings.twilio_account_sid or "AC" + "0" * 32,
        "From": f"whatsapp:{from_address}",
        "To": f"whatsapp:{to_number}",
        "Body": text,
        "ProfileName": profile_name,
        "WaId": from_address.lstrip("+"),
        "NumMedia": "0",
    }
    if button_payload:
        form["ButtonPayload"] = button_payload
    signature = RequestValidator(_auth_token()).compute_signature(url, form)
    try:
        response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=15)
    except httpx.HTTPError as error:
        raise click.ClickException(f"cannot reach {url}: {error}") from None
    click.echo(f"you -> {to_number}: {text or '(no text)'}")
    if response.status_code != 200:
        raise click.ClickException(f"the server answered {response.status_code}: {response.text}")
    for line in _replies(sid, wait_s):
        click.echo(line)


def _replies(sid: str, wait_s: float) -> list[str]:
    """Wait until the message's replies are written (and sent), then describe them."""
    deadline = time.monotonic() + wait_s
    lines: list[str] = []
    while True:
        with runtime().read_transaction() as session:
            inbound = session.scalars(select(Message).where(Message.sid == sid)).first()
            if inbound is None:
                lines = ["(the message was not stored)"]
            elif inbound.status != "received":
                lines = [f"(no reply: the message was {inbound.status})"]
            else:
                replies = session.scalars(
                    select(Message)
                    .where(
                        Message.customer_id == inbound.customer_id,
                        Message.direction == "outbound",
                        Message.id > inbound.id,
                    )
                    .order_by(Message.id)
                ).all()
                pending = session.scalar(
                    select(Conversation.pending_replies).where(
                        Conversation.id == inbound.conversation_id
                    )
                )
                waiting = bool(pending) or any(r.status in ("queued", "sending") for r in replies)
                lines = [_describe(reply) for reply in replies] or ["(no reply yet)"]
                if waiting and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
        return lines


def _describe(reply: Message) -> str:
    what = reply.body if reply.body is not None else f"[template {reply.content_sid}]"
    return f"bot [{reply.status}]: {what}"
