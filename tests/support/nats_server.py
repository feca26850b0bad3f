"""A real nats-server of a test's own, on free ports: stopped and started again to play an
outage, its users changed and reloaded, its connections read from the monitoring port."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.support.e2e import free_port

BINARY = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    def __init__(self, directory: Path):
        self.port = free_port()
        self.monitor_port = free_port()
        self.config_path = directory / "nats.conf"
        self.log_path = directory / "nats.log"
        self.users: dict[str, str] = {}
        self.process: subprocess.Popen | None = None

    def url(self, user: str | None = None) -> str:
        credentials = f"{user}:{self.users[user]}@" if user else ""
        return f"nats://{credentials}127.0.0.1:{self.port}"

    def write_config(self, users: dict[str, str] | None = None) -> None:
        """Client and monitoring ports, and an authorization block when `users` are given."""
        self.users = dict(users or {})
        lines = [f"host: 127.0.0.1\nport: {self.port}\nhttp_port: {self.monitor_port}\n"]
        if self.users:
            entries = ", ".join(f"{{user: {json.dumps(u)}, password: {json.dumps(p)}}}" for u, p in self.users.items())
            lines.append(f"authorization {{ users = [ {entries} ] }}\n")
        self.config_path.write_text("".join(lines))

    def start(self, timeout: float = 10.0) -> None:
        if not self.config_path.exists():
            self.write_config()
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen([BINARY, "-c", str(self.config_path)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nats-server did not start; see {self.log_path}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                return sock.recv(4).startswith(b"INFO")
        except OSError:
            return False

    def reload(self) -> None:
        """Make the running server read its configuration again (users included)."""
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def connections(self) -> list[dict]:
        """The client connections the server holds (its /connz monitoring answer)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/connz?limit=1000", timeout=5) as answer:
            return json.load(answer).get("connections") or []
