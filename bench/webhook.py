"""Benchmark the webhook against a hello-world endpoint served by the same gunicorn line.

    .venv/bin/python -m bench.webhook --database sqlite
    .venv/bin/python -m bench.webhook --database postgresql
    .venv/bin/python -m bench.webhook --database postgresql --compare-events

`--compare-events` measures what conversation events cost the webhook instead (SPEC
§12): the same `help` load against two servers from the same Procfile line and code,
one with `INSIGHT_EVENTS=on` (the default) and one with `INSIGHT_EVENTS=off`, in
interleaved rounds A/B/A/B so machine noise does not decide; prints each side's req/s,
p50, p99 and the ratio.

In one run, alternating rounds: signed `help` messages from existing customers (each
answered with a real HTTP send to FakeTwilio at 0 ms latency) against the service, and a
hello-world Flask POST served by the Procfile's `web` command line. Prints req/s, p50,
p99 of each and the ratio, then the welcome latency (webhook received → FakeTwilio got
the send) at low load.

Alerts on vs off (SPEC §15): the same rounds also go to a second restaurant whose alert
rules are all off. The first keeps the default rules and, after the conversations opened
before the rounds, is past 80 % of its monthly conversations (the steady state after a
crossing: every message checks the thresholds against the counters and finds the firing
already known). `--alerts off` skips the comparison.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from twilio.request_validator import RequestValidator

from bench.support import (
    ROOT,
    cpu_seconds,
    database,
    free_port,
    load,
    percentile,
    process,
    procfile_line,
    redis_url,
    run,
    shell_env,
)

RESTAURANT_NUMBER = "+966500000777"
ALERTS_OFF_NUMBER = "+966500000778"


def signed(url: str, token: str, form: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    signature = RequestValidator(token).compute_signature(url, form)
    body = urllib.parse.urlencode(form).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    return body, headers


def inbound(sender: str, text: str, to: str = RESTAURANT_NUMBER) -> dict[str, str]:
    sid = "SM" + uuid.uuid4().hex
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:{sender}",
        "To": f"whatsapp:{to}",
        "Body": text,
        "ProfileName": "Bench",
        "WaId": sender.lstrip("+"),
        "NumMedia": "0",
    }


def fake_twilio(token: str, account: str) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localdev.fake_twilio",
            "--auth-token",
            token,
            "--account-sid",
            account,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    return child, line.split("=", 1)[1]


def sends(twilio_url: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{twilio_url}/_fake/sends", timeout=10) as response:
        return list(json.load(response)["sends"])


def compare_events(args: argparse.Namespace, env: dict[str, str], token: str) -> None:
    """`help` webhooks with conversation events on (A) and off (B), rounds A/B/A/B."""
    web = procfile_line("web")
    ports = {"on": free_port(), "off": free_port()}
    envs = {
        mode: {**env, "PORT": str(port), "INSIGHT_EVENTS": mode} for mode, port in ports.items()
    }
    customers = [f"+9665{n:08d}" for n in range(1, args.customers + 1)]

    def url(mode: str) -> str:
        return f"http://127.0.0.1:{ports[mode]}/whatsapp/webhook"

    with (
        process(web, envs["on"], f"http://127.0.0.1:{ports['on']}/healthz") as server_on,
        process(web, envs["off"], f"http://127.0.0.1:{ports['off']}/healthz") as server_off,
    ):
        servers = {"on": server_on, "off": server_off}
        for mode in ("on", "off"):  # every web process of each side warms up
            for n in range(args.warmup):
                sender = f"+9668{(n if mode == 'on' else 5000 + n):08d}"
                body, headers = signed(url(mode), token, inbound(sender, "hi"))
                request = urllib.request.Request(url(mode), data=body, headers=headers)
                urllib.request.urlopen(request, timeout=10).read()
        for start in range(0, len(customers), 50):  # open the customers' conversations
            batch = [
                signed(url("on"), token, inbound(c, "hi")) for c in customers[start : start + 50]
            ]
            load(ports["on"], "/whatsapp/webhook", batch, concurrency=8, processes=2)
        results: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
        for _ in range(args.rounds):
            for mode in ("on", "off"):
                requests = [
                    signed(url(mode), token, inbound(random.choice(customers), "help"))
                    for _ in range(args.requests)
                ]
                # The web processes' own CPU per request: far less moved by other load on
                # a shared machine than throughput is (the database server's work on
                # PostgreSQL is not in it; on SQLite it is).
                cpu_before = cpu_seconds(servers[mode].pid)
                figures = load(ports[mode], "/whatsapp/webhook", requests, args.concurrency)
                figures["cpu_ms"] = (
                    (cpu_seconds(servers[mode].pid) - cpu_before) * 1000 / len(requests)
                )
                results[mode].append(figures)
    print(
        f"database: {args.database}; {args.rounds} rounds x {args.requests} `help` requests per "
        f"side, A/B/A/B, {args.concurrency} connections; gunicorn: {web}"
    )
    for mode, label in (("on", "events on  (A)"), ("off", "events off (B)")):
        rates = [r["rate"] for r in results[mode]]
        print(
            f"{label}: {statistics.median(rates):7.0f} req/s median  "
            f"p50 {statistics.median(r['p50_ms'] for r in results[mode]):6.2f} ms  "
            f"p99 {max(r['p99_ms'] for r in results[mode]):6.2f} ms  "
            f"errors {sum(r['errors'] for r in results[mode]):.0f}  "
            f"(rounds: {', '.join(f'{rate:.0f}' for rate in rates)})"
        )
    for mode, label in (("on", "events on  (A)"), ("off", "events off (B)")):
        cpu = [r["cpu_ms"] for r in results[mode]]
        print(
            f"{label}: web processes' CPU {statistics.median(cpu):.3f} ms/request median "
            f"(rounds: {', '.join(f'{c:.3f}' for c in cpu)})"
        )
    cpu_on = statistics.median(r["cpu_ms"] for r in results["on"])
    cpu_off = statistics.median(r["cpu_ms"] for r in results["off"])
    print(f"web CPU per request on/off: {cpu_on / cpu_off:.3f} (+{cpu_on - cpu_off:.3f} ms)")
    pairs = [a["rate"] / b["rate"] for a, b in zip(results["on"], results["off"], strict=True)]
    ratio = statistics.median(r["rate"] for r in results["on"]) / statistics.median(
        r["rate"] for r in results["off"]
    )
    print(
        f"throughput on/off: {ratio:.3f} (events cost {100 * (1 - ratio):.1f} %; "
        f"per A/B pair: {', '.join(f'{p:.3f}' for p in pairs)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=3000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--welcomes", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=40, help="unmeasured welcomes first")
    parser.add_argument("--alerts", choices=("compare", "off"), default="compare")
    parser.add_argument(
        "--compare-events", action="store_true", help="events on vs off instead of hello world"
    )
    args = parser.parse_args()
    # Past 80 % of the monthly conversations once the measured customers are in (on).
    monthly_limit = int((args.customers + args.welcomes + args.warmup) / 0.9)

    token, account = uuid.uuid4().hex, "AC" + uuid.uuid4().hex
    twilio, twilio_url = fake_twilio(token, account)
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_url() as redis,
        database(args.database, Path(tmp)) as db_url,
    ):
        web_port, hello_port = free_port(), free_port()
        env = shell_env(
            DATABASE_URL=db_url,
            REDIS_URL=redis,
            REDIS_NAMESPACE=f"bench-{uuid.uuid4().hex[:8]}",
            TWILIO_ACCOUNT_SID=account,
            TWILIO_AUTH_TOKEN=token,
            TWILIO_API_BASE_URL=twilio_url,
            HOST="127.0.0.1",
            PORT=str(web_port),
            LOG_LEVEL="WARNING",
        )
        flask = [str(Path(sys.executable).parent / "flask"), "--app", "bot"]
        run([*flask, "db", "upgrade"], env)
        run(
            [*flask, "restaurants", "create", "--id", "bench", "--name", "Bench Grill",
             "--whatsapp-number", RESTAURANT_NUMBER, "--merchant-id", "bench",
             "--daily-limit", "100000000", "--per-minute-limit", "100000000",
             "--monthly-limit", str(monthly_limit), "--welcome-content-sid", "HX" + "b" * 32],
            env,
        )  # fmt: skip
        run(
            [*flask, "restaurants", "create", "--id", "bench-off", "--name", "Bench Grill Off",
             "--whatsapp-number", ALERTS_OFF_NUMBER, "--merchant-id", "bench",
             "--daily-limit", "100000000", "--per-minute-limit", "100000000",
             "--monthly-limit", str(monthly_limit), "--welcome-content-sid", "HX" + "b" * 32],
            env,
        )  # fmt: skip
        run([*flask, "alerts", "set", "--restaurant", "bench-off"], env)  # every rule off
        if args.compare_events:
            compare_events(args, env, token)
            twilio.terminate()
            twilio.wait()
            return
        web = procfile_line("web")
        hello = web.replace("'bot:create_app()'", "bench.hello:app")
        hello_env = {**env, "PORT": str(hello_port)}
        url = f"http://127.0.0.1:{web_port}/whatsapp/webhook"
        customers = [f"+9665{n:08d}" for n in range(1, args.customers + 1)]
        with (
            process(web, env, f"http://127.0.0.1:{web_port}/healthz"),
            process(hello, hello_env, f"http://127.0.0.1:{hello_port}/whatsapp/webhook"),
        ):
            # Warm-up: a few welcomes per web process first, unmeasured (each process pays
            # once for its first statements, connections and queue declarations).
            for n in range(args.warmup):
                body, headers = signed(url, token, inbound(f"+9668{n:08d}", "hi"))
                request = urllib.request.Request(url, data=body, headers=headers)
                urllib.request.urlopen(request, timeout=10).read()
            # Welcome latency at low load: one new customer at a time.
            started = {}
            for n in range(args.welcomes):
                sender = f"+9667{n:08d}"
                body, headers = signed(url, token, inbound(sender, "hi"))
                request = urllib.request.Request(url, data=body, headers=headers)
                started[f"whatsapp:{sender}"] = time.time()
                urllib.request.urlopen(request, timeout=10).read()
            arrived = {s["To"]: s["received_at"] for s in sends(twilio_url) if s.get("ContentSid")}
            welcome = sorted(arrived[to] - t0 for to, t0 in started.items() if to in arrived)
            # Existing customers: open their conversations first.
            restaurants = [RESTAURANT_NUMBER]
            if args.alerts == "compare":
                restaurants.append(ALERTS_OFF_NUMBER)
            for number in restaurants:
                for chunk_start in range(0, len(customers), 50):
                    batch = [
                        signed(url, token, inbound(c, "hi", number))
                        for c in customers[chunk_start : chunk_start + 50]
                    ]
                    load(web_port, "/whatsapp/webhook", batch, concurrency=8, processes=2)
            service, baseline, alerts_off = [], [], []
            for round_number in range(args.rounds):
                # Alerts on and off take turns going first (each round's load hits the
                # second one's database and Redis a little warmer).
                targets = [(RESTAURANT_NUMBER, service)]
                if args.alerts == "compare":
                    targets.append((ALERTS_OFF_NUMBER, alerts_off))
                    if round_number % 2:
                        targets.reverse()
                for number, results in targets:
                    requests = [
                        signed(url, token, inbound(random.choice(customers), "help", number))
                        for _ in range(args.requests)
                    ]
                    results.append(load(web_port, "/whatsapp/webhook", requests, args.concurrency))
                hello_requests = [
                    (b"x=1", {"Content-Type": "application/x-www-form-urlencoded"})
                ] * args.requests
                baseline.append(
                    load(hello_port, "/whatsapp/webhook", hello_requests, args.concurrency)
                )
    twilio.terminate()
    twilio.wait()

    def combine(results: list[dict[str, float]]) -> dict[str, float]:
        return {
            "rate": sum(r["rate"] for r in results) / len(results),
            "p50_ms": sum(r["p50_ms"] for r in results) / len(results),
            "p99_ms": max(r["p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results),
        }

    ours, hello_world = combine(service), combine(baseline)
    print(f"database: {args.database}; {args.rounds} rounds x {args.requests} requests, "
          f"{args.concurrency} connections; gunicorn: {web}")  # fmt: skip
    rows = [("webhook `help`", ours), ("hello world", hello_world)]
    if alerts_off:
        rows.insert(1, ("alerts off", combine(alerts_off)))
    for name, figures in rows:
        print(
            f"{name:16} {figures['rate']:8.0f} req/s  p50 {figures['p50_ms']:6.2f} ms  "
            f"p99 {figures['p99_ms']:6.2f} ms  errors {figures['errors']:.0f}"
        )
    print(f"throughput ratio webhook/hello: {ours['rate'] / hello_world['rate']:.3f}")
    if alerts_off:
        off = combine(alerts_off)
        print(
            f"alerts on vs off: {ours['rate']:.0f} vs {off['rate']:.0f} req/s "
            f"({(ours['rate'] / off['rate'] - 1) * 100:+.1f} %), p50 {ours['p50_ms']:.2f} vs "
            f"{off['p50_ms']:.2f} ms"
        )
    print(
        f"welcome latency ({len(welcome)} new customers, one at a time): "
        f"p50 {percentile(welcome, 50) * 1000:.2f} ms  p99 {percentile(welcome, 99) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
