"""OCPP 2.0.1: the messages a charger sends us. Each handler parses, calls one service,
and returns the `ocpp` package's call_result. Routing, validation (compiled schemas) and
the frame journal come from CsmsChargePoint, shared with 1.6."""

from __future__ import annotations

import time
from decimal import Decimal

from django.conf import settings
from ocpp.exceptions import (
    FormatViolationError,
    OccurenceConstraintViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
)
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from chargepoints import device_model, reservations
from chargepoints import services as cp_services
from ocpp_consumer import handlers_common as common
from ocpp_consumer.batching import committer, run_read, run_service
from ocpp_consumer.protocol import CsmsChargePoint, to_camel
from sessions_app import transaction_events
from sessions_app.meter import parse_timestamp, readings_v201

# OCPP 2.0.1 commands the CSMS sends; commands.send() accepts these for a 2.0.1 charger
# (and translates the 1.6 names it knows, see ocpp_consumer.translate).
COMMANDS = frozenset(
    {
        "RequestStartTransaction",
        "RequestStopTransaction",
        "GetTransactionStatus",
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "GetVariables",
        "SetVariables",
        "GetBaseReport",
        "GetReport",
        "SetChargingProfile",
        "ClearChargingProfile",
        "GetChargingProfiles",
        "GetCompositeSchedule",
        "TriggerMessage",
        "UpdateFirmware",
        "GetLog",
        "ClearCache",
        "SendLocalList",
        "GetLocalListVersion",
        "ReserveNow",
        "CancelReservation",
        "DataTransfer",
        "CostUpdated",
        "SetNetworkProfile",
    }
)


def _money(amount: Decimal) -> float:
    # The ocpp package would encode a Decimal with one decimal place; 2 are needed.
    return float(Decimal(amount).quantize(Decimal("0.01")))


def meter_value_as_v16(meter_value: list[dict]) -> list[dict]:
    """2.0.1 meter values (snake_case, as handed to handlers) in the shape the shared
    MeterValues service reads: unitOfMeasure flattened to a unit, its multiplier applied."""
    return [
        {
            "timestamp": reading.at.isoformat(),
            "sampled_value": [
                {
                    "value": str(reading.value),
                    "measurand": reading.measurand,
                    "phase": reading.phase,
                    "location": reading.location,
                    "context": reading.context,
                    "unit": reading.unit,
                }
            ],
        }
        for reading in readings_v201(meter_value)
    ]


class RpcFrameworkError(OCPPError):
    code = "RpcFrameworkError"
    default_description = "Content of the call is not a valid RPC request"


class MessageTypeNotSupportedError(OCPPError):
    code = "MessageTypeNotSupported"
    default_description = "This message type number is not supported"


class CentralSystem201(CsmsChargePoint, ChargePoint):
    protocol = "ocpp2.0.1"
    known_actions = frozenset(a.value for a in Action)
    formation_error = FormatViolationError

    # --- OCPP-J 2.0.1 error codes (section 4.3) differ from 1.6 ----------------------------

    async def _reject_unparsed(self, text: str, unique_id: str, error: OCPPError) -> None:
        # A frame that is not an RPC message at all, or has an unknown MessageTypeId.
        if isinstance(error, PropertyConstraintViolationError):
            error = MessageTypeNotSupportedError(description=error.description, details=error.details)
        else:
            error = RpcFrameworkError(description=error.description, details=error.details)
        await super()._reject_unparsed(text, unique_id, error)

    async def _answer(self, in_row: dict, unique_id: str, *, error: OCPPError | None = None, **kwargs) -> None:
        if isinstance(error, OccurenceConstraintViolationError):  # 1.6 spells it with one r
            error = OccurrenceConstraintViolationError(description=error.description, details=error.details)
        await super()._answer(in_row, unique_id, error=error, **kwargs)

    # --- provisioning and availability ---------------------------------------------------

    @on(Action.boot_notification)
    async def on_boot_notification(self, charging_station: dict, reason: str, **kwargs):
        modem = charging_station.get("modem") or {}
        status, interval = await common.boot(
            self,
            vendor=charging_station["vendor_name"],
            model=charging_station["model"],
            serial_number=charging_station.get("serial_number", ""),
            firmware_version=charging_station.get("firmware_version", ""),
            iccid=modem.get("iccid", ""),
            imsi=modem.get("imsi", ""),
        )
        return call_result.BootNotification(current_time=common.now(), interval=interval, status=status)

    @on(Action.heartbeat)
    async def on_heartbeat(self, **kwargs):
        self.touch()
        return call_result.Heartbeat(current_time=common.now())

    @on(Action.status_notification)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kwargs
    ):
        # Stored with the frame's journal rows, before the answer (see the 1.6 handler).
        self.stage(
            common.status_notifications_flush_v201,
            {
                "charge_point_id": self.pk,
                "identity": self.id,
                "evse_id": evse_id,
                "evse_connector_id": connector_id,
                "status": connector_status,
                "at": parse_timestamp(timestamp),
            },
        )
        return call_result.StatusNotification()

    # --- authorization and transactions -------------------------------------------------------

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict, **kwargs):
        info = await common.authorize_v201(self, id_token["id_token"], id_token["type"])
        return call_result.Authorize(id_token_info=_snake(info))

    @on(Action.transaction_event)
    async def on_transaction_event(
        self, event_type: str, timestamp: str, trigger_reason: str, seq_no: int, transaction_info: dict, **kwargs
    ):
        payload = to_camel(
            {
                "event_type": event_type,
                "timestamp": timestamp,
                "trigger_reason": trigger_reason,
                "seq_no": seq_no,
                "transaction_info": transaction_info,
                **kwargs,
            }
        )
        arguments = {
            "charge_point_id": self.pk,
            "event_type": event_type,
            "timestamp": parse_timestamp(timestamp),
            "trigger_reason": trigger_reason,
            "seq_no": seq_no,
            "transaction_info": payload["transactionInfo"],
            "offline": kwargs.get("offline", False),
            "id_token": payload.get("idToken"),
            "evse": payload.get("evse"),
            "meter_value": payload.get("meterValue"),
            "payload": payload,
        }
        transaction_id = str(transaction_info["transaction_id"])
        applied = self.__dict__.setdefault("_applied_in_order", {})
        last = applied.pop(transaction_id, None)
        if (
            last is not None
            and last[1] == seq_no - 1
            and arguments["timestamp"] >= last[2]
            and transaction_events.updated_may_be_staged(event_type=event_type, payload=payload)
            and not self._running_cost_due(last[0])
        ):
            # The next Updated of a transaction this connection applied in order (the bulk
            # of a 2.0.1 fleet's frames): staged into the frames' group commit, stored with
            # this frame's journal rows before the answer leaves. The database checks again
            # that it comes next, and hands anything else to transaction_event_record.
            self.stage(
                transaction_events.updated_record_many,
                {**arguments, "identity": self.id, "previous_timestamp": last[2]},
            )
            applied[transaction_id] = (last[0], seq_no, arguments["timestamp"])
            return call_result.TransactionEvent()
        # The write is batched with other chargers' service calls; the costs are read
        # after its commit (an Ended one's purchase is priced on commit).
        outcome = await run_service(transaction_events.transaction_event_record, **arguments)
        if outcome.in_order:
            applied[transaction_id] = (outcome.session_id, seq_no, outcome.timestamp)
        if self._costs_due(outcome):
            outcome = await run_read(transaction_events.transaction_event_costs, outcome=outcome)
        answer = call_result.TransactionEvent()
        if outcome.id_token_info is not None:
            answer.id_token_info = _snake(outcome.id_token_info)
        if outcome.ended and outcome.total_cost is not None:
            answer.total_cost = _money(outcome.total_cost)
        elif not outcome.ended and outcome.running_cost is not None:
            # totalCost is for ended transactions only; the running cost goes to the driver's display.
            answer.updated_personal_message = {
                "format": "UTF8",
                "content": f"Cost so far: {outcome.running_cost:.2f} {outcome.currency}".strip()[:512],
            }
        return answer

    def _costs_due(self, outcome: transaction_events.TransactionEventOutcome) -> bool:
        """An ended transaction's total cost always; a running one's at most once per
        OCPP_RUNNING_COST_EVERY_SECONDS (pricing reads every sample of the session)."""
        priced_at = self.__dict__.setdefault("_running_cost_priced_at", {})
        if outcome.ended:
            priced_at.pop(outcome.session_id, None)
            return True
        if not self._running_cost_due(outcome.session_id):
            return False
        priced_at[outcome.session_id] = time.monotonic()
        return True

    def _running_cost_due(self, session_id: int) -> bool:
        last = self.__dict__.get("_running_cost_priced_at", {}).get(session_id)
        return last is None or time.monotonic() - last >= settings.OCPP_RUNNING_COST_EVERY_SECONDS

    @on(Action.meter_values)
    async def on_meter_values(self, evse_id: int, meter_value: list, **kwargs):
        connector_id = 0
        if evse_id:
            # EVSE -> our connector number, looked up once per connection (MeterValues are frequent).
            cache = self.__dict__.setdefault("_evse_connectors", {})
            if evse_id not in cache:
                connector = await run_service(device_model.connector_for_evse, charge_point_id=self.pk, evse_id=evse_id)
                cache[evse_id] = connector.connector_id
            connector_id = cache[evse_id]
        await committer("meter_values", common.meter_values_flush).submit(
            {
                "charge_point_id": self.pk,
                "identity": self.id,
                "connector_id": connector_id,
                "transaction_id": None,
                "meter_value": meter_value_as_v16(meter_value),
            }
        )
        return call_result.MeterValues()

    @on(Action.reservation_status_update)
    async def on_reservation_status_update(self, reservation_id: int, reservation_update_status: str, **kwargs):
        await run_service(
            reservations.connector_reservation_status_update,
            charge_point_id=self.pk,
            reservation_id=reservation_id,
            update_status=reservation_update_status,
        )
        return call_result.ReservationStatusUpdate()

    # --- device model, events, firmware and logs ----------------------------------------------

    @on(Action.notify_report)
    async def on_notify_report(self, request_id: int, generated_at: str, seq_no: int, **kwargs):
        await run_service(
            device_model.device_report_store,
            charge_point_id=self.pk,
            request_id=request_id,
            seq_no=seq_no,
            report_data=to_camel(kwargs.get("report_data") or []),
            tbc=kwargs.get("tbc", False),
        )
        return call_result.NotifyReport()

    @on(Action.notify_event)
    async def on_notify_event(self, generated_at: str, seq_no: int, event_data: list, **kwargs):
        await run_service(device_model.device_events_store, charge_point_id=self.pk, event_data=to_camel(event_data))
        return call_result.NotifyEvent()

    @on(Action.security_event_notification)
    async def on_security_event_notification(self, type: str, timestamp: str, **kwargs):
        await run_service(
            cp_services.charge_point_event_add,
            charge_point_id=self.pk,
            kind="security_event",
            severity="warning",
            message=f"Security event {type}: {kwargs.get('tech_info', '')}".strip().rstrip(":"),
            payload={"type": type, "timestamp": timestamp, "techInfo": kwargs.get("tech_info", "")},
        )
        return call_result.SecurityEventNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(self, status: str, **kwargs):
        await common.firmware_status(self, status)
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status_notification(self, status: str, **kwargs):
        await common.diagnostics_status(self, status)
        return call_result.LogStatusNotification()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kwargs):
        return call_result.DataTransfer(status=await common.data_transfer(self, vendor_id, kwargs))

    # --- smart charging ------------------------------------------------------------------------

    @on(Action.report_charging_profiles)
    async def on_report_charging_profiles(
        self, request_id: int, charging_limit_source: str, evse_id: int, charging_profile: list, **kwargs
    ):
        await run_service(
            cp_services.charge_point_event_add,
            charge_point_id=self.pk,
            kind="charging_profiles_report",
            message=f"{len(charging_profile)} charging profile(s) on EVSE {evse_id} from {charging_limit_source}",
            payload={
                "requestId": request_id,
                "evseId": evse_id,
                "chargingLimitSource": charging_limit_source,
                "chargingProfile": to_camel(charging_profile),
                "tbc": kwargs.get("tbc", False),
            },
        )
        return call_result.ReportChargingProfiles()

    @on(Action.notify_charging_limit)
    async def on_notify_charging_limit(self, charging_limit: dict, **kwargs):
        source = charging_limit["charging_limit_source"]
        await run_service(
            cp_services.charge_point_event_add,
            charge_point_id=self.pk,
            kind="charging_limit",
            severity="warning" if charging_limit.get("is_grid_critical") else "info",
            message=f"Charging limit set by {source}"
            + (f" on EVSE {kwargs['evse_id']}" if kwargs.get("evse_id") else ""),
            payload=to_camel(
                {
                    "charging_limit": charging_limit,
                    "evse_id": kwargs.get("evse_id"),
                    "charging_schedule": kwargs.get("charging_schedule"),
                }
            ),
        )
        return call_result.NotifyChargingLimit()

    @on(Action.cleared_charging_limit)
    async def on_cleared_charging_limit(self, charging_limit_source: str, **kwargs):
        await run_service(
            cp_services.charge_point_event_add,
            charge_point_id=self.pk,
            kind="charging_limit_cleared",
            message=f"Charging limit from {charging_limit_source} cleared",
            payload={"chargingLimitSource": charging_limit_source, "evseId": kwargs.get("evse_id")},
        )
        return call_result.ClearedChargingLimit()


def _snake(info: dict) -> dict:
    """camelCase IdTokenInfo from a service -> the snake_case the package serialises back."""
    from ocpp_consumer.protocol import to_snake

    return to_snake(info)
