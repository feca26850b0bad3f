"""The command bus: send an OCPP command to a charger from any process.

    from ocpp_consumer.commands import send
    send("CP-1", "RemoteStartTransaction", {"connectorId": 1, "idTag": "CARD-1"})
    -> {"status": "Accepted"}

The payload is validated against the action's request schema before anything is sent.
The command goes to the channel name of the consumer holding the charger's socket
(registered in Redis when it connected; a direct channel send, not group_send), which
makes the OCPP call as a task and sends the answer to this caller's reply channel.
"""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from ocpp.exceptions import OCPPError

from accounts.channel_layer import REDIS_ERRORS, RedisUnavailable
from accounts.outages import redis_outage
from ocpp_consumer import answers, registry, schemas, translate
from ocpp_consumer.command_errors import (  # noqa: F401 - the bus's public error names
    CallErrorReceived,
    ChargerOffline,
    CommandError,
    CommandTimeout,
    CommandUnavailable,
    InvalidAnswer,
    InvalidPayload,
    UnknownAction,
)
from ocpp_consumer.v16.central_system import COMMANDS as COMMANDS_16
from ocpp_consumer.v201 import items_per_message
from ocpp_consumer.v201.central_system import COMMANDS as COMMANDS_201

# Subprotocol -> the actions we may send. A 2.0.1 charger also accepts the 1.6 names that
# ocpp_consumer.translate turns into 2.0.1 requests (GetConfiguration, Reset Hard, ...).
COMMANDS: dict[str, frozenset[str]] = {"ocpp1.6": COMMANDS_16, "ocpp2.0.1": translate.accepted_actions(COMMANDS_201)}
# Time for the reply to travel back through Redis after the charger answered.
_REPLY_MARGIN_S = 2.0
_UNAVAILABLE = "Commands cannot reach chargers now: the message bus (Redis) is unavailable. Try again shortly."


async def send_async(
    identity: str, action: str, payload: dict, *, timeout: float | None = None, source: str = ""
) -> dict:
    """Send `action` with `payload` (camelCase, as on the wire) and return the charger's
    CALLRESULT payload. Raises ChargerOffline, CommandTimeout, CallErrorReceived,
    InvalidPayload, UnknownAction, or CommandUnavailable (at once, while Redis is down). What the answer tells about the charger
    (configuration keys, charging profiles) is recorded by ocpp_consumer.answers, the one
    place that does, with `source` naming the caller on a charging profile row ("api",
    "portal", "home-api:...")."""
    if timeout is None:
        timeout = settings.OCPP_COMMAND_TIMEOUT
    if not any(action in actions for actions in COMMANDS.values()):
        raise UnknownAction(f"{action} is not a command the central system sends")
    try:
        registration = await sync_to_async(registry.lookup, thread_sensitive=False)(identity)
    except RedisUnavailable:
        raise CommandUnavailable(_UNAVAILABLE) from None
    protocol = registration.protocol if registration else await _stored_protocol(identity)
    try:
        answer = await _send_async(identity, action, payload, registration, protocol, timeout=timeout)
    except CommandTimeout:
        await answers.record(identity, action, payload, None, source=source, protocol=protocol)
        raise
    except CallErrorReceived:
        if action == "SetChargingProfile":  # not taken: the charger's previous profile stays
            await answers.record(identity, action, payload, answers.REJECTED, source=source, protocol=protocol)
        raise
    await answers.record(identity, action, payload, answer, source=source, protocol=protocol)
    return answer


async def _send_async(
    identity: str,
    action: str,
    payload: dict,
    registration: registry.Registration | None,
    protocol: str,
    *,
    timeout: float,
) -> dict:
    if action not in COMMANDS.get(protocol, ()):
        raise UnknownAction(f"{action} is not a {protocol} command")
    translated = None
    if protocol == "ocpp2.0.1":
        if registration is None:  # before translating: a remote start must not be recorded for nothing
            raise ChargerOffline(f"Charge point {identity} is not connected")
        translated = await translate.prepare_async(identity=identity, action=action, payload=payload)
        if translated.local_answer is not None:
            return translated.local_answer
        action, payload = translated.action, translated.payload
    try:
        schemas.check(protocol, action, payload)
    except OCPPError as error:
        raise InvalidPayload(f"{action}: {error.description} ({error.details.get('cause', '')})") from None
    if registration is None:
        raise ChargerOffline(f"Charge point {identity} is not connected")
    if protocol == "ocpp2.0.1" and items_per_message.splits(action, payload):
        answer = await _send_in_parts(identity, registration, action, payload, timeout=timeout)
    else:
        answer = await _roundtrip(identity, registration, action, payload, timeout=timeout)
    _check_answer(identity, protocol, action, answer)
    if translated is not None:
        return await translate.answer_back_async(translated, answer)
    return answer


def _check_answer(identity: str, protocol: str, action: str, answer: dict) -> None:
    """A charger's answer must follow the action's response schema before anyone acts on
    it (the journal keeps it either way)."""
    try:
        schemas.check(protocol, action, answer, response=True)
    except OCPPError as error:
        cause = error.details.get("cause", "") if isinstance(error.details, dict) else ""
        raise InvalidAnswer(
            f"{identity} answered {action} with an invalid payload: {error.description}"
            + (f" ({cause})" if cause else "")
        ) from None


async def _send_in_parts(
    identity: str, registration: registry.Registration, action: str, payload: dict, *, timeout: float
) -> dict:
    """A 2.0.1 list request (GetVariables, SetVariables) in parts of at most the charger's
    ItemsPerMessage, asked for first when the device model does not have it yet; one joined
    answer. The timeout covers all the parts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    limit, known = await sync_to_async(items_per_message.known_limit)(identity=identity, action=action)
    if not known:
        try:
            asked = await _roundtrip(
                identity, registration, "GetVariables", items_per_message.limit_query(action), timeout=timeout
            )
        except CallErrorReceived:
            asked = {}
        limit = await sync_to_async(items_per_message.remember_limit)(identity=identity, action=action, answer=asked)
    parts = items_per_message.split(action, payload, limit) if limit else [payload]
    answers = []
    for part in parts:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise CommandTimeout(f"No answer from {identity} within {timeout:g} s")
        answers.append(await _roundtrip(identity, registration, action, part, timeout=remaining))
    return answers[0] if len(answers) == 1 else items_per_message.join(action, answers)


async def _roundtrip(
    identity: str, registration: registry.Registration, action: str, payload: dict, *, timeout: float
) -> dict:
    """One CALL to the consumer holding the charger's socket, and its CALLRESULT payload."""
    layer = get_channel_layer()
    # The default "specific" prefix on purpose: channels_redis serves every process-local
    # channel of one prefix from a single receive loop, but a holder of its receive lock
    # waits only on its own prefix's Redis list. A reply channel of another prefix, in a
    # process that also runs consumers (a Blue Current or portal socket sending a command),
    # could sit unread behind a consumer's receive until that consumer got a message.
    reply_channel = await layer.new_channel()
    if redis_outage.should_skip():
        raise CommandUnavailable(_UNAVAILABLE)
    try:
        await _send_command(layer, registration, action, payload, reply_channel, timeout)
    except REDIS_ERRORS as error:
        redis_outage.failed(error)
        raise CommandUnavailable(_UNAVAILABLE) from None
    try:
        async with asyncio.timeout(timeout + _REPLY_MARGIN_S):
            reply = await layer.receive(reply_channel)
    except TimeoutError:
        # Nobody answered at all: the process holding the socket is gone or overloaded.
        raise CommandTimeout(f"No answer from {identity} within {timeout:g} s") from None
    except REDIS_ERRORS as error:
        # (sent, so the charger may have carried it out: the answer is unknown)
        redis_outage.failed(error)
        raise CommandUnavailable(f"{_UNAVAILABLE} The command was sent; its answer was lost.") from None
    return _reply_payload(identity, reply, timeout)


async def _send_command(layer, registration, action: str, payload: dict, reply_channel: str, timeout: float) -> None:
    await layer.send(
        registration.channel_name,
        {
            "type": "ocpp.command",
            "action": action,
            "payload": payload,
            "reply_to": reply_channel,
            "timeout": timeout,
            # The moment the caller gives up (wall clock: the holder may be another host).
            # A command that reaches the holder later is never sent to the charger.
            "deadline": time.time() + timeout,
        },
    )
    redis_outage.succeeded()


def _reply_payload(identity: str, reply: dict, timeout: float) -> dict:
    result = reply.get("result")
    if result == "ok":
        return reply["payload"]
    if result == "call_error":
        raise CallErrorReceived(reply.get("code", "GenericError"), reply.get("description", ""), reply.get("details"))
    if result == "timeout":
        raise CommandTimeout(f"No answer from {identity} within {timeout:g} s")
    if result == "offline":
        raise ChargerOffline(f"Charge point {identity} disconnected before answering")
    raise CommandError(reply.get("description", "command failed"))


async def _stored_protocol(identity: str) -> str:
    """The protocol a charger last connected with (for one that is offline now)."""
    from chargepoints.models import ChargePoint

    stored = await ChargePoint.objects.filter(identity=identity).values_list("protocol", flat=True).afirst()
    return stored or next(iter(COMMANDS))


def send(identity: str, action: str, payload: dict, *, timeout: float | None = None, source: str = "") -> dict:
    """Synchronous send_async(), for views, Celery tasks, admin actions and shells.

    The wait for the charger may last the whole timeout (60 s by default): the calling
    thread's database connection goes back to the pool first (unless a transaction holds
    it), so a few slow chargers cannot starve the process's pool (PostgreSQL)."""
    release_database_connection()
    return async_to_sync(send_async)(identity, action, payload, timeout=timeout, source=source)


def release_database_connection() -> None:
    """Hand this thread's database connection back (to the pool) before a long wait; the
    next query takes one again. Not inside a transaction, which needs its connection."""
    if not connection.in_atomic_block:
        connection.close()
