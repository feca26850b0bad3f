"""Remote start and stop of a transaction, for either protocol.

The one place that builds these requests (OCPP 1.6 RemoteStart/RemoteStopTransaction, OCPP
2.0.1 RequestStart/RequestStopTransaction) and sends them on the command bus. Every
interface (driver API, /API/, payment reservations, Blue Current, portal) calls these; each
maps the bus's errors (ocpp_consumer.command_errors) to its own answers once.
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from chargepoints.models import ChargePoint, Connector, IdToken, OcppVersion
from ocpp_consumer import commands
from ocpp_consumer.command_errors import CommandError, CommandTimeout, InvalidPayload
from sessions_app.models import ChargeSession
from sessions_app.transaction_events import remote_start_request_add, remote_start_request_answered

# The longest id token each protocol carries (1.6 idTag: CiString20; 2.0.1 idToken: 36).
ID_TAG_MAX_LENGTH = {OcppVersion.V16: 20, OcppVersion.V201: 36}


class NotStoppable(CommandError):
    """The session has no transaction id its charger would know it by (nothing was sent)."""


def is_v201(charge_point: ChargePoint) -> bool:
    return charge_point.protocol == OcppVersion.V201


def id_tag_check(*, charge_point: ChargePoint, id_tag: str) -> None:
    """Refuse a token the charger's protocol cannot carry (InvalidPayload), before anything is
    sent or paid."""
    limit = ID_TAG_MAX_LENGTH[OcppVersion.V201 if is_v201(charge_point) else OcppVersion.V16]
    if not id_tag or len(id_tag) > limit:
        protocol = "OCPP 2.0.1 idToken" if is_v201(charge_point) else "OCPP 1.6 idTag"
        raise InvalidPayload(f"An {protocol} has 1 to {limit} characters.")


def start_request(
    *, charge_point: ChargePoint, connector: Connector, id_tag: str, id_token_type: str | None = None
) -> tuple[str, dict]:
    """The request that starts a transaction on `connector` for `id_tag`.

    For OCPP 2.0.1 a RemoteStartRequest row is written first: its pk is the remoteStartId
    that links the station's TransactionEvent back to the request (and the driver)."""
    id_tag_check(charge_point=charge_point, id_tag=id_tag)
    if not is_v201(charge_point):
        return "RemoteStartTransaction", {"connectorId": connector.connector_id, "idTag": id_tag}
    token = IdToken.objects.filter(uid=id_tag).only("token_type", "user_id").first()
    token_type = id_token_type or (token.token_type if token is not None else "Central")
    evse_id = connector.evse.evse_id
    request = remote_start_request_add(
        charge_point=charge_point,
        id_token=id_tag,
        id_token_type=token_type,
        evse_id=evse_id,
        user_id=token.user_id if token is not None else None,
    )
    return "RequestStartTransaction", {
        "idToken": {"idToken": id_tag, "type": token_type},
        "remoteStartId": request.pk,
        "evseId": evse_id,
    }


def stop_request(*, session: ChargeSession) -> tuple[str, dict]:
    """The request that stops `session`: by its string id for OCPP 2.0.1, its integer id for
    1.6. NotStoppable when the session has no id its charger knows."""
    return stop_request_for(
        charge_point=session.charge_point,
        transaction_id=session.transaction_id or "",
        v201=session.ocpp_version == OcppVersion.V201,
    )


def stop_request_for(*, charge_point: ChargePoint, transaction_id: str, v201: bool = False) -> tuple[str, dict]:
    """The request that stops the transaction the charger knows as `transaction_id` (text as
    stored or typed): a string for OCPP 2.0.1, an integer for 1.6."""
    transaction_id = str(transaction_id).strip()
    if v201 or is_v201(charge_point):
        if not transaction_id or len(transaction_id) > 36:
            raise NotStoppable(f"Transaction {transaction_id!r} is not an OCPP 2.0.1 transaction id.")
        return "RequestStopTransaction", {"transactionId": transaction_id}
    if not (transaction_id.isascii() and transaction_id.isdigit() and int(transaction_id) < 2**31):
        raise NotStoppable(f"Transaction {transaction_id!r} is not an OCPP 1.6 transaction id.")
    return "RemoteStopTransaction", {"transactionId": int(transaction_id)}


def _start_answered(payload: dict, answer: dict | None, error: CommandError | None) -> None:
    """Record a 2.0.1 start request's outcome. After a timeout it stays "sent": the charger
    may still start, and the transaction then claims the request."""
    if "remoteStartId" not in payload or isinstance(error, CommandTimeout):
        return
    status = "NotSent" if error is not None else (answer or {}).get("status", "")
    remote_start_request_answered(
        remote_start_id=payload["remoteStartId"],
        status=status,
        transaction_id=(answer or {}).get("transactionId") or "",
    )


def remote_start(
    *,
    charge_point: ChargePoint,
    connector: Connector,
    id_tag: str,
    id_token_type: str | None = None,
    timeout: float | None = None,
    source: str = "",
) -> dict:
    """Ask the charger to start; the charger's answer (its `status` says whether it will).
    Raises the bus's errors (ChargerOffline, CommandTimeout, CallErrorReceived, ...)."""
    action, payload = start_request(
        charge_point=charge_point, connector=connector, id_tag=id_tag, id_token_type=id_token_type
    )
    try:
        answer = commands.send(charge_point.identity, action, payload, timeout=timeout, source=source)
    except CommandError as error:
        _start_answered(payload, None, error)
        raise
    _start_answered(payload, answer, None)
    return answer


async def remote_start_async(
    *,
    charge_point: ChargePoint,
    connector: Connector,
    id_tag: str,
    id_token_type: str | None = None,
    timeout: float | None = None,
    source: str = "",
) -> dict:
    """remote_start for async callers (WebSocket consumers): the database work in the ORM
    thread, the wait for the charger on the event loop."""
    action, payload = await database_sync_to_async(start_request)(
        charge_point=charge_point, connector=connector, id_tag=id_tag, id_token_type=id_token_type
    )
    try:
        answer = await commands.send_async(charge_point.identity, action, payload, timeout=timeout, source=source)
    except CommandError as error:
        await database_sync_to_async(_start_answered)(payload, None, error)
        raise
    await database_sync_to_async(_start_answered)(payload, answer, None)
    return answer


def remote_stop(*, session: ChargeSession, timeout: float | None = None, source: str = "") -> dict:
    """Ask the session's charger to stop it; the charger's answer. Raises NotStoppable or the
    bus's errors."""
    action, payload = stop_request(session=session)
    return commands.send(session.charge_point.identity, action, payload, timeout=timeout, source=source)


def remote_stop_transaction(
    *, charge_point: ChargePoint, transaction_id: str, timeout: float | None = None, source: str = ""
) -> dict:
    """Ask the charger to stop the transaction it knows as `transaction_id` (an operator's
    tool: the charger may know a transaction we do not)."""
    action, payload = stop_request_for(charge_point=charge_point, transaction_id=transaction_id)
    return commands.send(charge_point.identity, action, payload, timeout=timeout, source=source)


async def remote_stop_async(*, session: ChargeSession, timeout: float | None = None, source: str = "") -> dict:
    """remote_stop for async callers (one hop to the ORM thread for the session's charger)."""

    def addressed() -> tuple[str, str, dict]:
        return (session.charge_point.identity, *stop_request(session=session))

    identity, action, payload = await database_sync_to_async(addressed)()
    return await commands.send_async(identity, action, payload, timeout=timeout, source=source)
