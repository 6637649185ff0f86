"""The error class of a failed job: what operators filter dead letters by (SPEC §14).

It is the final exception's class name (`CatalogUnavailable`, `MalformedMessage`), except
where an exception in the chain names a more useful class in an `error_class` attribute:
Twilio send failures say `TwilioError:<code>` (`TwilioError:63016`), even when the actor
re-raised them as a `PermanentError`.
"""

from __future__ import annotations

import re

MAX_LENGTH = 100
# The shape of a class as a filter accepts it: a name, optionally `:` and a code.
ERROR_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z0-9_.-]+)?$")


def error_class(error: BaseException) -> str:
    """Return the error class of `error` (see the module's docstring)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 10:
        seen.add(id(current))
        named = getattr(current, "error_class", None)
        if isinstance(named, str) and named:
            return named[:MAX_LENGTH]
        current = current.__cause__ or current.__context__
    return type(error).__name__[:MAX_LENGTH]


def error_class_of_text(text: str | None) -> str:
    """Return the error class of an error recorded as text (`"Name: message"`, or the
    last line of a traceback, `"module.Name: message"`); `"Unknown"` when there is none."""
    if not text:
        return "Unknown"
    head = text.strip().splitlines()[-1].split(":", 1)[0].strip()
    name = head.rsplit(".", 1)[-1]
    return name[:MAX_LENGTH] if ERROR_CLASS.match(name) else "Unknown"
