"""What running requests and jobs "once more on a closed connection" costs when nothing fails.

`store.disconnects` listens to the pool's checkouts and checkins and wraps every view and
actor in a unit of work. This measures a checkout + checkin with and without those
listeners (alternating batches, so that a busy machine affects both alike) and the unit
wrapper around a function that does nothing.

    .venv/bin/python -m bench.disconnects                      # SQLite file (no round trip)
    .venv/bin/python -m bench.disconnects --database-url postgresql+psycopg://…/db
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import QueuePool

from store import disconnects
from store.disconnects import once_more_on_disconnect


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


def checkout(engine: Engine) -> Callable[[], None]:
    def cycle() -> None:
        with engine.connect():
            pass

    return cycle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    plain = create_engine(url, poolclass=QueuePool)
    watched = create_engine(url, poolclass=QueuePool)
    disconnects.watch(watched)
    cycles: dict[str, list[float]] = {"plain": [], "watched": []}
    for engine in (plain, watched):
        per_call_us(checkout(engine), args.calls)  # warm-up: the pool's first connection
    for _ in range(args.batches):
        cycles["plain"].append(per_call_us(checkout(plain), args.calls))
        cycles["watched"].append(per_call_us(checkout(watched), args.calls))
    units: dict[str, list[float]] = {"bare": [], "unit": []}
    for _ in range(args.batches):
        units["bare"].append(per_call_us(lambda: None, args.calls * 10))
        units["unit"].append(
            per_call_us(lambda: once_more_on_disconnect(lambda: None, what="x"), args.calls * 10)
        )
    print(f"database: {plain.url.get_backend_name()}; {args.batches} batches of {args.calls}")
    for name, figures in (*cycles.items(), *units.items()):
        print(
            f"{name:>8}: median {statistics.median(figures):6.2f} µs, best {min(figures):6.2f} µs"
        )
    checkout_cost = statistics.median(cycles["watched"]) - statistics.median(cycles["plain"])
    unit_cost = statistics.median(units["unit"]) - statistics.median(units["bare"])
    print(f"listeners: +{checkout_cost:.2f} µs per checkout; unit of work: +{unit_cost:.2f} µs")
    plain.dispose()
    watched.dispose()


if __name__ == "__main__":
    main()
