"""A few days of made-up conversations for the demo restaurant, through the real inbound code.

`make run` calls `flask --app bot demo history` so that insights are not empty on a fresh
machine. Nothing is written by hand: each message goes through `Reception.handle` — the
webhook's own path: customer, conversation, inbound row, replies in the outbox, jobs,
counters and conversation events — with an injected clock set to its moment in the past.
Then the waiting events are sealed and analyzed like any batch.

Deterministic (a random generator seeded by the date) and idempotent: message SIDs are
derived from the date, and a day whose first message is stored is skipped, so a restart
adds only the days that are new since. Replies are recorded as `simulated` and never
sent, even with a Twilio account configured. Lunch and dinner peaks, menu → category →
branch funnels, a few texts the bot does not understand (English and Arabic), some STOPs.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.allowances import MinuteAllowance
from bot.inbound import InboundMessage, Inbox
from bot.messenger import Outgoing, Sent
from bot.reception import Reception
from bot.runtime import Runtime
from bot.tenants import Tenant
from insights import batches
from insights.folding import fold_batch
from store.models import Message
from store.timeutil import local_date, utcnow, zone

logger = logging.getLogger(__name__)

# Where customers go, by menu position: the grills and the family meals sell; salads,
# sandwiches and hot drinks are never opened (a `never_opened` finding to show).
CATEGORY_WEIGHTS = {4: 9, 8: 7, 6: 6, 5: 5, 1: 3, 10: 3, 12: 2, 3: 1, 9: 1}
UNRECOGNISED = [
    "do you deliver?",
    "Do you deliver?",
    "هل يوجد توصيل؟",
    "هل يوجد توصيل؟",
    "what time do you close",
    "can I book a table for 4 people",
    "price of the mixed grill",
    "هل عندكم عروض اليوم",
]
GREETINGS = ["hi", "hello", "مرحبا", "السلام عليكم", "Hi there"]
NAMES = ["Sara", "Omar", "Noura", "Fahad", "Layla", "Khalid", "Huda", "Yousef", ""]
REGULARS = 18  # customers who come back on other days


class _NoMinuteWindow(MinuteAllowance):
    """History is written in a burst: the per-minute window (real time) does not apply."""

    def __init__(self) -> None:
        pass

    def take(self, restaurant_id: str, message_sid: str, limit: int) -> bool:
        return True

    def give_back(self, restaurant_id: str, message_sid: str) -> None:
        return None


class _Recorder:
    """Records replies as `simulated`, sends nothing, logs nothing."""

    def send(self, message: Outgoing) -> Sent:
        return Sent(sid="SM" + uuid.uuid4().hex, status="simulated")

    def fetch_content(self, content_sid: str) -> dict[str, Any]:
        return {"sid": content_sid}


@dataclass
class _Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass(frozen=True)
class HistoryResult:
    """What `write_history` did."""

    days: int
    skipped_days: int
    messages: int
    batches: int


def write_history(
    runtime: Runtime,
    tenant: Tenant,
    *,
    days: int,
    now: dt.datetime | None = None,
    warm: Callable[[], object] | None = None,
) -> HistoryResult:
    """Write `days` local days of conversations before today, then seal and analyze them.

    `warm` loads the catalog into the cache first (the replies are composed from it).
    """
    now = now or utcnow()
    if warm is not None:
        warm()
    clock = _Clock(now)
    reception = Reception(
        runtime.settings,
        runtime.sessions,
        runtime.autocommit,
        runtime.redis,
        runtime.keys,
        Inbox(_NoMinuteWindow(), runtime.catalog_peek, record_events=True),
        _Recorder(),
        runtime.broker,
        clock=clock,
    )
    today = local_date(now, tenant.timezone)
    written = skipped = 0
    for back in range(days, 0, -1):
        day = today - dt.timedelta(days=back)
        script = _day_script(tenant, day)
        if not script or _already_written(runtime, script[0].message.sid):
            skipped += 1
            continue
        for moment, message in ((m.at, m.message) for m in script):
            clock.now = moment
            reception.handle(tenant, message)
            written += 1
    sealed = batches.seal_now(runtime.sessions, runtime.broker, now, tenant.id)
    for batch_id in sealed:
        # Folded here so that insights are there at once; the analysis jobs the seal
        # enqueued find the batches analyzed and change nothing.
        with runtime.transaction() as session:
            fold_batch(session, batch_id, now=now)
    return HistoryResult(days - skipped, skipped, written, len(sealed))


@dataclass(frozen=True)
class _Scripted:
    at: dt.datetime
    message: InboundMessage


def _already_written(runtime: Runtime, sid: str) -> bool:
    with runtime.read_transaction() as session:
        return session.scalar(select(Message.id).where(Message.sid == sid)) is not None


def _day_script(tenant: Tenant, day: dt.date) -> list[_Scripted]:
    """Return one local day's messages, in order; the same for the same day."""
    rng = random.Random(day.toordinal())
    weekend = day.weekday() in (3, 4)  # Thursday and Friday evenings are busiest here
    starts = sorted(
        [_moment(rng, day, rng.gauss(13.2, 0.8)) for _ in range(rng.randint(4, 7))]
        + [_moment(rng, day, rng.gauss(20.5, 1.0)) for _ in range(rng.randint(5, 8) + 3 * weekend)]
        + [_moment(rng, day, rng.uniform(9, 23)) for _ in range(rng.randint(1, 3))]
    )
    script: list[_Scripted] = []
    zone_info = zone(tenant.timezone)
    for n, local in enumerate(starts):
        customer = (
            f"+9665599{rng.randrange(REGULARS):05d}"
            if rng.random() < 0.45
            else f"+9665598{day.toordinal() % 1000:03d}{n:02d}"
        )
        at = local.replace(tzinfo=zone_info).astimezone(dt.UTC)
        name = rng.choice(NAMES) or None
        for text, button in _conversation(rng):
            sid = f"SMdemo{day.isoformat().replace('-', '')}{len(script):04d}"
            script.append(
                _Scripted(
                    at,
                    InboundMessage(
                        sid=sid,
                        from_address=customer,
                        to_number=tenant.whatsapp_number,
                        body=text,
                        profile_name=name,
                        button_payload=button,
                    ),
                )
            )
            at += dt.timedelta(seconds=rng.randint(20, 150))
    script.sort(key=lambda item: item.at)
    return script


def _moment(rng: random.Random, day: dt.date, hour: float) -> dt.datetime:
    hour = min(max(hour, 8.0), 23.9)
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(
        hours=hour, seconds=rng.randint(0, 59)
    )


def _conversation(rng: random.Random) -> list[tuple[str, str | None]]:
    """Return (text, button payload) messages of one customer visit."""
    said: list[tuple[str, str | None]] = [(rng.choice(GREETINGS), None)]
    if rng.random() < 0.12:
        said.append((rng.choice(UNRECOGNISED), None))
    if rng.random() < 0.78:
        said.append(("", "MENU") if rng.random() < 0.5 else ("menu", None))
        if rng.random() < 0.72:
            said.append((_category(rng), None))
            if rng.random() < 0.3:
                said.append(("menu", None))
                said.append((_category(rng), None))
            if rng.random() < 0.45:
                said.append(("branches", None))
                if rng.random() < 0.7:
                    said.append((str(rng.randint(1, 3)), None))
    elif rng.random() < 0.5:
        said.append(("branches", None))
        said.append((str(rng.randint(1, 3)), None))
    if rng.random() < 0.15:
        said.append((rng.choice(UNRECOGNISED), None))
    if rng.random() < 0.025:
        said.append(("STOP", None))
    elif rng.random() < 0.03:
        said.append(("start", None))
    return said


def _category(rng: random.Random) -> str:
    numbers, weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    number = rng.choices(numbers, weights)[0]
    return (
        str(number) if rng.random() < 0.8 else "٠١٢٣٤٥٦٧٨٩"[number] if number < 10 else str(number)
    )
