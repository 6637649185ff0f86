"""Children that do not outlive the process that started them.

A launcher that is SIGKILLed (or crashes) cannot stop its children, and children started
in sessions of their own (so that a group signal does not reach them twice) are not
reached by the terminal either: they would run on as orphans, still consuming jobs or
holding a port. On Linux, `PR_SET_PDEATHSIG` has the kernel send the child a SIGTERM
when its parent dies, so it stops the way it would on an ordinary stop. Elsewhere this
is a no-op.
"""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1
# Looked up once, here: between fork and exec only the call itself should run.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """In a child between fork and exec (`preexec_fn`): SIGTERM me when my parent dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
