"""Who is calling, and which operator's objects they may see.

An X-API-Key belongs to one operator; a staff user belongs to the operator on their
account; a superuser sees every operator. Everything else is scoped through
`operator_id`: objects of another operator are simply not found (404), never 403, so a
caller cannot even learn that a charger id exists elsewhere.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import authentication, permissions
from rest_framework.exceptions import ValidationError

from accounts.authentication import ApiKeyAuthentication
from accounts.models import Operator, User
from chargepoints.models import ChargePoint, Connector
from sessions_app.selectors import drivers_of_operator

ALL_OPERATORS = None


# The API key comes first: DRF takes the challenge of the first class, and the API key's
# makes a missing or wrong login answer 401 rather than 403.
OPERATOR_AUTHENTICATION = [ApiKeyAuthentication, authentication.SessionAuthentication]
OCPPCORE_AUTHENTICATION = [ApiKeyAuthentication]


def _api_key_operator_id(user) -> int | None:
    api_key = getattr(user, "api_key", None)
    return api_key.operator_id if api_key is not None else None


def is_operator_caller(user) -> bool:
    if not (user and user.is_authenticated):
        return False
    if _api_key_operator_id(user) is not None:
        return True
    if not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        return False
    return bool(user.is_superuser or user.operator_id)


def operator_id_of(user) -> int | None:
    """The operator the caller is limited to, or ALL_OPERATORS for a superuser."""
    api_key_operator = _api_key_operator_id(user)
    if api_key_operator is not None:
        return api_key_operator
    if user.is_superuser:
        return ALL_OPERATORS
    return user.operator_id


class IsOperator(permissions.BasePermission):
    message = "Operator API: use an operator's X-API-Key or log in as an operator's staff user."

    def has_permission(self, request, view) -> bool:
        return is_operator_caller(request.user)


READ, WRITE, COMMAND = "read", "write", "command"


def _crud(name: str, model: str) -> dict[str, tuple[str, str]]:
    """The List/Detail/Create/Update/Delete views of one model and what each needs."""
    app_label, model_name = model.split(".")
    return {
        f"{name}ListApi": (READ, f"{app_label}.view_{model_name}"),
        f"{name}DetailApi": (READ, f"{app_label}.view_{model_name}"),
        f"{name}ExportApi": (READ, f"{app_label}.view_{model_name}"),
        f"{name}CreateApi": (WRITE, f"{app_label}.add_{model_name}"),
        f"{name}ImportApi": (WRITE, f"{app_label}.add_{model_name}"),
        f"{name}UpdateApi": (WRITE, f"{app_label}.change_{model_name}"),
        f"{name}DeleteApi": (WRITE, f"{app_label}.delete_{model_name}"),
    }


SEND_COMMANDS = "chargepoints.send_commands"
# View class -> (what an API key's scope must cover, the Django permission a staff user
# needs). A view missing here is refused to everyone but superusers (fail closed).
REQUIRED: dict[str, tuple[str, str]] = {
    **_crud("Site", "chargepoints.site"),
    **_crud("ChargePoint", "chargepoints.chargepoint"),
    **_crud("Connector", "chargepoints.connector"),
    **_crud("IdToken", "chargepoints.idtoken"),
    **_crud("Tariff", "tariffs.tariff"),
    **_crud("TariffAssignment", "tariffs.tariffassignment"),
    **_crud("ElectricityPrice", "tariffs.electricityprice"),
    **_crud("Session", "sessions_app.chargesession"),
    **_crud("Purchase", "billing.purchase"),
    "SiteLoadApi": (READ, "loadmanagement.view_siteloadsettings"),
    "SiteLoadUpdateApi": (WRITE, "loadmanagement.change_siteloadsettings"),
    **_crud("PaymentHold", "payments.reservation"),
    "JournalApi": (READ, "chargepoints.view_ocppmessage"),
    "StatusHistoryApi": (READ, "chargepoints.view_connectorstatuschange"),
    "ChargingLimitListApi": (READ, "chargepoints.view_chargingprofile"),
    "ChargingLimitClearApi": (COMMAND, SEND_COMMANDS),
    "SessionMeterValuesApi": (READ, "sessions_app.view_metersample"),
    "SessionChargingCurveApi": (READ, "sessions_app.view_metersample"),
    "ConnectorReservationListApi": (READ, "chargepoints.view_connectorreservation"),
    "ConnectorReservationDetailApi": (READ, "chargepoints.view_connectorreservation"),
    "ConnectorReservationCreateApi": (COMMAND, SEND_COMMANDS),
    "LocalListDetailApi": (READ, "chargepoints.view_localauthlist"),
    "LocalListVersionApi": (COMMAND, SEND_COMMANDS),
    "LocalListSyncApi": (COMMAND, SEND_COMMANDS),
    "LocalListSyncAllApi": (COMMAND, SEND_COMMANDS),
    "ConnectorReservationCancelApi": (COMMAND, SEND_COMMANDS),
    "EnergyPerDayApi": (READ, "sessions_app.view_chargesession"),
    "UtilisationApi": (READ, "sessions_app.view_chargesession"),
    "RevenuePerDayApi": (READ, "billing.view_purchase"),
    "StatusApi": (READ, "chargepoints.view_chargepoint"),
    "ChargerCommandApi": (COMMAND, SEND_COMMANDS),
    **{
        name: (COMMAND, SEND_COMMANDS)
        for name in (
            "ResetApi",
            "UnlockConnectorApi",
            "SetChargingLimitApi",
            "ClearChargingLimitApi",
            "GetConfigurationApi",
            "GetConfigurationKeyApi",
            "ChangeConfigurationApi",
            "RemoteStartTransactionApi",
            "RemoteStopTransactionApi",
        )
    },
}


class HasOperatorPermission(permissions.BasePermission):
    """An API key's scope covers the operation; a staff user holds its Django permission
    (issue 16: a staff member without permissions created sites through this API)."""

    message = "Your API key's scope or your account's permissions do not allow this."

    def has_permission(self, request, view) -> bool:
        kind, permission = REQUIRED.get(type(view).__name__, (WRITE, ""))
        api_key = getattr(request.user, "api_key", None)
        if api_key is not None:
            return api_key.allows(kind) and type(view).__name__ in REQUIRED
        if request.user.is_superuser:
            return True
        return bool(permission) and request.user.has_perm(permission)


def scoped(queryset: QuerySet, user, *, operator_path: str) -> QuerySet:
    """`queryset` limited to the caller's operator; `operator_path` leads to the operator id
    (for example "site__operator_id" for charge points)."""
    operator_id = operator_id_of(user)
    if operator_id is ALL_OPERATORS:
        return queryset
    return queryset.filter(**{operator_path: operator_id})


def drivers_of(user) -> QuerySet:
    """The drivers the caller's operator may bind cards to: those who charged at its
    chargers or hold one of its cards (a superuser: every driver)."""
    operator_id = operator_id_of(user)
    if operator_id is ALL_OPERATORS:
        return User.objects.filter(is_staff=False, phone__isnull=False)
    if operator_id is None:
        return User.objects.none()
    return drivers_of_operator(operator_id=operator_id)


def charge_points_of(user) -> QuerySet[ChargePoint]:
    return scoped(ChargePoint.objects.select_related("site"), user, operator_path="site__operator_id")


def charge_point_or_404(user, identity: str) -> ChargePoint:
    return get_object_or_404(charge_points_of(user), identity=identity)


def connector_or_404(charge_point: ChargePoint, connector_id: int) -> Connector:
    return get_object_or_404(
        Connector.objects.select_related("evse"), charge_point=charge_point, connector_id=connector_id
    )


def operator_for_write(user, requested: Operator | None) -> Operator:
    """The operator a new object belongs to: the caller's own; a superuser names one."""
    operator_id = operator_id_of(user)
    if operator_id is ALL_OPERATORS:
        if requested is None:
            raise ValidationError({"operator": "A superuser must say which operator this belongs to."})
        return requested
    if requested is not None and requested.pk != operator_id:
        raise ValidationError({"operator": "You can only create objects of your own operator."})
    return Operator.objects.get(pk=operator_id)
