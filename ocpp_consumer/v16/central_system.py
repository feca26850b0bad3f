"""OCPP 1.6J: the messages a charger sends us. Each handler parses, calls one service,
and returns the `ocpp` package's call_result."""

from __future__ import annotations

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from ocpp_consumer import handlers_common as common
from ocpp_consumer.batching import run_service_many
from ocpp_consumer.protocol import CsmsChargePoint
from sessions_app.meter import parse_timestamp
from sessions_app.start_stop_many import charge_sessions_start_stop_many

# OCPP 1.6 commands the central system sends (core, firmware, local list, reservation,
# smart charging, remote trigger profiles). commands.send() accepts exactly these.
COMMANDS = frozenset(
    {
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "GetConfiguration",
        "GetDiagnostics",
        "GetLocalListVersion",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "CancelReservation",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "GetCompositeSchedule",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)


class CentralSystem16(CsmsChargePoint, ChargePoint):
    protocol = "ocpp1.6"
    known_actions = frozenset(a.value for a in Action)

    @on(Action.boot_notification)
    async def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs):
        status, interval = await common.boot(
            self,
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=kwargs.get("charge_point_serial_number") or kwargs.get("charge_box_serial_number") or "",
            firmware_version=kwargs.get("firmware_version", ""),
            iccid=kwargs.get("iccid", ""),
            imsi=kwargs.get("imsi", ""),
            meter_type=kwargs.get("meter_type", ""),
            meter_serial_number=kwargs.get("meter_serial_number", ""),
        )
        return call_result.BootNotification(current_time=common.now(), interval=interval, status=status)

    @on(Action.heartbeat)
    async def on_heartbeat(self, **kwargs):
        self.touch()
        return call_result.Heartbeat(current_time=common.now())

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **kwargs):
        return call_result.Authorize(id_tag_info=await common.authorize_v16(id_tag))

    @on(Action.status_notification)
    async def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs):
        # Stored in the same group commit as this frame's journal rows, before the answer
        # (which does not depend on the outcome; a failure answers CALLERROR InternalError).
        self.stage(
            common.status_notifications_flush,
            {
                "charge_point_id": self.pk,
                "identity": self.id,
                "connector_id": connector_id,
                "status": status,
                "error_code": error_code,
                "info": kwargs.get("info", ""),
                "vendor_error_code": kwargs.get("vendor_error_code", ""),
                "timestamp": parse_timestamp(kwargs.get("timestamp")),
            },
        )
        return call_result.StatusNotification()

    @on(Action.start_transaction)
    async def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs):
        # Set-based with the starts and stops of other chargers arriving together, in their
        # order (issue 20, sessions_app/start_stop_many.py).
        session, info = await run_service_many(
            charge_sessions_start_stop_many,
            "items",
            (
                "start",
                {
                    "charge_point_id": self.pk,
                    "connector_id": connector_id,
                    "id_tag": id_tag,
                    "meter_start_wh": meter_start,
                    "timestamp": parse_timestamp(timestamp),
                    "reservation_id": kwargs.get("reservation_id"),
                },
            ),
        )
        return call_result.StartTransaction(transaction_id=int(session.transaction_id), id_tag_info=info)

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs):
        _, info = await run_service_many(
            charge_sessions_start_stop_many,
            "items",
            (
                "stop",
                {
                    "charge_point_id": self.pk,
                    "transaction_id": transaction_id,
                    "meter_stop_wh": meter_stop,
                    "timestamp": parse_timestamp(timestamp),
                    "reason": kwargs.get("reason", ""),
                    "id_tag": kwargs.get("id_tag", ""),
                    "transaction_data": kwargs.get("transaction_data") or [],
                },
            ),
        )
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id: int, meter_value: list, **kwargs):
        # Stored in the same group commit as this frame's journal rows, before the answer.
        self.stage(
            common.meter_values_flush,
            {
                "charge_point_id": self.pk,
                "identity": self.id,
                "connector_id": connector_id,
                "transaction_id": kwargs.get("transaction_id"),
                "meter_value": meter_value,
            },
        )
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kwargs):
        return call_result.DataTransfer(status=await common.data_transfer(self, vendor_id, kwargs))

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status_notification(self, status: str, **kwargs):
        await common.diagnostics_status(self, status)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(self, status: str, **kwargs):
        await common.firmware_status(self, status)
        return call_result.FirmwareStatusNotification()
