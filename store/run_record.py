"""What `make run` records so that commands in a second terminal reach the service it started.

`make run` starts its own Redis and demo catalog on free ports and generates local
secrets; its processes get them in their environment, a second terminal does not. So it
also writes every setting its processes got (the variables `store.settings` reads) to
`instance/make-run.env`, with its pid, and removes the file when it stops. The Flask CLI
takes from that file the variables its own environment leaves unset, while that pid is
alive: `flask --app bot dead-letters list` run from the project's directory then reaches
the same Redis, database and catalog as the running service.

The file is also a shell script of `KEY='value'` lines (`set -a; . instance/make-run.env`),
readable only by its owner since it holds the local secrets.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from store.settings import is_setting

RECORD = Path("instance") / "make-run.env"
_PID = "MAKE_RUN_PID"


def write(environ: Mapping[str, str], pid: int, path: Path = RECORD) -> None:
    """Record the settings in `environ` as those of the `make run` process `pid`."""
    lines = [
        f"# Written by `make run` (pid {pid}) for commands run beside it; removed when it stops.",
        f"{_PID}={pid}",
    ]
    for name in sorted(environ):
        value = environ[name]
        if is_setting(name) and value.strip() and "\n" not in value:
            lines.append(f"{name}={shlex.quote(value)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines) + "\n")
    partial.replace(path)  # a reader never sees half a file


def remove(pid: int, path: Path = RECORD) -> None:
    """Remove the record if it is still that of `pid` (a later `make run` may own it now)."""
    if _read(path).get(_PID) == str(pid):
        path.unlink(missing_ok=True)


def recorded(path: Path = RECORD) -> dict[str, str]:
    """Return the recorded settings, or nothing when no `make run` that wrote them runs."""
    values = _read(path)
    pid = values.pop(_PID, "")
    if not (pid.isdigit() and int(pid) > 0 and _alive(int(pid))):
        return {}
    return {name: value for name, value in values.items() if is_setting(name)}


def fill_in(environ: Mapping[str, str], path: Path = RECORD) -> dict[str, str]:
    """Return `environ` with the settings it leaves unset (or empty) taken from the record."""
    return {**recorded(path), **{name: value for name, value in environ.items() if value.strip()}}


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        name, equals, quoted = line.partition("=")
        if not equals or line.startswith("#"):
            continue
        try:
            words = shlex.split(quoted)
        except ValueError:
            continue
        values[name.strip()] = words[0] if words else ""
    return values


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True
