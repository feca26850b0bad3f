"""The WebSocket consumer at /ocpp/<charge_point_id>: a transport adapter.

It negotiates and echoes the subprotocol, authenticates the charger (HTTP Basic, OCPP
security profiles 1 and 2), registers its channel name so any process can send it
commands, and feeds frames to the version's ChargePoint (ocpp_consumer.protocol).
Commands from the channel layer run as tasks: the consumer never waits for a charger's
answer inside a handler, so frames keep flowing while a command is outstanding.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import uuid

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import Error as DatabaseError

from accounts.channel_layer import RedisUnavailable, ResilientChannelsMixin, refuse_handshake
from accounts.network import scope_client_address
from chargepoints.identity import identity_is_valid
from chargepoints.services import (
    charge_point_mark_offline_many,
    charge_point_mark_online_many,
)
from ocpp_consumer import gc_policy, liveness, registry
from ocpp_consumer.auth import charger_authenticate
from ocpp_consumer.batching import run_service_many
from ocpp_consumer.v16.central_system import CentralSystem16
from ocpp_consumer.v201.central_system import CentralSystem201

logger = logging.getLogger(__name__)

# Subprotocol -> ChargePoint class. The OCPP 2.0.1 handlers register here too.
PROTOCOLS: dict[str, type] = {"ocpp1.6": CentralSystem16, "ocpp2.0.1": CentralSystem201}
CLOSE_NO_SUBPROTOCOL = 4002
RESTORE_WAIT_S = 5.0
REPLY_RETRY_PAUSES_S = (0.2, 1.0)  # between the attempts to deliver a command's answer


def choose_subprotocol(offered: list[str]) -> str | None:
    """The first subprotocol in our preference order (settings.OCPP_SUBPROTOCOLS) that
    the charger offered and we have handlers for."""
    for protocol in settings.OCPP_SUBPROTOCOLS:
        if protocol in offered and protocol in PROTOCOLS:
            return protocol
    return None


def basic_auth(headers: list[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, sep, password = decoded.partition(":")
            return (user, password) if sep else None
    return None


class _HandshakesFirst:
    """While many chargers are in their handshake at once (a fleet reconnecting after a
    restart), the frames of connected chargers wait: one event loop does both, and a
    handshake not accepted within daphne's connect timeout fails and is retried later, so
    under a full restart handshakes stalled behind frames failed by the thousand (issue
    20). Frames go on once fewer than settings.OCPP_HANDSHAKES_FIRST_ABOVE are pending."""

    MAX_WAIT_S = 2.0

    def __init__(self) -> None:
        self.pending = 0
        self._open: dict[int, asyncio.Event] = {}

    def _gate(self) -> asyncio.Event:
        loop_id = id(asyncio.get_running_loop())
        gate = self._open.get(loop_id)
        if gate is None:
            gate = self._open[loop_id] = asyncio.Event()
            gate.set()
        return gate

    def started(self) -> None:
        self.pending += 1
        if 0 < settings.OCPP_HANDSHAKES_FIRST_ABOVE < self.pending:
            self._gate().clear()

    def finished(self) -> None:
        self.pending -= 1
        if self.pending <= settings.OCPP_HANDSHAKES_FIRST_ABOVE:
            self._gate().set()

    async def wait(self) -> None:
        """At most MAX_WAIT_S per frame: a flood of handshakes that never end (wrong
        passwords, abandoned ones) must not stall connected chargers for good."""
        if 0 < settings.OCPP_HANDSHAKES_FIRST_ABOVE < self.pending:
            try:
                await asyncio.wait_for(self._gate().wait(), self.MAX_WAIT_S)
            except TimeoutError:
                pass


handshakes = _HandshakesFirst()

_keep_alive_tasks: dict[int, asyncio.Task] = {}


def _start_keep_alive() -> None:
    """One liveness.keep_alive() task per event loop (per process, under daphne)."""
    loop = asyncio.get_running_loop()
    task = _keep_alive_tasks.get(id(loop))
    if task is None or task.done():
        _keep_alive_tasks[id(loop)] = loop.create_task(liveness.keep_alive())


class OcppConsumer(ResilientChannelsMixin, AsyncWebsocketConsumer):
    """Outages (README "Reliability"): while Redis is down, frames are still answered and
    stored; the registration is restored when Redis returns. While the database is down,
    handshakes are refused with 503 and frames answered with CALLERROR InternalError
    (ocpp_consumer.protocol); the socket stays open either way."""

    charge_point = None
    registration = None
    replaced = False
    _restoring: asyncio.Task | None = None
    gc_token: int | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pending_commands: dict[asyncio.Task, str] = {}

    async def dispatch(self, message: dict) -> None:
        # Channels' dispatch runs close_old_connections() through the database thread
        # before every event: one thread hop per inbound frame, queued behind the group
        # commit. Our handlers reach the database only through database_sync_to_async
        # (which closes old connections itself), so the per-event hop is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        handshakes.started()
        try:
            await self._connect()
        finally:
            handshakes.finished()

    async def _connect(self) -> None:
        _start_keep_alive()
        # The server decoded the path once; decoding again would turn "..%252F" into "../".
        self.identity = self.scope["url_route"]["kwargs"]["charge_point_id"]
        protocol = choose_subprotocol(self.scope.get("subprotocols") or [])
        if not identity_is_valid(self.identity):
            logger.warning("refused a connection to an invalid charge point id %r", self.identity[:100])
            await self.close()
            return
        if protocol is None:
            # OCPP-J 1.6 section 3.1.2: finish the handshake without a subprotocol, then close.
            # Code 4002 mirrors 1002 (protocol error): daphne lets applications send only
            # 1000 and 3000-4999.
            await self.accept()
            await self.close(
                code=CLOSE_NO_SUBPROTOCOL,
                reason=f"No supported OCPP subprotocol offered; this server speaks {', '.join(p for p in settings.OCPP_SUBPROTOCOLS if p in PROTOCOLS)}",
            )
            return
        credentials = basic_auth(self.scope.get("headers") or [])
        user, password = credentials if credentials else (None, None)
        if user is not None and user != self.identity:
            logger.warning("%s: Basic-auth user %r does not match the charge point id", self.identity, user)
            await self.close()  # before accept: the handshake fails with HTTP 403
            return
        # Connect-time database work is set-based and batched (one query for all the
        # chargers connecting at the same moment, issue 3); the password check runs in a
        # pool of its own, with failed attempts limited (ocpp_consumer/auth.py, issue 16).
        try:
            charge_point = await charger_authenticate(
                identity=self.identity, password=password, protocol=protocol, address=scope_client_address(self.scope)
            )
        except DatabaseError:
            # The charger retries with back-off; a 503 says "later", not "go away" (403).
            logger.warning("%s: connection refused with 503: the database is unavailable", self.identity)
            await refuse_handshake(self, 503)
            raise StopConsumer from None
        if charge_point is None:
            logger.warning("%s: connection refused (unknown charger or wrong password)", self.identity)
            await self.close()
            return
        self.protocol = protocol
        self.charge_point = PROTOCOLS[protocol](self.identity, self, charge_point.pk, charge_point.registration_status)
        await self.accept(subprotocol=protocol)
        self.gc_token = gc_policy.connection_opened()
        self.registration = registry.Registration(channel_name=self.channel_name, protocol=protocol)
        try:
            old = await sync_to_async(registry.register, thread_sensitive=False)(self.identity, self.registration)
        except RedisUnavailable:
            old = None  # registered when Redis returns (channel_layer_recovered, or a Heartbeat)
        if old is not None and old.channel_name != self.channel_name:
            # One live connection per charger: the older one (in whichever process) closes.
            try:
                await self.channel_layer.send(old.channel_name, {"type": "ocpp.replaced"})
            except Exception:
                logger.warning("%s: could not tell the old connection to close", self.identity, exc_info=True)
        try:
            await run_service_many(charge_point_mark_online_many, "charge_points", (charge_point.pk, protocol))
        except DatabaseError:
            # (the next stored frame's touch marks it online)
            logger.warning("%s: could not mark the charger online: database unavailable", self.identity)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.charge_point is None:
            return
        if text_data is None:
            # OCPP-J uses text frames only; a binary frame is answered like malformed text.
            text_data = (bytes_data or b"").decode("utf-8", errors="replace")
        await handshakes.wait()
        await self.charge_point.route_frame(text_data)

    async def disconnect(self, code: int) -> None:
        if self.gc_token is not None:
            gc_policy.connection_closed(self.gc_token)
            self.gc_token = None
        for task, reply_to in list(self.pending_commands.items()):
            task.cancel()
            await self._reply(reply_to, {"result": "offline"}, retry=False)  # (not held up by Redis)
        if self.charge_point is None or self.registration is None:
            return
        if self._restoring is not None:  # (never left behind, never waited for long)
            await asyncio.wait({self._restoring}, timeout=RESTORE_WAIT_S)
        try:
            still_ours = await sync_to_async(registry.unregister, thread_sensitive=False)(
                self.identity, self.registration
            )
        except RedisUnavailable:
            # Removed by this process's keep-alive once Redis answers again.
            registry.unregister_later(self.identity, self.registration)
            still_ours = True
        if still_ours and not self.replaced:
            try:
                await run_service_many(charge_point_mark_offline_many, "charge_point_ids", self.charge_point.pk)
            except DatabaseError:
                # (the offline sweep catches it: no more heartbeats will come)
                logger.warning("%s: could not mark the charger offline: database unavailable", self.identity)

    def restore_registration_soon(self) -> None:
        """Re-assert the registry entry (if Redis lost it) without holding up the frame
        being answered; disconnect() waits for it, so it never outlives the connection."""
        if self.registration is None or self.replaced or (self._restoring is not None and not self._restoring.done()):
            return
        self._restoring = asyncio.get_running_loop().create_task(self._restore())

    async def _restore(self) -> None:
        try:
            await sync_to_async(registry.restore, thread_sensitive=False)(self.identity, self.registration)
        except RedisUnavailable:
            pass  # (logged once per outage)
        except Exception:
            logger.warning("%s: could not restore the registry entry", self.identity, exc_info=True)

    async def channel_layer_recovered(self) -> bool:
        """Redis answers again after an outage: re-register this socket (a restarted Redis
        has lost the registry)."""
        if self.registration is None or self.replaced:
            return False
        await sync_to_async(registry.restore, thread_sensitive=False)(self.identity, self.registration, probe=True)
        return True

    # --- channel layer events ----------------------------------------------------------

    async def ocpp_replaced(self, event: dict) -> None:
        self.replaced = True
        await self.close(code=1000, reason="Replaced by a newer connection of the same charge point")

    async def ocpp_command(self, event: dict) -> None:
        task = asyncio.get_running_loop().create_task(self._run_command(event))
        self.pending_commands[task] = event["reply_to"]
        task.add_done_callback(lambda t: self.pending_commands.pop(t, None))

    async def _run_command(self, event: dict) -> None:
        # The caller's timeout covers the whole call: the wait in the channel layer, the
        # queue behind this charger's other commands, and the charger's answer. What is left
        # of it when the command arrives is all the charger gets; nothing is sent late.
        remaining = float(event.get("deadline", time.time() + float(event["timeout"]))) - time.time()
        try:
            if remaining <= 0:
                raise TimeoutError
            answer = await self.charge_point.call_action(event["action"], event["payload"], remaining)
        except TimeoutError:
            reply = {"result": "timeout"}
        except asyncio.CancelledError:
            raise
        except Exception:
            # The caller (an API client, the portal) gets a reference, never our exception text.
            reference = uuid.uuid4().hex[:12]
            logger.exception("%s: command %s failed [error %s]", self.identity, event["action"], reference)
            reply = {"result": "error", "description": f"Internal error (reference {reference})"}
        else:
            if answer.message_type_id == 3:
                reply = {"result": "ok", "payload": answer.payload}
            else:
                reply = {
                    "result": "call_error",
                    "code": answer.error_code,
                    "description": answer.error_description,
                    "details": answer.error_details,
                }
        # The outcome is known: a disconnect from now on must neither cancel the
        # delivery of that answer (while it waits to try again) nor report "offline".
        self.pending_commands.pop(asyncio.current_task(), None)
        await self._reply(event["reply_to"], reply)

    async def _reply(self, reply_to: str, reply: dict, *, retry: bool = True) -> None:
        """Send a command's answer to the caller's reply channel, trying again a moment later
        when the send fails: after Redis restarted, the first send on a pooled connection it
        closed can fail, and a lost answer leaves the caller waiting out its whole timeout
        for a command the charger carried out (the outage drill, bench/outages.py). A second
        copy of an answer is harmless: the caller reads its reply channel once."""
        for pause in (*(REPLY_RETRY_PAUSES_S if retry else ()), None):
            try:
                await self.channel_layer.send(reply_to, reply)
                return
            except Exception:
                if pause is None:
                    logger.warning("%s: could not deliver a command answer", self.identity, exc_info=True)
                    return
                await asyncio.sleep(pause)
