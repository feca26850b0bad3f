"""Real daphne processes for end-to-end tests, sharing the test database and Redis.

Used by the e2e fixtures (tests/support/fixtures.py, for every e2e suite) and
the portal's browser test, which serves another ASGI application."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
SERVER_SETTINGS = "tests.support.server_settings"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database, as a DATABASE_URL for a server process."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def server_env(**overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SERVER_SETTINGS,
        "DATABASE_URL": database_url(),
        "PYTHONPATH": str(ROOT),
    }
    if not settings.EMBEDDED_REDIS:
        env["REDIS_URL"] = settings.REDIS_URL
    return {**env, **overrides}


def daphne_start(
    application: str, *, env: dict[str, str], log_name: str = "e2e-daphne", timeout: float = 30, port: int | None = None
) -> tuple[subprocess.Popen, int]:
    """Start daphne serving `application` on `port` (a free one when None); return once it
    accepts connections."""
    port = port or free_port()
    log_path = ROOT / "var" / f"{log_name}-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), application],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited; see {log_path}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                process.wait(timeout=10)
                raise RuntimeError(f"daphne did not listen within {timeout:g} s; see {log_path}") from None
            time.sleep(0.1)


def processes_stop(processes: list[subprocess.Popen], timeout: float = 10) -> None:
    """Terminate, and kill what has not exited in `timeout`; always waits, so no server is
    left holding a database connection when the test database is dropped."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
