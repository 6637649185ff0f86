"""What alerts cost the webhook, measured in process: server CPU per `help` message with
the default rules (past the 80 % monthly threshold, as after a crossing) and with every
rule off (twice: two such restaurants, whose difference is the noise), interleaved in
many short rounds.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.alerts_hot_path --database sqlite

The app runs in this process (Flask's test client, console mode: no Twilio send), so the
figure is this process's CPU time (`time.process_time`) per request — what the web tier
pays — and is far less disturbed by other load on the machine than req/s. Rounds
rotate the order; prints the median of each and the differences.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from alerts.rules import DEFAULT_RULES, Rule, save_rules
from bench.support import database, redis_url
from bot import create_app
from bot.runtime import Runtime
from store.db import make_engine
from store.migrations import upgrade
from store.restaurants import BotLimits, create_restaurant
from store.settings import Settings
from store.timeutil import utcnow
from tests.support.twilio import inbound_form, post_signed

CUSTOMERS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--per-round", type=int, default=100)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_url() as redis,
        database(args.database, Path(tmp)) as db_url,
    ):
        engine = make_engine(db_url)
        upgrade(engine)
        settings = Settings(
            database_url=db_url, redis_url=redis, redis_namespace=f"bench-{uuid.uuid4().hex[:8]}",
            twilio_auth_token="bench-token", log_level="WARNING",
        )  # fmt: skip
        runtime = Runtime(settings, engine=engine)
        # "off2" is a second restaurant with every rule off: off vs off2 shows the noise.
        numbers = {"on": "+966500000881", "off": "+966500000882", "off2": "+966500000883"}
        with runtime.transaction() as session:
            for name, number in numbers.items():
                create_restaurant(
                    session, settings, restaurant_id=name, name=name, whatsapp_number=number,
                    merchant_id="bench",
                    limits=BotLimits(10**8, 10**8, int(CUSTOMERS / 0.9)),
                )  # fmt: skip
            off = tuple(Rule(r.metric, r.threshold, enabled=False) for r in DEFAULT_RULES)
            save_rules(session, "off", off, utcnow())
            save_rules(session, "off2", off, utcnow())
        client = create_app(runtime=runtime).test_client()
        customers = [f"+9665{n:08d}" for n in range(CUSTOMERS)]

        def post(name: str, sender: str, body: str) -> None:
            form = inbound_form(to=numbers[name], sender=sender, body=body)
            answer = post_signed(client, settings.twilio_auth_token or "", form)
            assert answer.status_code == 200

        for name in numbers:  # open every conversation (on: past 80 % of the month)
            for sender in customers:
                post(name, sender, "hi")
        for name in numbers:  # warm up
            for sender in customers:
                post(name, sender, "help")
        cpu: dict[str, list[float]] = {name: [] for name in numbers}
        orders = [("on", "off", "off2"), ("off", "off2", "on"), ("off2", "on", "off")]
        for n in range(args.rounds):
            for name in orders[n % len(orders)]:
                started = time.process_time()
                for i in range(args.per_round):
                    post(name, customers[i % CUSTOMERS], "help")
                cpu[name].append((time.process_time() - started) / args.per_round * 1000)
        runtime.close()
    on, off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
    off2 = statistics.median(cpu["off2"])
    print(
        f"database: {args.database}; {args.rounds} rounds x {args.per_round} `help` messages each,"
        " in process, console mode"
    )
    print(
        f"server CPU per message (medians of rounds): alerts on {on:.3f} ms, off {off:.3f} ms,"
        f" off again {off2:.3f} ms"
    )
    print(
        f"on vs off: {(on / off - 1) * 100:+.1f} %; off again vs off (the noise):"
        f" {(off2 / off - 1) * 100:+.1f} %"
    )


if __name__ == "__main__":
    main()
