"""What the OCPP 1.6 and 2.0.1 handlers do alike, once. Each version keeps its own
`@on(Action...)` methods (their arguments and call_result classes differ) and calls these
for the shared part: the service call and the rule around it."""

from __future__ import annotations

from django.utils import timezone

from chargepoints import device_model
from chargepoints import services as cp_services
from chargepoints.selectors import id_tag_info_many, id_token_info_v201_many
from ocpp_consumer.batching import run_service, run_service_many
from sessions_app import transaction_events
from sessions_app.services import meter_values_record_many, status_notification_apply_many

# How soon a charger that was not accepted should send BootNotification again.
RETRY_BOOT_AFTER_S = 60


def now() -> str:
    """The currentTime of BootNotification and Heartbeat answers."""
    return timezone.now().isoformat().replace("+00:00", "Z")


def meter_values_flush(frames: list[dict]) -> None:
    """Group-commit flush of MeterValues frames (1.6 shape; 2.0.1 ones are converted first)."""
    meter_values_record_many(frames=frames)


def status_notifications_flush(items: list[dict]) -> None:
    """Group-commit flush of 1.6 StatusNotifications (status_notification_apply's arguments
    plus the charger's identity): their answer does not depend on the outcome, so they are
    stored with the frames' journal rows, before the answers leave (one hop, not two)."""
    status_notification_apply_many(items=items)


def status_notifications_flush_v201(items: list[dict]) -> None:
    """Group-commit flush of 2.0.1 StatusNotifications (see status_notifications_flush)."""
    device_model.connector_status_update_many(items=items)


# 2.0.1 token types answered without a card lookup (see id_token_info_v201).
_NOT_CARDS = frozenset({"NoAuthorization", "Central"})


def id_token_info_v201_batch(*, requests: list[dict]) -> list[dict]:
    """2.0.1 Authorize of many stations: the cards' IdTokenInfo in one query; the rare
    NoAuthorization and Central (remote start) tokens one by one, as
    transaction_events.id_token_info_v201 answers them. Each request: id_token,
    token_type, charge_point_id."""
    cards = iter(
        id_token_info_v201_many(id_tokens=[r["id_token"] for r in requests if r["token_type"] not in _NOT_CARDS])
    )
    return [
        transaction_events.id_token_info_v201(**request) if request["token_type"] in _NOT_CARDS else next(cards)
        for request in requests
    ]


async def authorize_v16(id_tag: str) -> dict:
    """The IdTagInfo of a 1.6 Authorize: a read, so it does not wait for the service
    thread's transaction; the Authorize frames of chargers arriving together share one
    query (run_service_many)."""
    return await run_service_many(id_tag_info_many, "id_tags", id_tag)


async def authorize_v201(handler, id_token: str, token_type: str) -> dict:
    """The IdTokenInfo of a 2.0.1 Authorize (see authorize_v16)."""
    return await run_service_many(
        id_token_info_v201_batch,
        "requests",
        {"id_token": id_token, "token_type": token_type, "charge_point_id": handler.pk},
    )


async def boot(handler, **fields) -> tuple[str, int]:
    """Store a BootNotification and keep the registration status on the handler.
    Returns (status, interval) for the answer."""
    # The boots of chargers arriving together are one set-based call (one SELECT, one
    # UPDATE, one commit), off the service thread's transaction.
    charge_point = await run_service_many(
        cp_services.charge_point_boot_many, "boots", {"charge_point_id": handler.pk, **fields}
    )
    handler.registration_status = charge_point.registration_status
    interval = charge_point.heartbeat_interval
    if handler.registration_status != "Accepted":
        interval = min(interval, RETRY_BOOT_AFTER_S)
    return handler.registration_status, interval


async def data_transfer(handler, vendor_id: str, kwargs: dict) -> str:
    """Record a DataTransfer from the charger; returns the status to answer."""
    return await run_service(
        cp_services.charge_point_data_transfer_record,
        charge_point_id=handler.pk,
        vendor_id=vendor_id,
        message_id=kwargs.get("message_id", ""),
        data=kwargs.get("data"),
    )


async def firmware_status(handler, status: str) -> None:
    await run_service(cp_services.charge_point_firmware_status_update, charge_point_id=handler.pk, status=status)


async def diagnostics_status(handler, status: str) -> None:
    """1.6 DiagnosticsStatusNotification and 2.0.1 LogStatusNotification."""
    await run_service(cp_services.charge_point_diagnostics_status_update, charge_point_id=handler.pk, status=status)
