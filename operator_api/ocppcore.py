"""/API/: the operator API of OCPP.Core, path for path and answer for answer, so tools
written for OCPP.Core work against this server unchanged.

    /API/<command>[/<chargePointId>[/<connectorId>[/<parameter>]]]   (GET or POST)

Authentication is the X-API-Key header only (401 without a valid key). A charger of another
operator, an unknown charger or connector, and a charger that is not connected all answer
404, as in OCPP.Core. A charger that stays silent for the command timeout (60 s) answers
200 {"status": "Timeout"}.

Commands are sent with their OCPP 1.6 names where the command bus translates them for
OCPP 2.0.1 chargers (GetConfiguration, ChangeConfiguration, RemoteStartTransaction); the
others are built here for the charger's version, so that the charger's 2.0.1 answer
(Scheduled, OngoingAuthorizedTransaction, UnknownConnector) reaches the caller unchanged.
"""

from __future__ import annotations

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from chargepoints.models import ChargePoint, Connector, OcppVersion
from ocpp_consumer import remote_control

from . import charger_bus, services
from .access import OCPPCORE_AUTHENTICATION, HasOperatorPermission, IsOperator, charge_point_or_404, connector_or_404
from .schema import OcppCoreSchema
from .selectors import ocppcore_status_code, online_charge_points, open_session

TAG = "OCPP.Core API (/API/)"

_STATUS_ANSWER = inline_serializer("OcppCoreStatusAnswer", {"status": serializers.CharField()})
_ERROR = inline_serializer(
    "OcppCoreError", {"detail": serializers.CharField(), "status": serializers.CharField(required=False)}
)
_COMMON_RESPONSES = {
    200: OpenApiResponse(_STATUS_ANSWER, description='The charger\'s answer, or {"status": "Timeout"}.'),
    400: OpenApiResponse(_ERROR, description="Malformed parameter."),
    401: OpenApiResponse(_ERROR, description="Missing or invalid X-API-Key."),
    404: OpenApiResponse(_ERROR, description="Unknown, foreign or disconnected charger, or unknown connector."),
    502: OpenApiResponse(_ERROR, description="The charger answered with a CALLERROR, or with an invalid payload."),
    503: OpenApiResponse(_ERROR, description="Commands cannot reach chargers now (the message bus is down)."),
}

# How each command bus outcome reads in OCPP.Core's terms.
_HTTP_STATUS = {
    charger_bus.TIMEOUT: status.HTTP_200_OK,
    charger_bus.OFFLINE: status.HTTP_404_NOT_FOUND,
    charger_bus.CALL_ERROR: status.HTTP_502_BAD_GATEWAY,
    charger_bus.INVALID: status.HTTP_400_BAD_REQUEST,
    charger_bus.UNSUPPORTED: status.HTTP_501_NOT_IMPLEMENTED,
    charger_bus.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    charger_bus.BAD_ANSWER: status.HTTP_502_BAD_GATEWAY,
}
_STATUS_WORD = {
    charger_bus.TIMEOUT: "Timeout",
    charger_bus.OFFLINE: "Offline",
    charger_bus.CALL_ERROR: "Error",
    charger_bus.UNSUPPORTED: "NotSupported",
    charger_bus.UNAVAILABLE: "Unavailable",
    charger_bus.BAD_ANSWER: "InvalidAnswer",
}


def render(reply: charger_bus.Reply, *, raw: bool = False) -> Response:
    """The charger's answer as OCPP.Core gives it: {"status": ...}, or the raw payload."""
    if reply.ok:
        return Response(reply.payload if raw else {"status": reply.status})
    if reply.kind == charger_bus.TIMEOUT:
        return Response({"status": "Timeout"})
    body: dict = {"detail": reply.detail}
    if reply.kind in _STATUS_WORD:
        body["status"] = _STATUS_WORD[reply.kind]
    if reply.kind == charger_bus.CALL_ERROR:
        body.update(reply.payload)
    return Response(body, status=_HTTP_STATUS[reply.kind])


def parse_connector_id(raw: str, *, allow_zero: bool = False) -> int:
    try:
        connector_id = int(raw)
    except ValueError:
        raise ParseError(f"Connector id {raw!r} is not a number.") from None
    if connector_id < 0:
        raise ParseError(f"Connector id {raw!r} is negative.")
    if connector_id == 0 and not allow_zero:
        raise Http404("Connector 0 is the charger itself, not a connector.")
    return connector_id


class OcppCoreApi(APIView):
    schema = OcppCoreSchema()
    authentication_classes = OCPPCORE_AUTHENTICATION
    permission_classes = [IsOperator, HasOperatorPermission]
    http_method_names = ["get", "post", "options"]

    # OCPP.Core's clients use GET; POST is accepted too and documented once, under GET.
    @extend_schema(exclude=True)
    def post(self, request, **kwargs):
        return self.get(request, **kwargs)


def _schema(summary: str, *, responses=None, **kwargs):
    return extend_schema(tags=[TAG], summary=summary, responses=responses or _COMMON_RESPONSES, **kwargs)


class StatusApi(OcppCoreApi):
    class ConnectorSerializer(serializers.Serializer):
        Status = serializers.IntegerField(help_text="0 Undefined, 1 Available, 2 Occupied, 3 Unavailable, 4 Faulted")
        ChargeRateKW = serializers.FloatField(allow_null=True)
        MeterKWH = serializers.FloatField(allow_null=True)
        SoC = serializers.IntegerField(allow_null=True)

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        name = serializers.CharField()
        protocol = serializers.CharField()
        OnlineConnectors = serializers.DictField(child=serializers.JSONField())

    @_schema(
        "Every connected charger of the key's operator with its connectors",
        responses={200: OutputSerializer(many=True), 401: _ERROR},
    )
    def get(self, request):
        return Response([_charger_status(cp) for cp in online_charge_points(request.user)])


def _kilo(value: int | None) -> float | None:
    return None if value is None else value / 1000


def _charger_status(charge_point: ChargePoint) -> dict:
    return {
        "id": charge_point.identity,
        "name": charge_point.display_name,
        "protocol": charge_point.protocol or OcppVersion.V16,
        "OnlineConnectors": {
            str(connector.connector_id): {
                "Status": ocppcore_status_code(connector.status),
                "ChargeRateKW": _kilo(connector.power_w),
                "MeterKWH": _kilo(connector.meter_wh),
                "SoC": connector.soc_percent,
            }
            for connector in charge_point.connectors.all()
        },
    }


class ResetApi(OcppCoreApi):
    @_schema("Reset (reboot) the charger: Accepted, Rejected, or Scheduled (2.0.1)")
    def get(self, request, charge_point_id: str):
        charge_point = charge_point_or_404(request.user, charge_point_id)
        # A 2.0.1 Reset as it is (the 1.6 Soft would be translated, and its answer read back
        # as 1.6, losing Scheduled): OnIdle, Soft's meaning, which a busy station answers
        # with Scheduled, as seed 004 lists.
        payload = {"type": "OnIdle"} if charge_point.protocol == OcppVersion.V201 else {"type": "Soft"}
        return render(charger_bus.call(charge_point, "Reset", payload))


class UnlockConnectorApi(OcppCoreApi):
    @_schema("Unlock a connector: Unlocked, UnlockFailed, NotSupported, OngoingAuthorizedTransaction, UnknownConnector")
    def get(self, request, charge_point_id: str, connector_id: str):
        charge_point = charge_point_or_404(request.user, charge_point_id)
        number = parse_connector_id(connector_id)
        connector = (
            Connector.objects.select_related("evse").filter(charge_point=charge_point, connector_id=number).first()
        )
        if connector is None:
            # As a 2.0.1 station (and OCPP.Core for it) answers a connector it does not have.
            return Response({"status": "UnknownConnector"})
        if charge_point.protocol == OcppVersion.V201:
            payload = {"evseId": connector.evse.evse_id, "connectorId": connector.evse_connector_id}
        else:
            payload = {"connectorId": connector.connector_id}
        return render(charger_bus.call(charge_point, "UnlockConnector", payload))


class SetChargingLimitApi(OcppCoreApi):
    @_schema(
        "Limit a connector (0 = the whole charger) to <N>W or <N>A, as a daily 24 h constant profile",
        parameters=[OpenApiParameter("limit", str, OpenApiParameter.PATH, description="e.g. 11000W or 16A")],
    )
    def get(self, request, charge_point_id: str, connector_id: str, limit: str):
        charge_point = charge_point_or_404(request.user, charge_point_id)
        number = parse_connector_id(connector_id, allow_zero=True)
        if number:
            connector_or_404(charge_point, number)
        try:
            parsed = services.charging_limit_parse(limit)
        except services.LimitError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        now = timezone.now()
        action, payload = services.charging_limit_command(
            charge_point=charge_point,
            connector_id=number,
            limit=parsed,
            now=now,
        )
        # The bus records the limit as a ChargingProfile row (source "api"): active, rejected,
        # or pending when the charger did not answer in time.
        return render(charger_bus.call(charge_point, action, payload))


class ClearChargingLimitApi(OcppCoreApi):
    @_schema("Clear the limit set on a connector (0 = the whole charger): Accepted or Unknown")
    def get(self, request, charge_point_id: str, connector_id: str):
        charge_point = charge_point_or_404(request.user, charge_point_id)
        number = parse_connector_id(connector_id, allow_zero=True)
        if number:
            connector_or_404(charge_point, number)
        action, payload = services.clear_limit_command(charge_point=charge_point, connector_id=number)
        # Accepted: the bus marks the cleared ChargingProfile rows.
        return render(charger_bus.call(charge_point, action, payload))


_CONFIGURATION = inline_serializer(
    "OcppCoreConfiguration",
    {
        "configurationKey": serializers.ListField(child=serializers.DictField()),
        "unknownKey": serializers.ListField(child=serializers.CharField()),
    },
)


class GetConfigurationApi(OcppCoreApi):
    @_schema(
        "Read all configuration keys, or one: the charger's raw GetConfiguration answer",
        responses={**_COMMON_RESPONSES, 200: _CONFIGURATION},
    )
    def get(self, request, charge_point_id: str, key: str | None = None):
        charge_point = charge_point_or_404(request.user, charge_point_id)
        payload = {"key": [key]} if key else {}
        return render(charger_bus.call(charge_point, "GetConfiguration", payload), raw=True)


class GetConfigurationKeyApi(GetConfigurationApi):
    """/API/GetConfiguration/<id>/<key>: the same view, its own operation in the schema."""

    @_schema(
        "Read one configuration key: the charger's raw GetConfiguration answer",
        responses={**_COMMON_RESPONSES, 200: _CONFIGURATION},
        operation_id="ocppcore_get_configuration_key",
    )
    def get(self, request, charge_point_id: str, key: str):
        return super().get(request, charge_point_id, key)


class ChangeConfigurationApi(OcppCoreApi):
    @_schema("Change one configuration key: Accepted, Rejected, RebootRequired or NotSupported")
    def get(self, request, charge_point_id: str, key: str, value: str):
        charge_point = charge_point_or_404(request.user, charge_point_id)
        return render(charger_bus.call(charge_point, "ChangeConfiguration", {"key": key, "value": value}))


class RemoteStartTransactionApi(OcppCoreApi):
    @_schema(
        "Start a transaction on a connector for an idTag: Accepted or Rejected; 409 when the connector already "
        "has an open transaction",
        responses={
            **_COMMON_RESPONSES,
            409: OpenApiResponse(_ERROR, description="The connector already has an open transaction."),
        },
    )
    def get(self, request, charge_point_id: str, connector_id: str, id_tag: str):
        charge_point = charge_point_or_404(request.user, charge_point_id)
        connector = connector_or_404(charge_point, parse_connector_id(connector_id))
        try:
            remote_control.id_tag_check(charge_point=charge_point, id_tag=id_tag)
        except remote_control.InvalidPayload as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        busy = open_session(connector)
        if busy is not None:
            # Forwarded, the charger could start anyway and the live session would be closed
            # as replaced: refuse here, the session stays as it is.
            return Response(
                {
                    "status": "Rejected",
                    "detail": f"Connector {connector.connector_id} already has an open transaction "
                    f"({busy.transaction_id or busy.pk}); stop it first.",
                },
                status=status.HTTP_409_CONFLICT,
            )
        return render(
            charger_bus.reply_of(
                lambda: remote_control.remote_start(
                    charge_point=charge_point, connector=connector, id_tag=id_tag, source=charger_bus.SOURCE
                ),
                identity=charge_point.identity,
                action="RemoteStartTransaction",
            )
        )


class RemoteStopTransactionApi(OcppCoreApi):
    @_schema(
        "Stop the open transaction of a connector: Accepted or Rejected; 424 without one",
        responses={
            **_COMMON_RESPONSES,
            424: OpenApiResponse(_ERROR, description="No open transaction on the connector."),
        },
    )
    def get(self, request, charge_point_id: str, connector_id: str):
        charge_point = charge_point_or_404(request.user, charge_point_id)
        connector = connector_or_404(charge_point, parse_connector_id(connector_id))
        session = open_session(connector)
        if session is None:
            return Response(
                {"detail": f"No open transaction on connector {connector.connector_id}."},
                status=status.HTTP_424_FAILED_DEPENDENCY,
            )
        try:
            remote_control.stop_request(session=session)
        except remote_control.NotStoppable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_424_FAILED_DEPENDENCY)
        return render(
            charger_bus.reply_of(
                lambda: remote_control.remote_stop(session=session, source=charger_bus.SOURCE),
                identity=charge_point.identity,
                action="RemoteStopTransaction",
            )
        )


def missing_charge_point_id(request, *args, **kwargs):
    """/API/Reset (or another command) without a charge point id: 400, not 404."""
    from django.http import JsonResponse

    return JsonResponse({"detail": "Give the charge point id: /API/Reset/<chargePointId>."}, status=400)


def missing_configuration_value(request, *args, **kwargs):
    """/API/ChangeConfiguration/<id>/<key> (or with a trailing slash) has no value: refused
    rather than sent as an empty value that would wipe the setting."""
    from django.http import JsonResponse

    return JsonResponse(
        {"detail": "Give the value: /API/ChangeConfiguration/<chargePointId>/<key>/<value>."}, status=400
    )
