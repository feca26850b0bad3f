"""One endpoint per OCPP command, for both versions:

    POST /api/operator/charge-points/<identity>/commands/v16/<Action>/
    POST /api/operator/charge-points/<identity>/commands/v201/<Action>/

The body is the OCPP request payload exactly as on the wire (camelCase); the answer is the
charger's own reply. The command bus validates the payload against the OCPP schema before
sending (400 with the schema error). A 1.6 command sent to a 2.0.1 charger is translated by
the bus where a translation exists (GetConfiguration, Reset, RemoteStartTransaction, ...).
"""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response

from . import charger_bus
from .access import charge_point_or_404
from .base import OperatorApi
from .ocpp_schemas import openapi_schema
from .schema import ViewNamedSchema

COMMANDS_16 = (
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "DataTransfer",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
)
COMMANDS_201 = (
    "CancelReservation",
    "ChangeAvailability",
    "ClearCache",
    "ClearChargingProfile",
    "CostUpdated",
    "DataTransfer",
    "GetBaseReport",
    "GetChargingProfiles",
    "GetCompositeSchedule",
    "GetLocalListVersion",
    "GetLog",
    "GetReport",
    "GetTransactionStatus",
    "GetVariables",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "SetNetworkProfile",
    "SetVariables",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
)
VERSIONS = {"v16": ("OCPP 1.6", COMMANDS_16), "v201": ("OCPP 2.0.1", COMMANDS_201)}

_HTTP_STATUS = {
    charger_bus.TIMEOUT: status.HTTP_504_GATEWAY_TIMEOUT,
    charger_bus.OFFLINE: status.HTTP_409_CONFLICT,
    charger_bus.CALL_ERROR: status.HTTP_502_BAD_GATEWAY,
    charger_bus.INVALID: status.HTTP_400_BAD_REQUEST,
    charger_bus.UNSUPPORTED: status.HTTP_400_BAD_REQUEST,
    charger_bus.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    charger_bus.BAD_ANSWER: status.HTTP_502_BAD_GATEWAY,
}
_STATUS_WORD = {
    charger_bus.TIMEOUT: "Timeout",
    charger_bus.OFFLINE: "Offline",
    charger_bus.CALL_ERROR: "CallError",
    charger_bus.UNAVAILABLE: "Unavailable",
    charger_bus.BAD_ANSWER: "InvalidAnswer",
}
_ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "status": {"type": "string"},
        "errorCode": {"type": "string"},
        "errorDescription": {"type": "string"},
    },
}


def render(reply: charger_bus.Reply) -> Response:
    if reply.ok:
        return Response(reply.payload)
    body = {"detail": reply.detail, **reply.payload}
    if reply.kind in _STATUS_WORD:
        body["status"] = _STATUS_WORD[reply.kind]
    return Response(body, status=_HTTP_STATUS[reply.kind])


class CommandSchema(ViewNamedSchema):
    """Documents each command endpoint with the OCPP request and response schemas."""

    def get_tags(self):
        return [f"Operator: commands ({VERSIONS[self.view.ocpp_version][0]})"]

    def get_summary(self):
        return f"{self.view.action_name} ({VERSIONS[self.view.ocpp_version][0]})"

    def get_description(self):
        return (
            f"Sends {self.view.action_name} to the charger and answers with its reply. 409 when the charger "
            'is not connected, 504 {"status": "Timeout"} when it does not answer in time, 502 for a '
            "CALLERROR, 400 for a payload the OCPP schema refuses."
        )

    def get_operation_id(self):
        return f"operator_command_{self.view.ocpp_version}_{self.view.action_name}"

    def get_request_serializer(self):
        return {"application/json": openapi_schema(self.view.ocpp_version, self.view.action_name)}

    def get_response_serializers(self):
        return {
            200: openapi_schema(self.view.ocpp_version, self.view.action_name, response=True),
            400: _ERROR,
            401: _ERROR,
            403: _ERROR,
            404: _ERROR,
            409: _ERROR,
            502: _ERROR,
            503: _ERROR,
            504: _ERROR,
        }


class ChargerCommandApi(OperatorApi):
    """Send one OCPP command (set per URL by `as_view(ocpp_version=..., action_name=...)`)."""

    schema = CommandSchema()
    ocpp_version = "v16"
    action_name = ""

    def post(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        payload = request.data if isinstance(request.data, dict) else None
        if payload is None:
            return Response(
                {"detail": "The body must be a JSON object (the OCPP payload)."}, status=status.HTTP_400_BAD_REQUEST
            )
        return render(charger_bus.call(charge_point, self.action_name, dict(payload)))
