"""Real outages for the fault tests: a throwaway redis-server to stop and start again, a
PostgreSQL database that refuses connections for a while, and a charger speaking raw
OCPP-J frames (so a test sees every answer, error or not, and every close)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager

import websockets
from django.conf import settings

from tests.support.e2e import free_port


class ThrowawayRedis:
    """A redis-server of our own on a free port, with nothing kept on disk: stop() is an
    outage, start() the restart after it (empty, as a restarted cache server is)."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="csms-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the throwaway redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # (an outage, not a shutdown: no goodbye to the clients)
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def database_refusing_connections(application_name: str):
    """A PostgreSQL outage of the test database as a server process sees it: new
    connections are refused, and every open one of the processes started with
    PGAPPNAME=`application_name` is terminated, until the block ends. The test process's
    own connections (its pool's) are left alone."""
    import psycopg

    db = settings.DATABASES["default"]
    name = db["NAME"]
    admin = psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    try:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [name, application_name],
        )
        yield
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()


class RawCharger:
    """An OCPP-J charger at frame level: `call()` sends a CALL and returns the answer frame
    (CALLRESULT or CALLERROR); CALLs from the central system are answered with `answers`
    and recorded. `closed` tells whether the server ever closed the socket."""

    def __init__(self, ws, answers: dict[str, dict] | None = None) -> None:
        self.ws = ws
        self.answers = answers or {}
        self.received_calls: list[list] = []
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.closed_by_server: int | None = None

    @classmethod
    async def connect(cls, base_url: str, identity: str, password: str, *, protocol: str = "ocpp1.6", **kwargs):
        token = base64.b64encode(f"{identity}:{password}".encode()).decode()
        ws = await websockets.connect(
            base_url.rstrip("/") + "/" + identity,
            subprotocols=[protocol],
            additional_headers={"Authorization": f"Basic {token}"},
            open_timeout=10,
            ping_interval=None,
        )
        return cls(ws, **kwargs)

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    self.received_calls.append(frame)
                    await self.ws.send(json.dumps([3, frame[1], self.answers.get(frame[2], {})]))
                elif frame[1] in self._waiting:
                    self._waiting.pop(frame[1]).set_result(frame)
        except websockets.ConnectionClosed as closed:
            self.closed_by_server = closed.rcvd.code if closed.rcvd else 1006
        finally:
            if self.closed_by_server is None and self.ws.close_code is not None:
                self.closed_by_server = self.ws.close_code
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("socket closed"))

    async def call(self, action: str, payload: dict, *, timeout: float = 30) -> list:
        unique_id = f"raw-{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        self._waiting[unique_id] = future
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()
