"""Running calls at the same instant, as simultaneous requests or workers would."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def at_once(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run each call in a thread of its own, all released together by one barrier; return
    their results (an exception raised is returned in its place), in finishing order."""
    results: list[Any] = []
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> None:
        start.wait()
        try:
            results.append(call())
        except BaseException as error:
            results.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
