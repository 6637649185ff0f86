"""`make run`: the whole service on 127.0.0.1, with stand-ins for what a laptop lacks.

Starts an embedded Redis when `REDIS_URL` is unset and the demo catalog when
`SUFRAH_API_BASE` is unset, runs the Procfile's `release`, seeds the demo, then runs the
Procfile's long-running processes (web, worker, scheduler) until Ctrl-C.

Each process runs in a session of its own and is stopped by a SIGTERM to its own pid, so
Dramatiq's master can stop its worker children gracefully (a signal to the whole process
group would reach the children twice and kill them mid-message).
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from actors.supervision import die_with_parent
from store import run_record

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
RECORD = INSTANCE / run_record.RECORD.name
LONG_RUNNING = ("web", "worker", "scheduler")
READY_TIMEOUT_S = 90


def read_procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """Return the Procfile's process types and their command lines."""
    processes = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            name, command = line.split(":", 1)
            processes[name.strip()] = command.strip()
    return processes


def local_secret(name: str) -> str:
    """Return a secret kept under instance/ (created on first use), e.g. the auth token."""
    path = INSTANCE / name
    if not path.exists():
        INSTANCE.mkdir(exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def local_fernet_key(name: str) -> str:
    """Return a Fernet key kept under instance/ (created on first use): `SECRETS_KEY`."""
    path = INSTANCE / name
    if not path.exists():
        from cryptography.fernet import Fernet

        INSTANCE.mkdir(exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


class LocalService:
    """The processes and stand-ins `make run` owns, and their orderly shutdown."""

    def __init__(self) -> None:
        self.env = dict(os.environ)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.redis = None
        self.catalog = None
        self.recorded = False
        self.stopping = threading.Event()

    def prepare_environment(self) -> None:
        env = self.env
        env.setdefault("HOST", "127.0.0.1")
        env.setdefault("PORT", "8000")
        require_free_port(env["HOST"], env["PORT"])
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        if not env.get("PROMETHEUS_MULTIPROC_DIR"):
            # Shared by web and worker processes, empty at start (prometheus-client's
            # multiprocess mode): /metrics then sums every process of this machine.
            metrics_dir = INSTANCE / "prometheus"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        if not env.get("SECRET_KEY"):
            # Signs the dashboard's sessions and CSRF tokens; kept, so sign-ins survive restarts.
            env["SECRET_KEY"] = local_secret("secret-key")
        if not env.get("TWILIO_AUTH_TOKEN"):
            # Console mode still validates webhook signatures; `simulate` signs with this.
            env["TWILIO_AUTH_TOKEN"] = local_secret("twilio-auth-token")
        if not env.get("SECRETS_KEY"):
            # Alert webhooks' signing secrets are stored encrypted with it (SPEC §15).
            env["SECRETS_KEY"] = local_fernet_key("secrets-key")
        # Local webhook receivers listen on 127.0.0.1, which production refuses.
        env.setdefault("ALERT_WEBHOOK_ALLOW_PRIVATE", "1")
        if not env.get("REDIS_URL"):
            from localdev.embedded_redis import EmbeddedRedis

            (INSTANCE / "redis").mkdir(parents=True, exist_ok=True)
            self.redis = EmbeddedRedis(directory=str(INSTANCE / "redis")).start()
            env["REDIS_URL"] = self.redis.url
            say(f"started embedded Redis (Valkey) on {self.redis.url}")
        if not env.get("SUFRAH_API_BASE"):
            from localdev.catalog_server import CatalogServer

            env.setdefault("SUFRAH_API_KEY", local_secret("catalog-api-key"))
            self.catalog = CatalogServer(api_key=env["SUFRAH_API_KEY"]).start()
            env["SUFRAH_API_BASE"] = self.catalog.url
            say(f"started the demo catalog API on {self.catalog.url}")
        # Commands in a second terminal find this service's settings (store.run_record).
        run_record.write(env, os.getpid(), RECORD)
        self.recorded = True

    def run_once(self, command: str) -> str:
        """Run a one-shot command to completion and return its stdout; stop on failure.

        It runs in a session of its own, so a Ctrl-C lets it finish (a migration or the
        seed is never cut in half) and stops `make run` right after.
        """
        result = subprocess.run(
            ["/bin/sh", "-c", command],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            start_new_session=True,
        )
        sys.stderr.write(result.stderr)
        if self.stopping.is_set():
            raise SystemExit("make run: interrupted")
        if result.returncode != 0:
            raise SystemExit(f"make run: `{command}` failed with exit code {result.returncode}")
        return result.stdout

    def start(self, name: str, command: str) -> None:
        self.processes[name] = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
            preexec_fn=die_with_parent,
            stdin=subprocess.DEVNULL,
        )

    def wait_until_ready(self, url: str) -> bool:
        """Wait for our web process to answer /readyz; False when interrupted meanwhile."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.stopping.is_set():
                return False
            self.check_children()
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"make run: {url}/readyz did not answer 200 in {READY_TIMEOUT_S}s")

    @property
    def started_anything(self) -> bool:
        """Whether there is anything of ours to stop."""
        return bool(self.processes) or self.redis is not None or self.catalog is not None

    def check_children(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None and not self.stopping.is_set():
                raise SystemExit(f"make run: {name} exited with code {process.returncode}")

    def stop(self) -> None:
        self.stopping.set()
        if self.recorded:
            run_record.remove(os.getpid(), RECORD)
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        # The worker finishes in-flight messages first (--worker-shutdown-timeout, 10 s).
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.catalog is not None:
            self.catalog.stop()
        if self.redis is not None:
            self.redis.stop()


def require_free_port(host: str, port: str) -> None:
    """Stop with one line when `host:port` is taken (e.g. by another `make run`).

    Checked before anything starts: otherwise the other server would answer our
    readiness check, and our demo seed would have revoked its credentials.
    """
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise SystemExit(f"make run: PORT must be a port number, got {port!r}")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as error:
            raise SystemExit(
                f"make run: {host}:{port} is already in use ({error.strerror});"
                " stop what runs there or choose another PORT=…"
            ) from None


def without_password(url: str) -> str:
    """Return `url` with any password in it replaced by `***` (for printing)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))


def say(line: str) -> None:
    """Print a line for the person running `make run`."""
    print(line, flush=True)


def main() -> None:
    """Start everything, print how to use it, and run until interrupted."""
    service = LocalService()

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        service.stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    procfile = read_procfile()
    try:
        service.prepare_environment()
        service.run_once(procfile["release"])
        seeded = service.run_once("flask --app bot demo seed")
        # A few past days of conversations, so the demo's insights are not empty.
        history = service.run_once("flask --app bot demo history")
        for name in LONG_RUNNING:
            service.start(name, procfile[name])
        url = f"http://{service.env['HOST']}:{service.env['PORT']}"
        if not service.wait_until_ready(url):
            return
        values = dict(line.split(": ", 1) for line in seeded.splitlines() if ": " in line)
        say("")
        say("restaurant-bot is running (Ctrl-C stops everything).")
        say(f"URL: {url}")
        who = "owners: the restaurant id and PAT below; operators: the admin key"
        say(f"Dashboard: {url}/dashboard/ ({who})")
        say(f"Restaurant ID: {values['Restaurant ID']}")
        say(f"PAT: {values['PAT']}")
        say(f"Admin key: {values['Admin key']}")
        say(f"Redis: {without_password(service.env['REDIS_URL'])}")
        say(f"Catalog API: {service.env['SUFRAH_API_BASE']}")
        say("Try (then 'menu', a category number, 'branches', 'help'):")
        say(
            f"  .venv/bin/flask --app bot simulate --to {values['WhatsApp number']}"
            f" --from +966511111111 --url {url} {shlex.quote('hello')}"
        )
        say(
            f"  curl -H 'Authorization: Bearer {values['PAT']}' "
            f"-H 'X-Restaurant-Id: {values['Restaurant ID']}' {url}/api/usage"
        )
        say(history.strip() or "Demo history: none written")
        say("Read the demo restaurant's conversation insights (last 7 days):")
        say(
            f"  curl -H 'Authorization: Bearer {values['PAT']}' "
            f"-H 'X-Restaurant-Id: {values['Restaurant ID']}' {url}/api/insights"
        )
        say(f"  .venv/bin/flask --app bot insights show --restaurant {values['Restaurant ID']}")
        say(
            f"Commands run from {ROOT} in another terminal use this service's Redis, database"
            f" and catalog (recorded in {RECORD.relative_to(ROOT)} while it runs), e.g.:"
        )
        say("  .venv/bin/flask --app bot dead-letters list")
        say("Import the demo's order history, then read what sells and when:")
        say(f"  .venv/bin/flask --app bot imports start --restaurant {values['Restaurant ID']}")
        say(
            f"  curl -H 'Authorization: Bearer {values['PAT']}' "
            f"-H 'X-Restaurant-Id: {values['Restaurant ID']}' '{url}/api/insights?from=…&to=…'"
        )
        while not service.stopping.wait(0.5):
            service.check_children()
    finally:
        if service.started_anything:
            say("make run: stopping…")
        service.stop()


if __name__ == "__main__":
    main()
